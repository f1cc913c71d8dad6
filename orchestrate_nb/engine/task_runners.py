"""Task runners: where submitted task runs execute.

A submitted run waits for its upstream futures *before* it takes a worker, so a bounded
pool can never deadlock on tasks blocked waiting for work queued behind them.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from orchestrate_nb.core.states import State
from orchestrate_nb.engine.futures import TaskRunFuture
from orchestrate_nb.engine.records import TaskRun


class SubmittedRun(Protocol):
    """What a runner is handed: a task run engine (see engine.task_engine.TaskRunEngine)."""

    task_run: TaskRun  # its record: id, name, run_count (runners shipping calls use these)
    log_prints: bool

    def run_sync(self, caller: Any = ...) -> State: ...

    async def run_async(self, caller: Any = ...) -> State: ...


class TaskRunner(Protocol):
    """Executes submitted task runs. The state machine may run anywhere; runners that send
    work to other processes or machines pass a ``caller`` that executes only the user's
    function remotely, so states, retries and records stay with the flow's process."""

    def start(self) -> None: ...

    def submit(self, run: SubmittedRun, upstream: Sequence[TaskRunFuture]
               ) -> cf.Future[State]: ...

    def shutdown(self, wait: bool = True) -> None: ...

    def duplicate(self) -> TaskRunner: ...


class ThreadPoolTaskRunner:
    """Runs task runs on a bounded pool of threads (the default)."""

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers or min(32, (os.cpu_count() or 1) + 4)
        self._executor: cf.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        return None  # the pool is created on first submit: an empty flow starts no thread

    def _pool(self) -> cf.ThreadPoolExecutor:
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = cf.ThreadPoolExecutor(
                        self.max_workers, thread_name_prefix="orchestrate-nb-task")
        return self._executor

    def submit(self, run: SubmittedRun, upstream: Sequence[TaskRunFuture]
               ) -> cf.Future[State]:
        ctx = contextvars.copy_context()
        return when_ready(upstream, lambda: self._pool().submit(ctx.run, run.run_sync))

    def shutdown(self, wait: bool = True) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait)

    def duplicate(self) -> ThreadPoolTaskRunner:
        return type(self)(self.max_workers)

    def __repr__(self) -> str:
        return f"ThreadPoolTaskRunner(max_workers={self.max_workers})"


def when_ready(upstream: Sequence[TaskRunFuture],
               start: Callable[[], cf.Future[State]]) -> cf.Future[State]:
    """Call ``start`` once every upstream future is done; its future, chained."""
    pending = [f for f in upstream if not f.done()]
    if not pending:
        return start()
    outer: cf.Future[State] = cf.Future()
    remaining = [len(pending)]
    lock = threading.Lock()

    def on_upstream_done(_f: Any) -> None:
        with lock:
            remaining[0] -= 1
            ready = remaining[0] == 0
        if ready and outer.set_running_or_notify_cancel():
            _chain(start(), outer)

    for f in pending:
        f._future.add_done_callback(on_upstream_done)
    return outer


def _chain(inner: cf.Future[State], outer: cf.Future[State]) -> None:
    def copy(f: cf.Future[State]) -> None:
        if f.cancelled():  # a runner shut down after a crash: the run never started
            outer.set_exception(cf.CancelledError())
            return
        exc = f.exception()
        if exc is not None:
            outer.set_exception(exc)
        else:
            outer.set_result(f.result())

    inner.add_done_callback(copy)
