"""The store's RunReporter: ``emit`` appends to a deque; batches go to a writer.

The writer is, by default, a writer process (``writer_process.py``, through
``remote.ProcessSink``): every ``SEND_AT`` events the emitting thread itself pickles the
queue and writes it to a pipe (a few µs, never blocking: a full pipe leaves the work to the
writer thread), so the SQL work runs on another core and the flow's process never loads
SQLAlchemy. With ``writer="thread"`` (and in a forked child, or if the writer process cannot
start or dies) the reporter's own writer thread writes the batches through a ``LocalSink``.

The caller's thread otherwise pays one ``deque.append`` and a length check per event (no
lock, no I/O, cannot raise). The writer thread wakes every ``poll_interval`` (or at once on
``flush``, or when a batch waits), drains up to ``batch_size`` events and writes them in one
transaction (or hands them over). Events are never dropped for being many: when
``max_backlog`` wait, the emitter waits until the writer has taken half of them (backpressure
keeps the store's memory bounded however many tasks a flow maps), unless the writer has made
no progress for ``settings.flush_wait`` seconds (a stuck store must not stop the flow: the
queue grows then). ``flush`` appends a marker and waits until the batch that carried it is
committed (a writer process acknowledges it), so when a flow call returns its runs and logs
are in the database.

A store that cannot record never holds a flow up for long: ``flush`` returns at once when the
store is known to be unreachable (said in one line, see ``failures.py``; a writer process
sends its lines here to be logged), and after ``settings.flush_wait`` seconds without a
committed batch (a lock held elsewhere); what is still queued is written in the background.
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
from orchestrate_nb.processes import current_process
from orchestrate_nb.secret_masking import has_secrets, mask_secrets
from orchestrate_nb.settings import Settings
from orchestrate_nb.store.remote import ProcessSink

if TYPE_CHECKING:  # the store's modules import SQLAlchemy: loaded on the writer thread only
    from orchestrate_nb.store.sink import LocalSink

log = logging.getLogger("orchestrate_nb.store")
SEND_AT = 64  # events an emitting thread hands over to a writer process at a time
WRITER_EXIT_WAIT = 1.0  # seconds a closing reporter waits for its writer process to exit


class _FlushMarker:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class StoreReporter:
    """Records RunEvents in the run store without slowing the runs that emit them.

    ``writer="process"`` (``settings.store_writer``, the default) writes through a writer
    process; ``"thread"`` on this process's writer thread (a forked child always does: it
    has the parent's modules loaded, and is often short-lived).
    """

    def __init__(self, settings: Settings, *, batch_size: int = 2_000,
                 poll_interval: float = 0.2, heartbeat_interval: float = 5.0,
                 retry_window: float = 120.0, max_backlog: int = 4_000,
                 writer: str | None = None) -> None:
        self.settings = settings
        self.batch_size = batch_size
        self.max_backlog = max(max_backlog, batch_size)
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.retry_window = retry_window
        self.writer = writer or settings.store_writer
        self._local: LocalSink | None = None  # created on the writer thread
        self._remote: ProcessSink | None = None
        self._remote_lost = 0
        self._markers: deque[tuple[int, _FlushMarker]] = deque()  # waiting for an ack
        self._marker_lock = threading.Lock()
        self._send_lock = threading.Lock()  # one thread at a time hands batches over
        self._sent_at = 0.0  # when a batch was last handed to the writer process
        self._flushes = 0  # flush markers in the queue (they need the writer thread)
        self._progress_at = time.monotonic()  # when a batch was last written (or given up)
        self._room = threading.Event()  # set by the writer whenever it has taken a batch
        self._stalled_at: float | None = None  # the _progress_at backpressure gave up at
        self._start(open_now=True)
        atexit.register(self._at_exit)
        _register_fork_handler(self)

    def _start(self, open_now: bool) -> None:
        self._open_now = open_now
        self._queue: deque[Any] = deque()
        # The writer process should start on a batch as soon as there is a fair one: it
        # works beside the flow, so what it has not been given yet is the final flush.
        self._wake_at = self.batch_size if self.writer != "process" else min(self.batch_size,
                                                                               SEND_AT)
        self._wake = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="orchestrate_nb-store-writer",
                                        daemon=True)
        self._thread.start()

    # -- the RunReporter protocol ------------------------------------------------------
    def emit(self, event: RunEvent) -> None:
        queue = self._queue
        queue.append(event)  # atomic and lock-free: the writer thread pops from the other end
        if len(queue) >= self._wake_at:
            if self._remote is not None:
                self._send_now(queue)
            else:
                self._wait_for_room(queue)

    def _send_now(self, queue: deque[Any]) -> None:
        """Hand the queue to the writer process from the emitting thread itself: waking the
        writer thread would cost up to a switch interval (5 ms) of the GIL each time, which
        is what the writer process has left to write when the flow returns. Nothing here
        blocks: a full pipe, or another thread sending, leaves the work to the writer thread."""
        remote = self._remote
        if remote is None or remote.dead or remote.outbox or threading.current_thread() is \
                self._thread:
            self._wait_for_room(queue)  # (the writer thread's work)
            return
        if not self._send_lock.acquire(blocking=False):  # another thread is handing over
            if len(queue) >= self.max_backlog:  # ... but not fast enough: wait for it
                self._wait_for_room(queue)
            return
        try:
            if self._remote is remote:
                self._send_batches(remote, wait=False)
        finally:
            self._send_lock.release()
        if remote.outbox:
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
        with self._marker_lock:
            self._flushes += 1
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
        wait = self.settings.flush_wait if timeout is None else timeout
        # A store that is stuck must not hold the interpreter's exit: what the writer has not
        # written by then is lost with its daemon thread (a writer process goes on with it).
        self._thread.join(wait)
        atexit.unregister(self._at_exit)
        if self._queue and not self._thread.is_alive():
            self._drain()  # events emitted while closing
        if not self._thread.is_alive():
            if self._remote is not None:  # (what it is given is written: no need to wait)
                self._remote.close(min(wait, WRITER_EXIT_WAIT))
            if self._local is not None:
                self._local.dispose()

    @property
    def lost_events(self) -> int:
        """Events that could not be recorded (said on ``orchestrate_nb.store``)."""
        return self._remote_lost + (self._local.lost if self._local is not None else 0)

    @property
    def writer_pid(self) -> int | None:
        """The writer process's pid (None: this process writes, or has not started one)."""
        remote = self._remote
        return remote.pid if remote is not None and not remote.dead else None

    # -- the writer thread -------------------------------------------------------------
    def _run(self) -> None:
        if self._open_now or self.writer == "process":
            self._open_sink()
        next_heartbeat = time.monotonic() + self.heartbeat_interval
        while True:
            self._wake.wait(self.poll_interval)
            self._wake.clear()
            try:
                self._drain()
                if time.monotonic() >= next_heartbeat:
                    next_heartbeat = time.monotonic() + self.heartbeat_interval
                    if self._local is not None and self._remote is None:
                        self._local.heartbeat()  # (a writer process heartbeats on its own)
            except Exception:  # the writer must outlive any bug: flushes depend on it
                log.exception("run store writer failed; continuing")
            if self._closing and not self._queue:
                return

    def _open_sink(self) -> None:
        """Start the writer process, or open the database here (crash recovery included when
        the reporter is created, not after a fork)."""
        if self.writer == "process":
            remote = ProcessSink(self._acknowledged, self._wake.set)
            try:
                remote.start(self.settings, current_process(), self._open_now,
                             self.retry_window, self.heartbeat_interval)
            except OSError as exc:
                log.warning("run store writer process could not start (%s); writing from this "
                            "process", exc)
            else:
                self._remote = remote
                return
        self._open_local(self._open_now)

    def _open_local(self, recover: bool) -> LocalSink:
        # The store's modules are imported here, beside the flow, to keep them off its start
        # (SQLAlchemy takes ~170 ms). Import the package itself first: a thread whose first
        # import is a submodule (``sqlalchemy.engine``) holds that submodule's lock while it
        # waits for the package, and if the flow's thread is importing the package at that
        # moment (an artifact, a user's ``import sqlalchemy`` in a task), Python breaks the
        # deadlock by handing one of them a half-initialised module (ImportError).
        import sqlalchemy  # noqa: F401

        from orchestrate_nb.store.sink import LocalSink

        self._local = LocalSink(self.settings, current_process(), self.retry_window)
        try:
            self._local.open(recover)
        except Exception:  # a bug, not an unreachable store (that is said in one line)
            log.exception("run store writer failed to start; retrying on the next batch")
        return self._local

    def _drain(self) -> None:
        remote = self._remote
        if remote is not None:
            if not (self._flushes or remote.outbox or remote.dead or self._closing) and \
                    time.monotonic() - self._sent_at < self.poll_interval:
                # The flow's threads are handing events over themselves: taking the GIL
                # (and the send lock) here would only hold them up.
                return
            with self._send_lock:
                remote.send_outbox()
                self._send_batches(remote, wait=True)
                if remote.dead:
                    self._fall_back()
            if self._remote is not None:
                return
        while self._queue:
            events, markers = self._take_batch()
            self._room.set()  # the emitters waiting on a full queue may go on
            if events:
                self._write(events)
            self._progress_at = time.monotonic()
            for marker in markers:
                marker.done.set()

    def _send_batches(self, remote: ProcessSink, wait: bool) -> None:
        """To the writer process (holding ``_send_lock``); without ``wait``, until the pipe
        is full. A flush marker is done when the batches before it are acknowledged."""
        while self._queue:
            events, markers = self._take_batch()
            self._room.set()
            if events:
                if has_secrets():  # a secret loaded in this process never reaches the store
                    events = [_masked(event) for event in events]
                remote.write(events, wait)
            self._sent_at = time.monotonic()
            if markers:
                with self._marker_lock:
                    self._markers.extend((remote.sent, marker) for marker in markers)
                    self._release_markers(remote.acked)
                if self._markers:
                    remote.sync()
            if remote.outbox and not wait:
                return

    def _acknowledged(self, seq: int, lost: int) -> None:
        """On the acknowledgement reader's thread: batches up to ``seq`` are committed."""
        self._remote_lost = lost
        self._progress_at = time.monotonic()
        with self._marker_lock:
            self._release_markers(seq)

    def _release_markers(self, acked: int) -> None:
        markers = self._markers
        while markers and markers[0][0] <= acked:
            markers.popleft()[1].done.set()

    def _fall_back(self) -> None:
        """The writer process has gone (holding ``_send_lock``): write here what it did not
        acknowledge, then the rest."""
        remote, self._remote = self._remote, None
        if remote is None:
            return
        log.warning("run store writer process %s exited; writing from this process", remote.pid)
        local = self._local or self._open_local(recover=False)
        for events in remote.take_unacknowledged():
            local.write(events)
        self._progress_at = time.monotonic()
        with self._marker_lock:
            self._release_markers(remote.sent)

    def _take_batch(self) -> tuple[list[RunEvent], list[_FlushMarker]]:
        events: list[RunEvent] = []
        markers: list[_FlushMarker] = []
        popleft = self._queue.popleft
        for _ in range(min(self.batch_size, len(self._queue))):
            item = popleft()
            (markers if type(item) is _FlushMarker else events).append(item)
        if markers:
            with self._marker_lock:
                self._flushes -= len(markers)
        return events, markers

    def _write(self, events: list[RunEvent]) -> None:
        if has_secrets():  # a secret loaded in this process never reaches the store
            events = [_masked(event) for event in events]
        (self._local or self._open_local(recover=False)).write(events)

    def _at_exit(self) -> None:
        self.close()

    # -- fork ----------------------------------------------------------------------------
    def _after_fork_in_child(self) -> None:
        """The child has no writer thread and must not share the parent's connections."""
        if self._local is not None and self._local.writer is not None:
            self._local.writer.database.engine.dispose(close=False)
        if self._remote is not None:
            self._remote.forget_after_fork()
        self._local = self._remote = None
        self._remote_lost = 0
        self._markers = deque()
        self._marker_lock, self._send_lock = threading.Lock(), threading.Lock()
        self._flushes, self._sent_at = 0, 0.0
        self.writer = "thread"
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
