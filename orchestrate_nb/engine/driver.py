"""Drivers for the engines' state machines.

Each engine is written once, as a generator that yields what it needs done: call the user's
function, sleep before a retry, wait for futures. The sync driver does those things by
blocking; the async driver awaits them. So there is one state machine, not two engines.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import time
from collections.abc import Awaitable, Callable, Generator, Sequence
from typing import Any, NamedTuple, Union

from orchestrate_nb.engine.calls import Outcome, call_async, call_sync
from orchestrate_nb.engine.futures import TaskRunFuture


class Call(NamedTuple):
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    timeout: float | None
    timeout_exc: Callable[[], BaseException]


class Sleep(NamedTuple):
    seconds: float


class Wait(NamedTuple):
    futures: Sequence[TaskRunFuture]


Request = Union[Call, Sleep, Wait, "Blocking"]
Machine = Generator[Request, Any, Any]


class Blocking(NamedTuple):
    """Engine work that blocks (e.g. waiting for a concurrency slot); never user code."""

    fn: Callable[[], Any]


SyncCaller = Callable[[Call], Outcome]
AsyncCaller = Callable[[Call], Awaitable[Outcome]]


def local_call_sync(request: Call) -> Outcome:
    return call_sync(request.fn, request.args, request.kwargs, request.timeout,
                     request.timeout_exc)


async def local_call_async(request: Call) -> Outcome:
    return await call_async(request.fn, request.args, request.kwargs, request.timeout,
                            request.timeout_exc)


def drive_sync(machine: Machine, caller: SyncCaller = local_call_sync) -> Any:
    """Run a machine to its end in this thread; ``caller`` executes the user's calls."""
    try:
        request = next(machine)
        while True:
            request = machine.send(_do_sync(request, caller))
    except StopIteration as stop:
        return stop.value


def _do_sync(request: Request, caller: SyncCaller) -> Any:
    if type(request) is Call:
        return caller(request)
    if type(request) is Blocking:
        return request.fn()
    if type(request) is Sleep:
        if request.seconds > 0:
            time.sleep(request.seconds)
        return None
    cf.wait([f._future for f in request.futures])  # type: ignore[union-attr]
    return None


async def drive_async(machine: Machine, caller: AsyncCaller = local_call_async) -> Any:
    """Run a machine to its end on the running loop; ``caller`` executes the user's calls."""
    try:
        request = next(machine)
        while True:
            request = machine.send(await _do_async(request, caller))
    except StopIteration as stop:
        return stop.value


async def _do_async(request: Request, caller: AsyncCaller) -> Any:
    if type(request) is Call:
        return await caller(request)
    if type(request) is Blocking:
        return await asyncio.to_thread(request.fn)
    if type(request) is Sleep:
        await asyncio.sleep(request.seconds)
        return None
    pending = [asyncio.wrap_future(f._future) for f in request.futures  # type: ignore[union-attr]
               if not f.done()]
    if pending:
        await asyncio.wait(pending)
    return None
