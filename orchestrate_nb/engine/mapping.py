"""``Task.map``: one submitted run per element of the iterable arguments."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from orchestrate_nb.engine.futures import PrefectFutureList, TaskRunFuture
from orchestrate_nb.engine.inputs import allow_failure, unmapped
from orchestrate_nb.errors import MappingLengthMismatch, MappingMissingIterable

if TYPE_CHECKING:
    from orchestrate_nb.core.tasks import Task

_STATIC = (str, bytes, bytearray, dict)


def _producers(parameters: dict[str, Any], iterables: dict[str, list[Any]],
               ctx: Any) -> list[tuple[TaskRunFuture | str, str]]:
    """Upstream runs of the mapped arguments as wholes: a future, or a tracked result."""
    producers: list[tuple[TaskRunFuture | str, str]] = []
    for name in iterables:
        value = parameters[name]
        if isinstance(value, TaskRunFuture):
            producers.append((value, name))
            continue
        hit = ctx.results_by_id.get(id(value))
        if hit is not None and hit[0] is value:
            producers.append((hit[1], name))
    return producers


def _iterable_of(value: Any) -> list[Any] | None:
    """The elements to map over, or None when the argument is passed whole."""
    if isinstance(value, unmapped):
        return None
    if isinstance(value, TaskRunFuture):
        value = value.result()  # mapping over a task's returned list
    if isinstance(value, allow_failure):
        return None
    if isinstance(value, _STATIC) or not isinstance(value, Iterable):
        return None
    return list(value)


def map_task(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any],
             return_state: bool, wait_for: Any) -> Any:
    from orchestrate_nb.engine.logging import configure_logging
    from orchestrate_nb.engine.task_engine import flow_ctx_or_raise, submit_parameters

    parameters = task.bind_parameters(args, kwargs)
    from orchestrate_nb.engine.visualize import tracer

    trace = tracer()
    if trace is not None:  # Flow.visualize(): record, don't run
        return trace.map(task, parameters, wait_for)
    iterables = {name: it for name, value in parameters.items()
                 if (it := _iterable_of(value)) is not None}
    if not iterables:
        raise MappingMissingIterable(
            f"task {task.name!r}: .map() needs at least one iterable argument "
            "(wrap constants in unmapped())")
    lengths = {name: len(values) for name, values in iterables.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{n}={length}" for n, length in lengths.items())
        raise MappingLengthMismatch(
            f"task {task.name!r}: .map() iterables differ in length ({detail})")
    count = next(iter(lengths.values()))
    ctx = flow_ctx_or_raise(task)
    configure_logging()
    producers = _producers(parameters, iterables, ctx)
    futures = PrefectFutureList()
    for i in range(count):
        call = {name: (iterables[name][i] if name in iterables else value)
                for name, value in parameters.items()}
        futures.append(submit_parameters(ctx, task, call, wait_for, i, producers))
    if return_state:
        return [f.final_state() for f in futures]
    return futures
