"""Futures of submitted task runs, and ``wait`` / ``as_completed`` over them."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from orchestrate_nb.core.states import State
from orchestrate_nb.engine.records import TaskRun


class TaskRunFuture:
    """The future of one task run. It resolves to the run's final state."""

    __slots__ = ("task_run", "_future", "_handled", "__weakref__")

    def __init__(self, task_run: TaskRun, future: cf.Future[State]) -> None:
        self.task_run = task_run
        self._future = future
        # True once the user looked at the outcome (result() or state): then a failure
        # is theirs to handle and does not fail the flow by itself.
        self._handled = False

    @property
    def task_run_id(self) -> str:
        return self.task_run.id

    @property
    def state(self) -> State:
        self._handled = True
        if self._future.done():
            return self._future.result()
        return self.task_run.state

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: float | None = None) -> None:
        cf.wait([self._future], timeout=timeout)

    def final_state(self, timeout: float | None = None) -> State:
        """The final state without marking the outcome as handled (engine use)."""
        return self._future.result(timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        try:
            state = self._future.result(timeout)
        except cf.TimeoutError:
            raise TimeoutError(
                f"task run {self.task_run.name!r} did not finish within {timeout} s") from None
        self._handled = True
        return state.result(raise_on_failure=raise_on_failure)

    def add_done_callback(self, fn: Callable[[TaskRunFuture], Any]) -> None:
        self._future.add_done_callback(lambda _f: fn(self))

    def __repr__(self) -> str:
        return f"TaskRunFuture({self.task_run.name!r}, state={self.task_run.state.name})"


# Prefect's name, for code that type-hints it.
PrefectFuture = TaskRunFuture


class PrefectFutureList(list):  # type: ignore[type-arg]
    """What ``Task.map`` returns: a list of futures with ``wait`` and ``result``."""

    def wait(self, timeout: float | None = None) -> None:
        wait(self, timeout=timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list[Any]:
        done, not_done = wait(self, timeout=timeout)
        if not_done:
            raise TimeoutError(f"{len(not_done)} of {len(self)} task runs did not finish in time")
        return [f.result(raise_on_failure=raise_on_failure) for f in self]


class DoneAndNotDoneFutures(NamedTuple):
    done: set[TaskRunFuture]
    not_done: set[TaskRunFuture]


def wait(futures: Iterable[TaskRunFuture], timeout: float | None = None) -> DoneAndNotDoneFutures:
    """Wait for futures; a failed one does not raise here (its state says so)."""
    by_inner = {f._future: f for f in futures}
    done, not_done = cf.wait(by_inner, timeout=timeout)
    return DoneAndNotDoneFutures({by_inner[f] for f in done}, {by_inner[f] for f in not_done})


def as_completed(futures: Iterable[TaskRunFuture], timeout: float | None = None
                 ) -> Iterator[TaskRunFuture]:
    """Yield futures as their task runs finish."""
    by_inner = {f._future: f for f in futures}
    try:
        for inner in cf.as_completed(by_inner, timeout=timeout):
            yield by_inner[inner]
    except cf.TimeoutError:
        raise TimeoutError("not every task run finished within the timeout") from None
