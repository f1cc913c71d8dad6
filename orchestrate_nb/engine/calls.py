"""Calling user functions: sync or async, with or without a timeout, from sync or async code.

Sync code that must run a coroutine never nests event loops: when the calling thread
already runs a loop (a Jupyter kernel), the coroutine runs on a private loop in a helper
thread and the caller blocks on it. No nest_asyncio.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from orchestrate_nb.core.options import is_async_fn

Outcome = tuple[bool, Any]  # (True, value) or (False, exception)
_RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


def user_traceback(exc: BaseException) -> Any:
    """The exception's traceback without the engine's own leading frames: what a user
    reads in a failed run's log starts at their code."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_RUNTIME_DIR):
        tb = tb.tb_next
    return tb if tb is not None else exc.__traceback__


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def run_coro_sync(coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
    """Run ``coro`` to completion from synchronous code and return its value."""
    if _running_loop() is None and timeout is None:
        return asyncio.run(coro)
    return _run_in_thread(lambda: asyncio.run(_with_timeout(coro, timeout)), timeout=None)


async def _with_timeout(coro: Coroutine[Any, Any, Any], timeout: float | None) -> Any:
    if timeout is None:
        return await coro
    return await asyncio.wait_for(coro, timeout)


def _async_raise(thread_id: int, exc_type: type[BaseException]) -> None:
    """Ask a thread to raise ``exc_type`` at its next bytecode (interrupts Python code)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc_type))


def _run_in_thread(fn: Callable[[], Any], timeout: float | None,
                   timeout_exc: Callable[[], BaseException] | None = None) -> Any:
    """Run ``fn`` in a helper thread carrying the caller's context; honour ``timeout``.

    On timeout the helper thread is interrupted where Python code can be interrupted, and
    the caller gets ``timeout_exc()`` promptly either way (a thread blocked in C is left to
    finish on its own, as a daemon).
    """
    ctx = contextvars.copy_context()
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = ctx.run(fn)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=target, daemon=True, name="orchestrate-nb-call")
    thread.start()
    if not done.wait(timeout):
        assert timeout_exc is not None and thread.ident is not None
        exc = timeout_exc()
        _async_raise(thread.ident, type(exc))
        raise exc
    if "error" in box:
        raise box["error"]
    return box["value"]


def call_sync(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
              timeout: float | None, timeout_exc: Callable[[], BaseException]) -> Outcome:
    """Call a user function from sync code; never raises (returns the outcome)."""
    try:
        if is_async_fn(fn):
            if timeout is None:
                return True, run_coro_sync(fn(*args, **kwargs))
            try:
                return True, run_coro_sync(fn(*args, **kwargs), timeout)
            except (asyncio.TimeoutError, TimeoutError):
                return False, timeout_exc()
        if timeout is None:
            return True, fn(*args, **kwargs)
        return True, _run_in_thread(lambda: fn(*args, **kwargs), timeout, timeout_exc)
    except BaseException as exc:  # noqa: BLE001 - the engine turns it into a state
        return False, exc


async def call_async(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                     timeout: float | None, timeout_exc: Callable[[], BaseException]) -> Outcome:
    """Call a user function from async code; sync functions run in a worker thread
    only when they need a timeout (otherwise inline, like Prefect)."""
    try:
        if is_async_fn(fn):
            if timeout is None:
                return True, await fn(*args, **kwargs)
            try:
                return True, await asyncio.wait_for(fn(*args, **kwargs), timeout)
            except asyncio.TimeoutError:
                return False, timeout_exc()
        if timeout is None:
            return True, fn(*args, **kwargs)
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        fut = loop.run_in_executor(None, lambda: ctx.run(fn, *args, **kwargs))
        try:
            return True, await asyncio.wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            return False, timeout_exc()
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # noqa: BLE001
        return False, exc
