"""The worker executes: it claims due runs of a pool and runs each in a child process.

Each iteration (``Worker.loop(now)``; tests pass the time) does, in order:

1. a scheduler pass (``schedule_due_runs``), so schedules fire with no other process;
2. a reaper pass (``deploy/reaper.py``): runs of dead workers → CRASHED, retries created;
3. polls its children: a run whose state became CANCELLING has its child's process group
   killed and ends CANCELLED; a run past its deployment's ``timeout_seconds`` is killed and
   ends FAILED; a child that exited leaving its run active ends it CRASHED;
4. heartbeats its runs (every ``heartbeat_seconds``);
5. claims due runs (``store/claims.py``) up to ``limit`` running at once, and starts
   ``python -m orchestrate_nb.deploy.execute RUN_ID`` for each, in a new session (its own
   process group), output to ``ORCHESTRATE_NB_HOME/runs/<run id>.log``.

``run_forever`` repeats this every ``poll`` seconds (0.25: a due run starts within 1 s).
With ``run_once`` it claims in its first iteration only and returns once its children end.
On SIGTERM/SIGINT (or ``stop_event``) it stops claiming, waits up to ``grace_seconds`` for
its children, then kills the rest: their runs end CRASHED ("worker stopped"), so a
deployment's retries apply to them as to any crash.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from orchestrate_nb.deploy.reaper import reap
from orchestrate_nb.deploy.scheduler import schedule_due_runs, utcnow
from orchestrate_nb.settings import FLOW_RUN_ID_ENV, load_settings
from orchestrate_nb.store import claims
from orchestrate_nb.store.database import Database
from orchestrate_nb.store.orm import Deployment
from orchestrate_nb.store.processes import ProcessIdentity, current_process

logger = logging.getLogger("orchestrate_nb.worker")
POLL_SECONDS = 0.25


@dataclass
class Child:
    run_id: str
    process: subprocess.Popen[bytes]
    deadline: float | None  # monotonic time the run times out at


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
    _claimed_once: bool = False
    _last_heartbeat: float = 0.0

    def loop(self, now: dt.datetime | None = None, claim: bool = True) -> int:
        """One iteration; returns how many runs it started."""
        now = now or utcnow()
        schedule_due_runs(self.database, now)
        reap(self.database, now)
        self._poll_children(now)
        self._heartbeat(now)
        if not claim or (self.run_once and self._claimed_once):
            return 0
        self._claimed_once = True
        return self._claim(now)

    def run_forever(self, poll: float = POLL_SECONDS,
                    stop_event: threading.Event | None = None) -> None:
        stop = stop_event or threading.Event()
        _stop_on_signals(stop)
        while not stop.is_set():
            self._safe_loop()
            if self.run_once and self._claimed_once and not self.children:
                return
            stop.wait(poll)
        self.shutdown(poll)

    def _safe_loop(self, claim: bool = True) -> None:
        try:
            self.loop(claim=claim)
        except Exception:  # a database hiccup must not stop the worker
            logger.exception("worker iteration failed; retrying")

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
                timeout = None if run is None else conn.execute(
                    select(Deployment.timeout_seconds)
                    .where(Deployment.id == run.deployment_id)).scalar()
            if run is None:
                break
            self._start(run.id, timeout)
            started += 1
        return started

    def _start(self, run_id: str, timeout: float | None) -> None:
        log = run_log_path(run_id)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "orchestrate_nb.deploy.execute", run_id],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, env={**os.environ, FLOW_RUN_ID_ENV: run_id})
        deadline = None if timeout is None else time.monotonic() + timeout
        self.children[run_id] = Child(run_id, process, deadline)
        logger.info("started run %s (pid %d)", run_id, process.pid)

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
            elif child.process.poll() is not None:
                code = child.process.returncode
                self._end(child, "CRASHED", "Crashed",
                          f"the run's process exited with code {code} before it finished", now)

    def _end(self, child: Child, state_type: str, name: str, message: str, now: dt.datetime,
             only_from: tuple[str, ...] = claims.ACTIVE) -> None:
        """Stop the child (if still running) and end its run, unless it already ended."""
        kill_group(child.process)
        with self.database.write() as conn:
            claims.set_state(conn, child.run_id, state_type, name, message, now, only_from)
        del self.children[child.run_id]

    def _heartbeat(self, now: dt.datetime) -> None:
        if self.children and time.monotonic() - self._last_heartbeat >= self.heartbeat_seconds:
            self._last_heartbeat = time.monotonic()
            with self.database.write() as conn:
                claims.heartbeat(conn, list(self.children), now)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (its kernel, in a session of its own, exits when
    it sees its parent gone) and reap it."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


def run_log_path(run_id: str) -> Path:
    return load_settings().home / "runs" / f"{run_id}.log"


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
