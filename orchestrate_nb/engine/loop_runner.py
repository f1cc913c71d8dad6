"""The base of task runners whose calls are awaited, not waited for: DaskTaskRunner.

Every task run's state machine runs in the flow's process, driven by ``run_async`` on one
asyncio loop thread per flow run, which also runs the remote system's asynchronous client.
Waiting for a remote call, a retry delay or an upstream run costs a coroutine, not a
thread, so 10,000 mapped task runs need no 10,000 threads, and the state transitions,
events and hooks happen exactly as they do for local runs. Engine work that blocks (cache
reads and writes) runs on the loop's default executor.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextvars
import threading
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from orchestrate_nb.core.states import State
from orchestrate_nb.engine.calls import Outcome
from orchestrate_nb.engine.driver import Call
from orchestrate_nb.engine.futures import TaskRunFuture
from orchestrate_nb.engine.task_runners import SubmittedRun, when_ready
from orchestrate_nb.errors import OrchestrateError

Factory = Callable[[], Coroutine[Any, Any, State]]


class LoopThread:
    """An asyncio event loop running on its own daemon thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.spawned: set[asyncio.Task[State]] = set()  # tasks started by spawn, until done
        # Callbacks from other threads wait here and wake the loop once per batch: a wake-up
        # is a syscall and a GIL hand-off, too dear to pay for each of 10,000 task runs.
        self._incoming: deque[Callable[[], None]] = deque()
        self._wake_pending = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
        finally:
            self.loop.close()

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop (thread-safe; wakes the loop once per batch)."""
        self._incoming.append(callback)
        with self._lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        self.loop.call_soon_threadsafe(self._run_incoming)

    def _run_incoming(self) -> None:
        with self._lock:
            self._wake_pending = False
        while self._incoming:
            self._incoming.popleft()()

    def spawn(self, factory: Factory, context: contextvars.Context) -> cf.Future[State]:
        """Start ``factory()`` as a task on the loop, in ``context`` (which must not be in
        use elsewhere: pass a fresh ``contextvars.copy_context()``)."""
        outer: cf.Future[State] = cf.Future()
        self.call_soon(lambda: context.run(self._start, factory, outer))
        return outer

    def _start(self, factory: Factory, outer: cf.Future[State]) -> None:
        if not outer.set_running_or_notify_cancel():
            return
        task = self.loop.create_task(factory())  # copies the current context: the caller's
        self.spawned.add(task)
        task.add_done_callback(self.spawned.discard)
        task.add_done_callback(lambda t: _copy_outcome(t, outer))

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the loop and wait for its value (never call from the loop)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()


def _copy_outcome(task: asyncio.Task[State], outer: cf.Future[State]) -> None:
    if task.cancelled():
        outer.set_exception(cf.CancelledError())
    elif task.exception() is not None:
        outer.set_exception(task.exception())  # type: ignore[arg-type]
    else:
        outer.set_result(task.result())


async def _settle(loop_thread: LoopThread, cancel: bool) -> None:
    """Let the spawned tasks finish (cancelling them first if ``cancel``); the loop may run
    other tasks that never end (a Dask client's), which are the runner's to close."""
    tasks = list(loop_thread.spawned)
    if cancel:
        for t in tasks:
            t.cancel()
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


class LoopDrivenTaskRunner:
    """Drives submitted task runs on a loop thread; subclasses say how a call runs remotely
    (``_call``) and what to close at the end (``_close``)."""

    thread_name = "orchestrate-nb-runner"

    def __init__(self) -> None:
        self._loop_thread: LoopThread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        return None  # the loop starts on the first submit: an empty flow starts nothing

    def _loop(self) -> LoopThread:
        if self._loop_thread is None:
            with self._lock:
                if self._loop_thread is None:
                    self._loop_thread = LoopThread(self.thread_name)
        return self._loop_thread

    def submit(self, run: SubmittedRun, upstream: Sequence[TaskRunFuture]
               ) -> cf.Future[State]:
        ctx = contextvars.copy_context()

        async def drive() -> State:
            return await run.run_async(lambda call: self._call(run, call))

        return when_ready(upstream, lambda: self._spawn(drive, ctx))

    def _spawn(self, drive: Factory, ctx: contextvars.Context) -> cf.Future[State]:
        if self._closed:  # its upstream ended after a crash: the flow run is over
            refused: cf.Future[State] = cf.Future()
            refused.set_exception(OrchestrateError("the flow run's task runner is shut down"))
            return refused
        return self._loop().spawn(drive, ctx)

    async def _call(self, run: SubmittedRun, call: Call) -> Outcome:
        raise NotImplementedError

    async def _close(self, wait: bool) -> None:
        return None

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
            loop_thread = self._loop_thread
        if loop_thread is None:
            return
        try:
            loop_thread.run(_settle(loop_thread, cancel=not wait))
            loop_thread.run(self._close(wait))
        finally:
            loop_thread.stop()
            self._loop_thread = None
