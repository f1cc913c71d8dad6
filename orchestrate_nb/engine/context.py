"""Run contexts carried in contextvars (so they follow threads we start and async tasks)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestrate_nb.core.events import RunReporter
    from orchestrate_nb.engine.futures import TaskRunFuture
    from orchestrate_nb.engine.records import FlowRun, TaskRun
    from orchestrate_nb.engine.task_runners import TaskRunner


class FlowRunContext:
    """What a running flow shares with the tasks it calls."""

    __slots__ = ("flow", "flow_run", "task_runner", "reporter", "futures", "name_counts",
                 "results_by_id", "observed_failures", "log_prints", "lock", "tracer")

    def __init__(self, flow: Any, flow_run: FlowRun, task_runner: TaskRunner,
                 reporter: RunReporter, log_prints: bool) -> None:
        self.flow = flow
        self.flow_run = flow_run
        self.task_runner = task_runner
        self.reporter = reporter
        self.futures: list[TaskRunFuture] = []
        self.name_counts: dict[str, int] = {}
        # id(result) -> (result, task_run_id): a task's return value passed to another task
        # records a dependency edge even when the future itself is not passed.
        self.results_by_id: dict[int, tuple[Any, str]] = {}
        # task runs whose failure the flow waited on without handling it (see flow_engine)
        self.observed_failures: list[str] = []
        self.log_prints = log_prints
        self.lock = threading.Lock()
        self.tracer: Any = None  # Flow.visualize(): task calls are recorded, not run

    @classmethod
    def get(cls) -> FlowRunContext | None:
        """The current flow run's context, or None (Prefect's ``FlowRunContext.get()``)."""
        return flow_run_ctx.get()

    @property
    def parameters(self) -> dict[str, Any]:
        return self.flow_run.parameters

    @property
    def task_run_futures(self) -> list[TaskRunFuture]:
        return self.futures

    def next_task_run_name(self, task_name: str) -> str:
        with self.lock:
            n = self.name_counts.get(task_name, 0)
            self.name_counts[task_name] = n + 1
        return f"{task_name}-{n}"


class TaskRunContext:
    """What a running task run knows of itself (Prefect's ``TaskRunContext``: the first
    argument of a ``cache_key_fn``)."""

    __slots__ = ("task", "task_run", "log_prints", "parameters")

    def __init__(self, task: Any, task_run: TaskRun, log_prints: bool,
                 parameters: dict[str, Any] | None = None) -> None:
        self.task = task
        self.task_run = task_run
        self.log_prints = log_prints
        self.parameters = parameters if parameters is not None else task_run.parameters

    @classmethod
    def get(cls) -> TaskRunContext | None:
        """The current task run's context, or None (Prefect's ``TaskRunContext.get()``)."""
        return task_run_ctx.get()


flow_run_ctx: ContextVar[FlowRunContext | None] = ContextVar("orchestrate_nb_flow_run", default=None)
task_run_ctx: ContextVar[TaskRunContext | None] = ContextVar("orchestrate_nb_task_run", default=None)
# Set by a worker's executor: the top-level flow run adopts this existing run id (the run
# is already in the store) instead of creating a new run.
adopted_flow_run_ctx: ContextVar[str | None] = ContextVar("orchestrate_nb_adopted_run",
                                                          default=None)
tags_ctx: ContextVar[frozenset[str]] = ContextVar("orchestrate_nb_tags", default=frozenset())


@contextmanager
def tags(*names: str) -> Iterator[frozenset[str]]:
    """Add tags to every flow and task run created inside the block."""
    current = tags_ctx.get() | frozenset(names)
    token = tags_ctx.set(current)
    try:
        yield current
    finally:
        tags_ctx.reset(token)


def get_run_context() -> TaskRunContext | FlowRunContext:
    """The innermost run context; raises ``MissingContextError`` outside any run."""
    from orchestrate_nb.errors import MissingContextError

    ctx: TaskRunContext | FlowRunContext | None = task_run_ctx.get() or flow_run_ctx.get()
    if ctx is None:
        raise MissingContextError("No run context available. You are not in a flow or "
                                  "task run context.")
    return ctx
