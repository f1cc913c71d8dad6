"""The RunEvent stream: what the engine tells its reporters (store, widget, tests).

Events are small immutable tuples, cheap to create on the hot path. Consumers must not
assume they arrive in one batch: a task run's ``TaskRunCreated`` always precedes its
``StateChanged`` events and its edges, and events of one run arrive in order.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, NamedTuple, Protocol, Union


class FlowRunCreated(NamedTuple):
    id: str
    flow_name: str
    name: str
    parameters: dict[str, Any]  # JSON-safe (see engine.jsonable)
    tags: tuple[str, ...]
    parent_flow_run_id: str | None
    parent_task_run_id: str | None
    created: _dt.datetime
    state_type: str  # initial state, normally PENDING
    state_name: str
    deployment_id: str | None = None


class TaskRunCreated(NamedTuple):
    id: str
    flow_run_id: str | None  # None for a task called outside any flow
    task_name: str
    task_key: str  # module.qualname of the task function
    name: str
    tags: tuple[str, ...]
    map_index: int  # -1 unless the run came from Task.map
    created: _dt.datetime
    state_type: str
    state_name: str


class StateChanged(NamedTuple):
    kind: str  # "flow" or "task"
    run_id: str
    flow_run_id: str | None
    state_type: str
    state_name: str
    message: str | None
    timestamp: _dt.datetime
    cache_key: str | None = None


class DependencyEdge(NamedTuple):
    flow_run_id: str | None
    upstream_task_run_id: str
    downstream_task_run_id: str
    input_name: str  # parameter name, or "wait_for"


class LogEmitted(NamedTuple):
    flow_run_id: str | None
    task_run_id: str | None
    level: int
    logger: str
    message: str
    timestamp: _dt.datetime


RunEvent = Union[FlowRunCreated, TaskRunCreated, StateChanged, DependencyEdge, LogEmitted]


class RunReporter(Protocol):
    """Receives the engine's events. ``emit`` must be cheap and must never raise."""

    def emit(self, event: RunEvent) -> None: ...

    def flush(self, timeout: float | None = None) -> None:
        """Return once every event emitted before the call is durable (or handled)."""
        ...

    def close(self) -> None: ...
