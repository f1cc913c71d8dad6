"""Coalescing a batch of RunEvents into the rows one transaction writes (pure, no SQL).

A run created in this batch is inserted once, already carrying the state it ended the
batch in; a run created in an earlier batch gets one UPDATE with the batch's net change.
Every state still gets its own history row: only the denormalised copy is coalesced.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from orchestrate_nb.core.events import (
    DependencyEdge,
    FlowRunCreated,
    LogEmitted,
    RunEvent,
    StateChanged,
    TaskRunCreated,
)
from orchestrate_nb.processes import ProcessIdentity
from orchestrate_nb.store.masking import mask_parameters

RUNNING = "RUNNING"
FINAL_STATE_TYPES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "CRASHED"})

Row = dict[str, Any]


@dataclass
class BatchPlan:
    """What one batch writes. Rows are keyed by column name; changes by run id."""

    flow_names: dict[str, dt.datetime] = field(default_factory=dict)
    new_flow_runs: dict[str, Row] = field(default_factory=dict)
    flow_run_changes: dict[str, Row] = field(default_factory=dict)
    new_task_runs: dict[str, Row] = field(default_factory=dict)
    task_run_changes: dict[str, Row] = field(default_factory=dict)
    states: list[Row] = field(default_factory=list)
    edges: list[Row] = field(default_factory=list)
    logs: list[Row] = field(default_factory=list)
    # Runs this process owns, by whether they are still going after the batch (heartbeats).
    owned_runs: dict[tuple[str, str], bool] = field(default_factory=dict)


def plan_batch(events: list[RunEvent], owner: ProcessIdentity, now: dt.datetime) -> BatchPlan:
    planner = _Planner(owner, now)
    for event in events:
        planner.add(event)
    return planner.plan


class _Planner:
    def __init__(self, owner: ProcessIdentity, now: dt.datetime) -> None:
        self.plan = BatchPlan()
        self.owner = {"owner_host": owner.host, "owner_pid": owner.pid, "owner_token": owner.token}
        self.now = now
        self._handlers = {
            FlowRunCreated: self._flow_run_created,
            TaskRunCreated: self._task_run_created,
            StateChanged: self._state_changed,
            DependencyEdge: self._edge,
            LogEmitted: self._log,
        }

    def add(self, event: RunEvent) -> None:
        self._handlers[type(event)](event)  # type: ignore[operator]

    def _flow_run_created(self, e: FlowRunCreated) -> None:
        self.plan.flow_names.setdefault(e.flow_name, e.created)
        row = {
            "id": e.id, "flow_name": e.flow_name, "name": e.name,
            "parameters": mask_parameters(e.parameters),  # a secret never reaches the store
            "tags": list(e.tags) or None, "parent_flow_run_id": e.parent_flow_run_id,
            "parent_task_run_id": e.parent_task_run_id, "deployment_id": e.deployment_id,
            "created": e.created, **_initial_state(e.state_type, e.state_name, e.created),
            **self.owner, "heartbeat": self.now,
        }
        self.plan.new_flow_runs[e.id] = row
        self._history(e.id, None, e.state_type, e.state_name, None, e.created)
        self.plan.owned_runs[("flow", e.id)] = e.state_type not in FINAL_STATE_TYPES

    def _task_run_created(self, e: TaskRunCreated) -> None:
        orphan = e.flow_run_id is None
        row = {
            "id": e.id, "flow_run_id": e.flow_run_id, "task_name": e.task_name,
            "task_key": e.task_key, "name": e.name, "tags": list(e.tags) or None,
            "map_index": e.map_index, "created": e.created, "cache_key": None,
            **_initial_state(e.state_type, e.state_name, e.created),
            **(self.owner if orphan else _NO_OWNER), "heartbeat": self.now if orphan else None,
        }
        self.plan.new_task_runs[e.id] = row
        self._history(e.flow_run_id, e.id, e.state_type, e.state_name, None, e.created)
        if orphan:
            self.plan.owned_runs[("task", e.id)] = e.state_type not in FINAL_STATE_TYPES

    def _state_changed(self, e: StateChanged) -> None:
        if e.kind == "flow":
            row = self.plan.new_flow_runs.get(e.run_id)
            if row is None:
                row = self.plan.flow_run_changes.get(e.run_id) or self._flow_change(e.run_id)
            self._history(e.run_id, None, e.state_type, e.state_name, e.message, e.timestamp)
            self.plan.owned_runs[("flow", e.run_id)] = e.state_type not in FINAL_STATE_TYPES
        else:
            row = self.plan.new_task_runs.get(e.run_id)
            if row is None:
                row = self.plan.task_run_changes.get(e.run_id) or self._task_change(e.run_id)
            self._history(e.flow_run_id, e.run_id, e.state_type, e.state_name, e.message,
                          e.timestamp)
            if e.flow_run_id is None:
                self.plan.owned_runs[("task", e.run_id)] = e.state_type not in FINAL_STATE_TYPES
            if e.cache_key is not None:
                row["cache_key"] = e.cache_key
        _apply_state(row, e)

    def _flow_change(self, run_id: str) -> Row:
        change = {"id": run_id, **_NO_CHANGE, **self.owner, "heartbeat": self.now}
        self.plan.flow_run_changes[run_id] = change
        return change

    def _task_change(self, run_id: str) -> Row:
        change = {"id": run_id, **_NO_CHANGE, "cache_key": None}
        self.plan.task_run_changes[run_id] = change
        return change

    def _history(self, flow_run_id: str | None, task_run_id: str | None, type_: str,
                 name: str, message: str | None, timestamp: dt.datetime) -> None:
        self.plan.states.append({
            "flow_run_id": flow_run_id, "task_run_id": task_run_id, "type": type_,
            "name": name, "message": message, "timestamp": timestamp,
        })

    def _edge(self, e: DependencyEdge) -> None:
        self.plan.edges.append({
            "flow_run_id": e.flow_run_id, "upstream_task_run_id": e.upstream_task_run_id,
            "downstream_task_run_id": e.downstream_task_run_id, "input_name": e.input_name,
        })

    def _log(self, e: LogEmitted) -> None:
        self.plan.logs.append({
            "flow_run_id": e.flow_run_id, "task_run_id": e.task_run_id, "level": e.level,
            "logger": e.logger, "message": e.message, "timestamp": e.timestamp,
        })


_NO_OWNER = {"owner_host": None, "owner_pid": None, "owner_token": None}
# A change starts as "nothing new": run_count is an increment, start_time a first RUNNING.
_NO_CHANGE = {"state_type": None, "state_name": None, "state_message": None,
              "run_count": 0, "start_time": None, "end_time": None}


def _initial_state(state_type: str, state_name: str, created: dt.datetime) -> Row:
    running = state_type == RUNNING
    return {
        "state_type": state_type, "state_name": state_name, "state_message": None,
        "run_count": 1 if running else 0, "start_time": created if running else None,
        "end_time": created if state_type in FINAL_STATE_TYPES else None,
    }


def _apply_state(row: Row, e: StateChanged) -> None:
    row["state_type"] = e.state_type
    row["state_name"] = e.state_name
    row["state_message"] = e.message
    if e.state_type == RUNNING:
        row["run_count"] += 1
        if row["start_time"] is None:
            row["start_time"] = e.timestamp
    row["end_time"] = e.timestamp if e.state_type in FINAL_STATE_TYPES else None
