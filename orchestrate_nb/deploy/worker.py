"""The worker executes: it claims due runs of a pool and runs each in a child process.

Each iteration (``Worker.loop(now)``; tests pass the time) does, in order:

1. a scheduler pass (``schedule_due_runs``), so schedules fire with no other process (at
   most every ``maintenance_seconds``, 1 s: the scheduler pre-creates each next run, so a
   run is claimable the moment it is due whenever the pass runs);
2. a reaper pass (``deploy/reaper.py``): runs of dead workers → CRASHED, retries created
   (as often as the scheduler pass), then an alert pass (``alerts/maintenance.py``): runs
   that ended, crashed or went late, quiet deployments, deliveries due for a retry;
3. polls its children: a run whose state became CANCELLING has its child's process group
   killed and ends CANCELLED; a run past its deployment's ``timeout_seconds`` is killed and
   ends FAILED; a child that exited leaving its run active ends it CRASHED;
4. heartbeats its runs and itself (every ``heartbeat_seconds``: ``store/workers.py``);
5. claims due runs (``store/claims.py``) up to ``limit`` running at once, and starts a
   process for each (``deploy/launcher.py``: forked from a zygote that has the engine, the
   store and papermill imported, in a session of its own, output to
   ``ORCHESTRATE_NB_HOME/runs/<run id>.log``) that runs ``execute.main([run_id])``.

``run_forever`` repeats this every ``poll`` seconds (0.25: a due run starts within 1 s), at
once when one of its runs' processes exits (a freed slot is refilled without delay), and at
the due time of the earliest scheduled run of its pool (a run the scheduler pre-created
starts when it is due, not up to a poll later).
It logs (``orchestrate_nb.worker``) a line for each run it claims and each run that ends
(``EndedRun``: name, state, duration, the message's first line unless it completed).
With ``run_once`` it claims in its first iteration only and returns once its children end;
if the store stays unreachable it gives up with a one-line error instead of retrying forever.
``run_forever`` registers the worker in the store's ``workers`` table (id
``host:pid:token``) and marks it stopped when it returns, so ``worker ls`` and the server
extension's ``GET workers`` can tell who runs what.
On SIGTERM/SIGINT (or ``stop_event``) it stops claiming, waits up to ``grace_seconds`` for
its children, then kills the rest: their runs end CRASHED ("worker stopped"), so a
deployment's retries apply to them as to any crash.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_for_objects
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from orchestrate_nb.deploy.launcher import RunProcess, warm_up
from orchestrate_nb.deploy.reaper import reap
from orchestrate_nb.deploy.scheduler import schedule_due_runs, utcnow
from orchestrate_nb.errors import StoreError
from orchestrate_nb.private_files import private_dir
from orchestrate_nb.processes import ProcessIdentity, current_process
from orchestrate_nb.settings import load_settings
from orchestrate_nb.store import claims
from orchestrate_nb.store import workers as worker_rows
from orchestrate_nb.store.database import Database
from orchestrate_nb.store.orm import Deployment, FlowRun

if TYPE_CHECKING:
    from orchestrate_nb.alerts.maintenance import AlertMaintenance

logger = logging.getLogger("orchestrate_nb.worker")
POLL_SECONDS = 0.25
RUN_ONCE_ATTEMPTS = 10  # a --run-once worker gives up when the store stays unreachable
FAILURE_WAIT_SECONDS = 1.0  # between iterations that failed


@dataclass
class Child:
    run_id: str
    process: RunProcess
    deadline: float | None  # monotonic time the run times out at


@dataclass(frozen=True)
class EndedRun:
    """A run of this worker that ended, as its start and finish lines describe it."""

    run_id: str
    name: str
    state_type: str
    state_name: str
    message: str | None
    seconds: float | None

    @property
    def log(self) -> Path:
        return run_log_path(self.run_id)

    def describe(self) -> str:
        took = "" if self.seconds is None else f" in {self.seconds:.1f} s"
        message = (self.message or "").strip().splitlines()
        why = f": {message[0]}" if message and self.state_type != "COMPLETED" else ""
        return f"run {self.run_id[:8]} {self.name} ended {self.state_name}{took}{why}"


@dataclass
class Worker:
    database: Database
    pool: str = "default"
    limit: int = 4
    run_once: bool = False
    heartbeat_seconds: float = 5.0
    grace_seconds: float = 30.0
    identity: ProcessIdentity = field(default_factory=current_process)
    children: dict[str, Child] = field(default_factory=dict)
    ended: list[EndedRun] = field(default_factory=list)  # with run_once: its runs that ended
    maintenance_seconds: float = 1.0  # how often to run the scheduler and the reaper
    _claimed_once: bool = False
    _last_heartbeat: float = 0.0
    _last_maintenance: dt.datetime | None = None
    _next_due: dt.datetime | None = None  # of the earliest run not yet due
    _failure: str = ""
    _failing_since: float | None = None
    _last_failure_log: float = 0.0
    worker_id: str | None = None  # its row in ``workers``, once registered
    _registering: bool = False  # run_forever wants a row (a failed register is retried)
    _alerts: AlertMaintenance | None = None

    def loop(self, now: dt.datetime | None = None, claim: bool = True) -> int:
        """One iteration; returns how many runs it started."""
        now = now or utcnow()
        if self._last_maintenance is None or \
                (now - self._last_maintenance).total_seconds() >= self.maintenance_seconds:
            self._last_maintenance = now
            schedule_due_runs(self.database, now)
            reap(self.database, now)
            self._alert_pass(now)
        self._poll_children(now)
        self._heartbeat(now)
        if not claim or (self.run_once and self._claimed_once):
            return 0
        self._claimed_once = True
        return self._claim(now)

    def _alert_pass(self, now: dt.datetime) -> None:
        """Alerts on runs that ended, crashed or went late, and quiet deployments
        (``alerts/maintenance.py``): a failure here is logged, never the worker's."""
        try:
            if self._alerts is None:
                from orchestrate_nb.alerts.maintenance import AlertMaintenance

                self._alerts = AlertMaintenance(self.database)
            self._alerts.run(now)
        except Exception:
            logger.exception("alert pass failed; retrying on the next pass")

    def run_forever(self, poll: float = POLL_SECONDS,
                    stop_event: threading.Event | None = None) -> None:
        """Loop until stopped (SIGTERM/SIGINT, ``stop_event``, or ``run_once`` done); between
        iterations it waits ``poll`` seconds, or less when one of its runs' processes exits,
        so that a freed slot is filled at once."""
        stop = stop_event or threading.Event()
        previous = borrow_signals(lambda *_: stop.set())
        try:
            self.register()
            warm_up()
            failures = 0
            while not stop.is_set():
                failures = 0 if self._safe_loop() else failures + 1
                if self.run_once and self._claimed_once and not self.children:
                    self._alert_pass(utcnow())  # about the runs that just ended
                    return
                if self.run_once and not self._claimed_once and failures >= RUN_ONCE_ATTEMPTS:
                    raise StoreError(f"the worker cannot reach the run store: {self._failure}")
                if failures:
                    self._wait(max(poll, FAILURE_WAIT_SECONDS), stop, wake_on_exit=False)
                else:
                    self._wait(poll, stop)
            self.shutdown(poll)
        finally:
            self.unregister()
            restore_signals(previous)

    def register(self) -> None:
        """Record this worker in the store (a store that is down is retried at the next
        heartbeat: registering never stops a worker from starting)."""
        self._registering = True
        try:
            with self.database.write() as conn:
                self.worker_id = worker_rows.register(conn, self.identity, self.pool, utcnow())
        except Exception as exc:
            logger.warning("could not register the worker in the run store: %s",
                           " ".join(str(exc).split())[:300])

    def unregister(self) -> None:
        """Mark this worker stopped (on a clean exit)."""
        if self.worker_id is None:
            return
        try:
            with self.database.write() as conn:
                worker_rows.mark_stopped(conn, self.worker_id, utcnow())
        except Exception as exc:
            logger.warning("could not mark the worker stopped in the run store: %s",
                           " ".join(str(exc).split())[:300])

    def _wait(self, seconds: float, stop: threading.Event, wake_on_exit: bool = True) -> None:
        if wake_on_exit and self._next_due is not None and len(self.children) < self.limit:
            # wake when the next pre-created run is due, not up to a poll later
            until_due = (self._next_due - utcnow()).total_seconds()
            seconds = min(seconds, max(until_due, 0.0))
            self._next_due = None
        sentinels = {child.process.sentinel for child in self.children.values()} - {-1}
        if sentinels and wake_on_exit:
            wait_for_objects(list(sentinels), timeout=seconds)
        else:
            stop.wait(seconds)

    def _safe_loop(self, claim: bool = True) -> bool:
        """One iteration; False when it failed (logged with its traceback the first time,
        then once a minute while it keeps failing)."""
        try:
            self.loop(claim=claim)
        except Exception as exc:  # a database hiccup must not stop the worker
            self._failure = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            if self._failing_since is None:
                self._failing_since = self._last_failure_log = time.monotonic()
                logger.exception("worker iteration failed; retrying")
            elif time.monotonic() - self._last_failure_log >= 60:
                self._last_failure_log = time.monotonic()
                logger.warning("worker iterations still failing after %.0f s: %s",
                               time.monotonic() - self._failing_since, self._failure)
            return False
        if self._failing_since is not None:
            logger.info("worker iterations succeed again")
            self._failing_since = None
        return True

    def shutdown(self, poll: float = POLL_SECONDS) -> None:
        """Wait up to ``grace_seconds`` for the children, then kill the rest (CRASHED)."""
        deadline = time.monotonic() + self.grace_seconds
        while self.children and time.monotonic() < deadline:
            self._safe_loop(claim=False)
            time.sleep(poll)
        for child in list(self.children.values()):
            self._end(child, "CRASHED", "Crashed", "the worker stopped before the run finished",
                      utcnow())

    # -- children -------------------------------------------------------------------
    def _claim(self, now: dt.datetime) -> int:
        started = 0
        while len(self.children) < self.limit:
            with self.database.write() as conn:
                run = claims.claim_next_run(conn, self.pool, self.identity, now)
                found = None if run is None else conn.execute(
                    select(Deployment.timeout_seconds, FlowRun.name)
                    .join(FlowRun, FlowRun.deployment_id == Deployment.id)
                    .where(FlowRun.id == run.id)).one()
            if run is None or found is None:
                with self.database.read() as conn:
                    self._next_due = claims.next_due(conn, self.pool)
                break
            self._start(run.id, found.name, found.timeout_seconds)
            started += 1
        return started

    def _start(self, run_id: str, name: str, timeout: float | None) -> None:
        log = run_log_path(run_id)
        private_dir(log.parent)
        process = RunProcess(run_id, log)
        deadline = None if timeout is None else time.monotonic() + timeout
        self.children[run_id] = Child(run_id, process, deadline)
        logger.info("claimed run %s %s (pid %d, log %s)", run_id[:8], name, process.pid, log)

    def _poll_children(self, now: dt.datetime) -> None:
        if not self.children:
            return
        with self.database.read() as conn:
            states = claims.states_of(conn, list(self.children))
        for child in list(self.children.values()):
            state = states.get(child.run_id)
            if state == "CANCELLING":
                self._end(child, "CANCELLED", "Cancelled", "cancelled", now,
                          only_from=("CANCELLING",))
            elif child.deadline is not None and time.monotonic() > child.deadline:
                self._end(child, "FAILED", "TimedOut", "the run timed out", now)
            elif (code := child.process.poll()) is not None:
                self._end(child, "CRASHED", "Crashed",
                          f"the run's process exited with code {code} before it finished", now)

    def _end(self, child: Child, state_type: str, name: str, message: str, now: dt.datetime,
             only_from: tuple[str, ...] = claims.ACTIVE) -> None:
        """Stop the child (if still running) and end its run, unless it already ended."""
        child.process.kill()
        with self.database.write() as conn:
            claims.set_state(conn, child.run_id, state_type, name, message, now, only_from)
        del self.children[child.run_id]
        self._report_end(child.run_id)

    def _report_end(self, run_id: str) -> None:
        with self.database.read() as conn:
            row = conn.execute(select(FlowRun.name, FlowRun.state_type, FlowRun.state_name,
                                      FlowRun.state_message, FlowRun.start_time,
                                      FlowRun.end_time).where(FlowRun.id == run_id)).first()
        if row is None:  # (pruned meanwhile)
            return
        seconds = None if row.start_time is None or row.end_time is None else \
            (row.end_time - row.start_time).total_seconds()
        ended = EndedRun(run_id, row.name, row.state_type, row.state_name, row.state_message,
                         seconds)
        if self.run_once:  # (what `--run-once` exits with; a long-lived worker keeps none)
            self.ended.append(ended)
        if row.state_type == "COMPLETED":
            logger.info("%s", ended.describe())
        else:
            logger.warning("%s (log %s)", ended.describe(), ended.log)

    def _heartbeat(self, now: dt.datetime) -> None:
        if time.monotonic() - self._last_heartbeat < self.heartbeat_seconds:
            return
        if not self.children and self.worker_id is None and not self._registering:
            return
        self._last_heartbeat = time.monotonic()
        with self.database.write() as conn:
            if self.children:
                claims.heartbeat(conn, list(self.children), now)
            if self.worker_id is not None:
                worker_rows.heartbeat(conn, self.worker_id, now)
            elif self._registering:  # registering failed at start: try again
                self.worker_id = worker_rows.register(conn, self.identity, self.pool, now)


def run_log_path(run_id: str) -> Path:
    return load_settings().home / "runs" / f"{run_id}.log"


Handlers = dict[int, Callable[..., object] | int | None]


def borrow_signals(handler: Callable[[int, object], None]) -> Handlers:
    """Make SIGTERM/SIGINT call ``handler``; the handlers replaced, for ``restore_signals``.
    Off the main thread, where handlers cannot be set, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in (signal.SIGTERM, signal.SIGINT)}


def restore_signals(previous: Handlers) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
