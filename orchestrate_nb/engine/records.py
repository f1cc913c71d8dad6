"""In-memory records of runs, handed to hooks, futures and loggers (Prefect's TaskRun/FlowRun)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from orchestrate_nb.core.states import State, StateType


class TaskRun:
    __slots__ = (
        "id", "name", "task_name", "task_key", "flow_run_id", "tags", "map_index",
        "parameters", "run_count", "state", "start_time", "end_time",
    )

    def __init__(self, id: str, name: str, task_name: str, task_key: str,
                 flow_run_id: str | None, tags: tuple[str, ...], map_index: int,
                 parameters: dict[str, Any], state: State) -> None:
        self.id = id
        self.name = name
        self.task_name = task_name
        self.task_key = task_key
        self.flow_run_id = flow_run_id
        self.tags = tags
        self.map_index = map_index
        self.parameters = parameters
        self.run_count = 0
        self.state = state
        self.start_time: _dt.datetime | None = None
        self.end_time: _dt.datetime | None = None

    def __repr__(self) -> str:
        return f"TaskRun(name={self.name!r}, id={self.id!r}, state={self.state!r})"


class FlowRun:
    __slots__ = (
        "id", "name", "flow_name", "parameters", "tags", "parent_flow_run_id",
        "parent_task_run_id", "root_flow_run_id", "run_count", "state", "start_time",
        "end_time",
    )

    def __init__(self, id: str, name: str, flow_name: str, parameters: dict[str, Any],
                 tags: tuple[str, ...], parent_flow_run_id: str | None, state: State) -> None:
        self.id = id
        self.name = name
        self.flow_name = flow_name
        self.parameters = parameters
        self.tags = tags
        self.parent_flow_run_id = parent_flow_run_id
        self.parent_task_run_id: str | None = None
        self.root_flow_run_id: str | None = None  # set by the engine for a subflow's run
        self.run_count = 0
        self.state = state
        self.start_time: _dt.datetime | None = None
        self.end_time: _dt.datetime | None = None

    def __repr__(self) -> str:
        return f"FlowRun(name={self.name!r}, id={self.id!r}, state={self.state!r})"


def enter_state(run: TaskRun | FlowRun, state: State) -> None:
    """Move a run record into ``state``: run_count counts RUNNING entries, start_time is
    the first of them, end_time the entry into a final state."""
    run.state = state
    if state.type is StateType.RUNNING:
        run.run_count += 1
        if run.start_time is None:
            run.start_time = state.timestamp
    elif state.is_final():
        run.end_time = state.timestamp
