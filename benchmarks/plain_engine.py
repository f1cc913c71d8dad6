"""A do-nothing `flow`/`task` pair: the plain-Python baseline engine.

`BENCH_ENGINE=plain_engine` runs the very same workloads with decorators that add no
orchestration at all, so a child process's peak RSS (and any other figure) has a floor
measured the same way as the engines'. Futures are already-completed values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any


class DoneFuture:
    """A future whose value is already known."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self, timeout: float | None = None) -> Any:
        return self._value

    def wait(self, timeout: float | None = None) -> None:
        return None


class PlainTask:
    """Calls the function directly; `.submit` and `.map` return completed futures."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def submit(self, *args: Any, **kwargs: Any) -> DoneFuture:
        return DoneFuture(self.fn(*args, **kwargs))

    def map(self, *iterables: Iterable[Any]) -> list[DoneFuture]:
        return [DoneFuture(self.fn(*args)) for args in zip(*iterables, strict=False)]


def task(fn: Callable[..., Any] | None = None, **_options: Any) -> Any:
    if fn is None:
        return lambda f: PlainTask(f)
    return PlainTask(fn)


def flow(fn: Callable[..., Any] | None = None, **_options: Any) -> Any:
    if fn is None:
        return lambda f: f
    return fn
