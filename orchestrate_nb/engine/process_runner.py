"""ProcessPoolTaskRunner: task functions run in worker processes.

Each submitted run's state machine runs on a thread of the flow's process (``run_sync``);
only the user's call travels, to a free worker of a WorkerPool (see process_pool). The
threads outnumber the workers, so a run waiting out a retry delay or a cache lookup holds
a thread, not a worker. Measured against driving the machines on one asyncio loop thread,
this costs the flow's process a third less CPU per call (no event-loop hand-offs), and a
timeout is simply the wait for the worker's reply, after which the worker is killed.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import os
import threading
from collections.abc import Sequence

from orchestrate_nb.core.states import State
from orchestrate_nb.engine.calls import Outcome
from orchestrate_nb.engine.driver import Call
from orchestrate_nb.engine.futures import TaskRunFuture
from orchestrate_nb.engine.process_pool import CallTimedOut, WorkerDiedError, WorkerPool
from orchestrate_nb.engine.remote_calls import (
    CallPickler,
    RemoteRun,
    RemoteTaskError,
    loads_outcome,
    outcome_in_parent,
)
from orchestrate_nb.engine.task_runners import SubmittedRun, when_ready

THREADS_PER_WORKER = 2


class ProcessPoolTaskRunner:
    """Runs task functions in up to ``max_workers`` worker processes (default: one per CPU)."""

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers or os.cpu_count() or 1
        self._pickler = CallPickler()
        self._threads: cf.ThreadPoolExecutor | None = None
        self._workers: WorkerPool | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        return None  # threads and workers start on demand: an empty flow starts nothing

    def _started(self) -> tuple[cf.ThreadPoolExecutor, WorkerPool]:
        with self._lock:
            if self._threads is None or self._workers is None:
                self._workers = WorkerPool(self.max_workers)
                self._threads = cf.ThreadPoolExecutor(
                    self.max_workers * THREADS_PER_WORKER,
                    thread_name_prefix="orchestrate-nb-process-runner")
            return self._threads, self._workers

    def submit(self, run: SubmittedRun, upstream: Sequence[TaskRunFuture]
               ) -> cf.Future[State]:
        threads, workers = self._started()
        ctx = contextvars.copy_context()

        def caller(call: Call) -> Outcome:
            return self._call(workers, run, call)

        return when_ready(upstream, lambda: threads.submit(ctx.run, run.run_sync, caller))

    def _call(self, workers: WorkerPool, run: SubmittedRun, call: Call) -> Outcome:
        try:
            payload = self._pickler.dumps(call, RemoteRun.of(run.task_run, run.log_prints), None)
            reply = workers.call(payload, call.timeout)
        except CallTimedOut:
            return False, call.timeout_exc()
        except (RemoteTaskError, WorkerDiedError) as exc:
            return False, exc
        return outcome_in_parent(loads_outcome(reply), call)

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            threads, workers = self._threads, self._workers
            self._threads = self._workers = None
        if workers is not None and not wait:
            workers.shutdown(wait=False)  # kills running calls: their threads end now
        if threads is not None:
            threads.shutdown(wait=wait, cancel_futures=not wait)
        if workers is not None:
            workers.shutdown(wait=wait)

    def duplicate(self) -> ProcessPoolTaskRunner:
        return type(self)(self.max_workers)

    def __repr__(self) -> str:
        return f"ProcessPoolTaskRunner(max_workers={self.max_workers})"
