"""What a failed database call means for the writer: retry it, give up on the store, or on one event.

Only lock contention and dropped connections are worth retrying: a refused connection, a
wrong database name, a full disk or an unwritable file do not fix themselves within a flow
run, so waiting on them only keeps the user waiting. A corrupt SQLite file is worse: writing
to it can only make it worse, so the process stops writing to it for good.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from orchestrate_nb.settings import mask_url

log = logging.getLogger("orchestrate_nb.store")


class Failure(enum.Enum):
    TRANSIENT = "transient"  # locked, busy, a dropped connection: retry with backoff
    UNAVAILABLE = "unavailable"  # the store cannot be reached or written: stop waiting on it
    CORRUPT = "corrupt"  # a damaged SQLite file: never write to it again in this process
    BAD_DATA = "bad data"  # this batch (one of its events) is at fault, not the store


# PostgreSQL SQLSTATEs: serialization failure, deadlock, lock timeout; a connection the
# server terminated (admin shutdown, crash shutdown) or refused while starting up.
_PG_TRANSIENT = frozenset({"40001", "40P01", "55P03", "57P01", "57P02", "57P03"})
_SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED")
_SQLITE_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_CORRUPT_MESSAGES = ("malformed", "file is not a database")


def classify(exc: BaseException) -> Failure:
    """The kind of ``exc`` (raised by a store call, possibly wrapped in a ``StoreError``)."""
    while not isinstance(exc, DBAPIError | PoolTimeoutError) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, PoolTimeoutError | TimeoutError):
        return Failure.TRANSIENT
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return Failure.TRANSIENT
    original = getattr(exc, "orig", None) or exc
    if type(original).__module__.startswith("sqlite3"):
        kind = _classify_sqlite(original)
        if kind is not None:
            return kind
    elif getattr(original, "sqlstate", None) in _PG_TRANSIENT:
        return Failure.TRANSIENT
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | OSError):
        return Failure.UNAVAILABLE
    return Failure.BAD_DATA


def _classify_sqlite(error: BaseException) -> Failure | None:
    # sqlite_errorname is Python 3.11+; the messages are SQLite's own, for 3.10.
    name = str(getattr(error, "sqlite_errorname", ""))
    message = str(error).lower()
    if name.startswith(_SQLITE_CORRUPT) or any(m in message for m in _CORRUPT_MESSAGES):
        return Failure.CORRUPT
    if name.startswith(_SQLITE_TRANSIENT) or "database is locked" in message:
        return Failure.TRANSIENT
    return None


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: locks and lost connections, not bad data or a store that is down."""
    return classify(exc) is Failure.TRANSIENT


def reason(exc: BaseException) -> str:
    """The first line of the driver's message: the part a user can act on."""
    original = getattr(exc.__cause__, "orig", None) or getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines()
    return lines[0] if lines else type(original).__name__


class StoreStatus:
    """Counts what could not be recorded and tells the user once, in one line, why.

    One line when the store stops recording (with the URL's password masked), one when it
    records again; a corrupt file is named with what to do about it. Tracebacks only for a
    bad event (a bug worth reporting); bound SQL parameters never (the engines hide them).
    """

    def __init__(self, database_url: str) -> None:
        self.display_url = mask_url(database_url)
        self.down = False
        self.corrupt = False
        self.lost = 0
        self._bad_data_logged = False
        try:
            url = make_url(database_url)
            self.sqlite_path = url.database if url.get_backend_name() == "sqlite" else None
        except Exception:  # an unparseable URL fails to open, and is reported then
            self.sqlite_path = None

    def lose(self, events: Sequence[object], exc: BaseException, *, opening: bool = False) -> None:
        """``events`` were not recorded because of ``exc``."""
        self.lost += len(events)
        kind = classify(exc)
        if kind is Failure.BAD_DATA and not opening:
            self._log_bad_data(events, exc)
        elif kind is Failure.CORRUPT:
            if not self.corrupt:
                where = self.sqlite_path or self.display_url
                log.error("run store %s is corrupt (%s): nothing more is recorded by this "
                          "process; move it aside (the next run creates a new store), or "
                          "recover what it holds: sqlite3 %s .recover | sqlite3 recovered.db",
                          where, reason(exc), where)
            self.corrupt = self.down = True
        elif not self.down:
            log.error("run store unreachable at %s: this run's history is not being recorded "
                      "(%s)", self.display_url, reason(exc))
            self.down = True

    def recorded(self) -> None:
        """A write succeeded: the store works (again)."""
        if self.down:
            self.down = False
            log.warning("run store at %s records again (%d event(s) were not recorded)",
                        self.display_url, self.lost)

    def _log_bad_data(self, events: Sequence[object], exc: BaseException) -> None:
        if not self._bad_data_logged:
            self._bad_data_logged = True
            # The event's kind and run, not its repr: that holds parameters and log lines.
            log.error("run store at %s could not record a %s of run %s; run history will be "
                      "incomplete", self.display_url, type(events[0]).__name__,
                      getattr(events[0], "id", None) or getattr(events[0], "run_id", "?"),
                      exc_info=exc)
        else:
            log.error("run store could not record %d more event(s): %s", len(events), reason(exc))
