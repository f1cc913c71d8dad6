"""The store's RunReporter: ``emit`` appends to a deque; a daemon thread writes batches.

The caller's thread pays one ``deque.append`` and a length check per event (no lock, no
I/O, cannot raise). The writer thread wakes every ``poll_interval`` (or at once on ``flush``,
or when ``batch_size`` events wait), drains up to ``batch_size`` events and writes them in one
transaction. Events are never dropped for being many: when ``max_backlog`` wait, the emitter
waits until the writer has taken half of them (backpressure keeps the store's memory bounded
however many tasks a flow maps), unless the writer has made no progress for
``settings.flush_wait`` seconds (a stuck store must not stop the flow: the queue grows then).
``flush`` appends a marker and waits until the batch that carried it is committed, so when
a flow call returns its runs and logs are in the database.

A store that cannot record never holds a flow up for long: ``flush`` returns at once when the
store is known to be unreachable (said in one line, see ``failures.py``), and after
``settings.flush_wait`` seconds without a committed batch (a lock held elsewhere); what is
still queued is written in the background.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

from orchestrate_nb.core.events import LogEmitted, RunEvent, StateChanged
from orchestrate_nb.errors import StoreError
from orchestrate_nb.secret_masking import has_secrets, mask_secrets
from orchestrate_nb.settings import Settings

if TYPE_CHECKING:  # the store's modules import SQLAlchemy: loaded on the writer thread only
    from orchestrate_nb.store.database import Database
    from orchestrate_nb.store.failures import StoreStatus
    from orchestrate_nb.store.writer import BatchWriter

log = logging.getLogger("orchestrate_nb.store")
_FINAL_FLOW_STATES = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
REOPEN_INTERVAL = 10.0  # seconds between attempts to open a store that could not be opened


class _FlushMarker:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class StoreReporter:
    """Records RunEvents in the run store without slowing the runs that emit them."""

    def __init__(self, settings: Settings, *, batch_size: int = 2_000,
                 poll_interval: float = 0.2, heartbeat_interval: float = 5.0,
                 retry_window: float = 120.0, max_backlog: int = 4_000) -> None:
        self.settings = settings
        self.batch_size = batch_size
        self.max_backlog = max(max_backlog, batch_size)
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.retry_window = retry_window
        self._writer: BatchWriter | None = None  # created on the writer thread
        self._status: StoreStatus | None = None  # created on the writer thread
        self._open_failure: BaseException | None = None
        self._next_open = 0.0
        self._progress_at = time.monotonic()  # when a batch was last written (or given up)
        self._room = threading.Event()  # set by the writer whenever it has taken a batch
        self._stalled_at: float | None = None  # the _progress_at backpressure gave up at
        self._start(open_now=True)
        atexit.register(self._at_exit)
        _register_fork_handler(self)

    def _start(self, open_now: bool) -> None:
        self._open_now = open_now
        self._queue: deque[Any] = deque()
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="orchestrate_nb-store-writer",
                                        daemon=True)
        self._thread.start()

    # -- the RunReporter protocol ------------------------------------------------------
    def emit(self, event: RunEvent) -> None:
        queue = self._queue
        queue.append(event)  # atomic and lock-free: the writer thread pops from the other end
        if len(queue) >= self.batch_size:
            self._wait_for_room(queue)

    def _wait_for_room(self, queue: deque[Any]) -> None:
        """Wake the writer; past ``max_backlog``, wait until it has taken half the backlog."""
        if not self._wake.is_set():
            self._wake.set()
        if len(queue) < self.max_backlog or threading.current_thread() is self._thread:
            return
        if self._stalled_at == self._progress_at:  # gave up on this writer: no new progress
            return
        started = time.monotonic()
        while len(queue) > self.max_backlog // 2 and self._thread.is_alive():
            self._room.clear()
            self._wake.set()
            self._room.wait(0.05)
            if time.monotonic() - max(started, self._progress_at) >= self.settings.flush_wait:
                self._stalled_at = self._progress_at  # a stuck store: let the queue grow
                return

    def flush(self, timeout: float | None = None) -> None:
        """Block until every event emitted before this call is committed, or given up.

        Without ``timeout``, give up after ``settings.flush_wait`` seconds in which no batch
        was written (the store is stuck); with one, after ``timeout`` seconds in all.
        """
        if threading.current_thread() is self._thread:
            return
        marker = _FlushMarker()
        self._queue.append(marker)
        self._wake.set()
        started = time.monotonic()
        while not marker.done.wait(0.05):
            if not self._thread.is_alive():  # nothing will write it any more
                return
            now = time.monotonic()
            if timeout is not None and now - started >= timeout:
                log.warning("run store flush timed out after %s s; writing continues", timeout)
                return
            if timeout is None and now - max(started, self._progress_at) >= self.settings.flush_wait:
                log.warning("run store at %s made no progress for %s s; this run's history is "
                            "written in the background", self.settings.masked_database_url,
                            self.settings.flush_wait)
                return

    def close(self, timeout: float | None = None) -> None:
        """Write everything emitted so far, stop the writer thread, release the database."""
        if self._closing:
            return
        self.flush(timeout)
        self._closing = True
        self._wake.set()
        # A store that is stuck must not hold the interpreter's exit: what the writer has not
        # written by then is lost with its daemon thread.
        self._thread.join(self.settings.flush_wait if timeout is None else timeout)
        atexit.unregister(self._at_exit)
        if self._queue and not self._thread.is_alive():
            self._drain()  # events emitted while closing
        if self._writer is not None and not self._thread.is_alive():
            self._writer.database.dispose()

    @property
    def lost_events(self) -> int:
        """Events that could not be recorded (said on ``orchestrate_nb.store``)."""
        return self._status.lost if self._status is not None else 0

    # -- the writer thread -------------------------------------------------------------
    def _run(self) -> None:
        # The store's modules are imported here, beside the flow, to keep them off its start
        # (SQLAlchemy takes ~170 ms). Import the package itself first: a thread whose first
        # import is a submodule (``sqlalchemy.engine``) holds that submodule's lock while it
        # waits for the package, and if the flow's thread is importing the package at that
        # moment (an artifact, a user's ``import sqlalchemy`` in a task), Python breaks the
        # deadlock by handing one of them a half-initialised module (ImportError).
        import sqlalchemy  # noqa: F401

        if self._open_now:  # crash recovery runs when the reporter is created
            try:
                self._open_writer()
            except Exception:  # a bug, not an unreachable store (that is said in one line)
                log.exception("run store writer failed to start; retrying on the next batch")
        next_heartbeat = time.monotonic() + self.heartbeat_interval
        while True:
            self._wake.wait(self.poll_interval)
            self._wake.clear()
            try:
                self._drain()
                if time.monotonic() >= next_heartbeat:
                    next_heartbeat = time.monotonic() + self.heartbeat_interval
                    self._heartbeat()
            except Exception:  # the writer must outlive any bug: flushes depend on it
                log.exception("run store writer failed; continuing")
            if self._closing and not self._queue:
                return

    def _drain(self) -> None:
        while self._queue:
            events, markers = self._take_batch()
            self._room.set()  # the emitters waiting on a full queue may go on
            if events:
                self._write(events)
                self._hand_over_finished_runs(events)
            self._progress_at = time.monotonic()
            for marker in markers:
                marker.done.set()

    def _hand_over_finished_runs(self, events: list[RunEvent]) -> None:
        """Flow runs that reached a final state go to the ``run_finished`` port (alerts),
        once their state is committed; never blocking nor failing this thread."""
        finished = [e.run_id for e in events if type(e) is StateChanged and e.kind == "flow"
                    and e.state_type in _FINAL_FLOW_STATES]
        if self._writer is not None:
            self._hand_over(finished)

    def _hand_over(self, finished: list[str]) -> None:
        if not finished:
            return
        try:
            from orchestrate_nb.engine import ports

            ports.load("run_finished")(self.settings, finished)
        except Exception:
            log.exception("handing finished runs to the alerts failed")

    def _take_batch(self) -> tuple[list[RunEvent], list[_FlushMarker]]:
        events: list[RunEvent] = []
        markers: list[_FlushMarker] = []
        popleft = self._queue.popleft
        for _ in range(min(self.batch_size, len(self._queue))):
            item = popleft()
            (markers if type(item) is _FlushMarker else events).append(item)
        return events, markers

    def _write(self, events: list[RunEvent]) -> None:
        status = self._store_status()
        if status.corrupt:  # said once; a damaged file is never written to again
            status.lost += len(events)
            return
        writer = self._writer or self._open_writer()
        if writer is None:
            status.lose(events, self._open_failure or RuntimeError("not opened"), opening=True)
            return
        if has_secrets():  # a secret loaded in this process never reaches the store
            events = [_masked(event) for event in events]
        writer.write(events)

    def _store_status(self) -> StoreStatus:
        if self._status is None:
            from orchestrate_nb.store.failures import StoreStatus

            self._status = StoreStatus(self.settings.database_url)
        return self._status

    def _open_writer(self) -> BatchWriter | None:
        """Open (and migrate) the database, recover crashed runs; None if it cannot."""
        from orchestrate_nb.processes import current_process
        from orchestrate_nb.store.failures import Failure, classify, reason
        from orchestrate_nb.store.recovery import recover_crashed_runs
        from orchestrate_nb.store.writer import BatchWriter

        status = self._store_status()
        if status.corrupt or time.monotonic() < self._next_open:
            return None
        try:
            database = self._open_database_retrying()
        except Exception as exc:
            self._open_failure = exc
            self._next_open = time.monotonic() + REOPEN_INTERVAL
            status.lose((), exc, opening=True)  # says it now, while the flow still runs
            return None
        try:
            recovered = recover_crashed_runs(database)
        except Exception as exc:  # the next open tries again
            if classify(exc) is Failure.CORRUPT:
                database.dispose()
                status.lose((), exc)
                return None
            log.warning("run store crash recovery skipped: %s", reason(exc),
                        exc_info=classify(exc) is Failure.BAD_DATA)
        else:
            self._hand_over(list(recovered.flow_run_ids))  # crashed runs have alerts too
        self._writer = BatchWriter(database, current_process(), self.retry_window, status)
        return self._writer

    def _open_database_retrying(self) -> Database:
        """A database that is busy migrating (or restarting) is waited for, up to the window."""
        from orchestrate_nb.store.database import open_database
        from orchestrate_nb.store.failures import is_transient

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

    def _heartbeat(self) -> None:
        writer = self._writer
        if writer is not None and writer.has_open_runs and not writer.status.corrupt:
            try:
                writer.heartbeat()
            except Exception as exc:
                log.debug("run store heartbeat failed: %s", exc)

    def _at_exit(self) -> None:
        self.close()

    # -- fork ----------------------------------------------------------------------------
    def _after_fork_in_child(self) -> None:
        """The child has no writer thread and must not share the parent's connections."""
        if self._writer is not None:
            self._writer.database.engine.dispose(close=False)
        self._writer = None
        self._status, self._next_open = None, 0.0  # the child counts and says its own
        # A fresh queue (the parent's pending events are the parent's to write); the database
        # is opened only if the child records something.
        self._start(open_now=False)


def _masked(event: RunEvent) -> RunEvent:
    if type(event) is StateChanged and event.message:
        return event._replace(message=mask_secrets(event.message))
    if type(event) is LogEmitted:
        return event._replace(message=mask_secrets(event.message))
    return event


def _register_fork_handler(reporter: StoreReporter) -> None:
    if not hasattr(os, "register_at_fork"):
        return
    ref = weakref.ref(reporter)

    def after_in_child() -> None:
        alive = ref()
        if alive is not None and not alive._closing:
            alive._after_fork_in_child()

    os.register_at_fork(after_in_child=after_in_child)


def create_store_reporter(settings: Settings) -> StoreReporter:
    """The factory ``orchestrate_nb.engine.reporting`` loads lazily, by import string."""
    return StoreReporter(settings)
