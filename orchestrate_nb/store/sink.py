"""Where a reporter's batches are written: the database, opened (and reopened) here.

``LocalSink`` is the writing half of the store's reporter, whichever process it runs in: the
writer process (``writer_process.py``, the default) or the reporter's own thread. It opens
the database on first use, runs crash recovery when asked, writes each batch through a
``BatchWriter`` and tells, for each batch, which flow runs it finished (their alerts).
A store that cannot be opened is said once, in one line, and tried again every
``REOPEN_INTERVAL`` seconds; meanwhile its batches are counted as lost. Flow runs that
reach a final state (or that recovery marks Crashed) are handed, once committed, to the
engine's ``run_finished`` port: their alerts are evaluated and sent from this process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from orchestrate_nb.core.events import RunEvent, StateChanged
from orchestrate_nb.errors import StoreError
from orchestrate_nb.processes import ProcessIdentity
from orchestrate_nb.settings import Settings
from orchestrate_nb.store.batch import FINAL_STATE_TYPES
from orchestrate_nb.store.database import Database, open_database
from orchestrate_nb.store.failures import Failure, StoreStatus, classify, is_transient, reason
from orchestrate_nb.store.recovery import recover_crashed_runs
from orchestrate_nb.store.writer import BatchWriter

log = logging.getLogger("orchestrate_nb.store")
REOPEN_INTERVAL = 10.0  # seconds between attempts to open a store that could not be opened


class LocalSink:
    """Writes batches of RunEvents to the database, owned by ``owner``."""

    def __init__(self, settings: Settings, owner: ProcessIdentity,
                 retry_window: float = 120.0) -> None:
        self.settings = settings
        self.owner = owner
        self.retry_window = retry_window
        self.status = StoreStatus(settings.database_url)
        self.writer: BatchWriter | None = None
        self._open_failure: BaseException | None = None
        self._next_open = 0.0

    @property
    def lost(self) -> int:
        return self.status.lost

    def open(self, recover: bool) -> None:
        """Open (and migrate) the database; with ``recover``, mark the runs of dead processes
        Crashed."""
        if self._open() is None or not recover:
            return
        try:
            recovered = recover_crashed_runs(self.writer.database)  # type: ignore[union-attr]
        except Exception as exc:  # the next reporter tries again
            if classify(exc) is Failure.CORRUPT:
                self.status.lose((), exc)
            else:
                log.warning("run store crash recovery skipped: %s", reason(exc),
                            exc_info=classify(exc) is Failure.BAD_DATA)
            return
        _hand_over(self.settings, list(recovered.flow_run_ids))  # crashed runs have alerts too

    def write(self, events: Sequence[RunEvent], durable: bool = True) -> None:
        """Write ``events`` (never raises: what cannot be written is said and counted);
        ``durable``: see ``BatchWriter.write``."""
        status = self.status
        if status.corrupt:  # said once; a damaged file is never written to again
            status.lost += len(events)
            return
        writer = self.writer or self._open()
        if writer is None:
            status.lose(events, self._open_failure or RuntimeError("not opened"), opening=True)
            return
        writer.write(events, durable)
        _hand_over(self.settings, finished_flow_runs(events))

    def make_durable(self) -> None:
        if self.writer is not None:
            self.writer.make_durable()

    def heartbeat(self) -> None:
        writer = self.writer
        if writer is not None and writer.has_open_runs and not writer.status.corrupt:
            try:
                writer.heartbeat()
            except Exception as exc:
                log.debug("run store heartbeat failed: %s", exc)

    def dispose(self) -> None:
        if self.writer is not None:
            self.writer.database.dispose()

    def _open(self) -> BatchWriter | None:
        status = self.status
        if status.corrupt or time.monotonic() < self._next_open:
            return None
        try:
            database = self._open_database_retrying()
        except Exception as exc:
            self._open_failure = exc
            self._next_open = time.monotonic() + REOPEN_INTERVAL
            status.lose((), exc, opening=True)  # says it now, while the flow still runs
            return None
        self.writer = BatchWriter(database, self.owner, self.retry_window, status)
        return self.writer

    def _open_database_retrying(self) -> Database:
        """A database that is busy migrating (or restarting) is waited for, up to the window."""
        deadline = time.monotonic() + self.retry_window
        delay = 0.1
        while True:
            try:
                return open_database(self.settings)
            except StoreError as exc:
                cause = exc.__cause__
                if cause is None or not is_transient(cause) or time.monotonic() + delay > deadline:
                    raise
                log.debug("run store not reachable yet, retrying in %.1f s: %s", delay, cause)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def _hand_over(settings: Settings, finished: list[str]) -> None:
    """To the ``run_finished`` port (alerts): returns at once, never fails the writer."""
    if not finished:
        return
    try:
        from orchestrate_nb.engine import ports

        ports.load("run_finished")(settings, finished)
    except Exception:
        log.exception("handing finished runs to the alerts failed")


def finished_flow_runs(events: Sequence[RunEvent]) -> list[str]:
    """The flow runs ``events`` put in a final state."""
    return [e.run_id for e in events if type(e) is StateChanged and e.kind == "flow"
            and e.state_type in FINAL_STATE_TYPES]
