"""RunEvents as the engine emits them, for store and CLI tests (and their subprocesses)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from orchestrate_nb.core.events import (
    DependencyEdge,
    FlowRunCreated,
    LogEmitted,
    RunEvent,
    StateChanged,
    TaskRunCreated,
)

UTC = dt.timezone.utc


class SyntheticRuns:
    """RunEvents as the engine emits them, with a clock that moves forward 1 ms a call."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.clock = start or dt.datetime.now(UTC) - dt.timedelta(minutes=5)

    def days_ago(self, days: float) -> SyntheticRuns:
        """Another generator whose clock starts ``days`` in the past."""
        return SyntheticRuns(dt.datetime.now(UTC) - dt.timedelta(days=days))

    def tick(self, seconds: float = 0.001) -> dt.datetime:
        self.clock += dt.timedelta(seconds=seconds)
        return self.clock

    def flow_run_created(self, flow: str = "etl", name: str | None = None,
                         state: str = "PENDING", **fields: Any) -> FlowRunCreated:
        run_id = fields.pop("id", None) or str(uuid.uuid4())
        values: dict[str, Any] = dict(
            id=run_id, flow_name=flow, name=name or f"{flow}-{run_id[:6]}",
            parameters={"n": 3}, tags=(), parent_flow_run_id=None, parent_task_run_id=None,
            created=self.tick(), state_type=state, state_name=state.title())
        values.update(fields)
        return FlowRunCreated(**values)

    def task_run_created(self, flow_run_id: str | None, name: str = "double-0",
                         state: str = "PENDING", **fields: Any) -> TaskRunCreated:
        values: dict[str, Any] = dict(
            id=str(uuid.uuid4()), flow_run_id=flow_run_id, task_name=name.split("-")[0],
            task_key=f"tests.{name.split('-')[0]}", name=name, tags=(), map_index=-1,
            created=self.tick(), state_type=state, state_name=state.title())
        values.update(fields)
        return TaskRunCreated(**values)

    def flow_state(self, flow_run_id: str, state: str, name: str | None = None,
                   message: str | None = None) -> StateChanged:
        return StateChanged("flow", flow_run_id, flow_run_id, state, name or state.title(),
                            message, self.tick())

    def task_state(self, task: TaskRunCreated, state: str, name: str | None = None,
                   message: str | None = None, cache_key: str | None = None) -> StateChanged:
        return StateChanged("task", task.id, task.flow_run_id, state, name or state.title(),
                            message, self.tick(), cache_key)

    def log(self, flow_run_id: str | None, message: str, task_run_id: str | None = None,
            level: int = 20) -> LogEmitted:
        return LogEmitted(flow_run_id, task_run_id, level, "orchestrate_nb.task_runs", message,
                          self.tick())

    def completed_flow(self, flow: str = "etl", tasks: int = 3, final: str = "COMPLETED",
                       **fields: Any) -> tuple[FlowRunCreated, list[TaskRunCreated],
                                               list[RunEvent]]:
        """A whole flow run: a chain of tasks (each feeding the next), one log line each."""
        run = self.flow_run_created(flow, **fields)
        events: list[RunEvent] = [run, self.flow_state(run.id, "RUNNING")]
        task_runs: list[TaskRunCreated] = []
        for index in range(tasks):
            task = self.task_run_created(run.id, f"step-{index}")
            events += [task, self.task_state(task, "RUNNING"),
                       self.log(run.id, f"step {index} working", task.id)]
            if task_runs:
                events.append(DependencyEdge(run.id, task_runs[-1].id, task.id, "x"))
            events.append(self.task_state(task, "COMPLETED"))
            task_runs.append(task)
        events.append(self.flow_state(run.id, final))
        return run, task_runs, events
