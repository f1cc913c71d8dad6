"""Coalescing a batch of RunEvents into the rows one transaction writes (pure, no SQL).

A run created in this batch is inserted once, already carrying the state it ended the
batch in; a run created in an earlier batch gets one UPDATE with the batch's net change.
Every state still gets its own history row: only the denormalised copy is coalesced.

This runs on the writer thread for every event, holding the GIL the flow's own threads
need, so it does as little as it can: the rows of task runs, states, edges and logs are
built once, as tuples (lists while a run's row may still change) in the column order of
the writer's statements, their values already in the form the driver takes (``Binders``,
SQLAlchemy's own bind processors of those columns); the writer hands them on as they are.
Flow runs are few: their rows are dicts, written through SQLAlchemy Core.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
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
Convert = Callable[[Any], Any]

# The column order of every row the writer inserts (its statements are built from these).
TASK_RUN_COLUMNS = ("id", "flow_run_id", "task_name", "task_key", "name", "tags", "map_index",
                    "created", "cache_key", "state_type", "state_name", "state_message",
                    "start_time", "end_time", "run_count", "owner_host", "owner_pid",
                    "owner_token", "heartbeat")
STATE_COLUMNS = ("flow_run_id", "task_run_id", "type", "name", "message", "timestamp")
EDGE_COLUMNS = ("flow_run_id", "upstream_task_run_id", "downstream_task_run_id", "input_name")
LOG_COLUMNS = ("flow_run_id", "task_run_id", "level", "logger", "message", "timestamp")
# A task run created in an earlier batch: a row of the same layout, of which the UPDATE
# takes these columns (run_count is then an increment, start_time a first RUNNING).
TASK_CHANGE_COLUMNS = ("state_type", "state_name", "state_message", "start_time", "end_time",
                       "run_count", "cache_key", "id")
(_ID, _CACHE_KEY, _STATE_TYPE, _STATE_NAME, _MESSAGE, _START, _END,
 _RUN_COUNT) = (TASK_RUN_COLUMNS.index(c) for c in (
     "id", "cache_key", "state_type", "state_name", "state_message", "start_time", "end_time",
     "run_count"))


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Binders:
    """What the driver takes for a timestamp, a message (NUL-safe text) and a JSON value."""

    timestamp: Convert = _same
    text: Convert = _same
    json: Convert = _same


@dataclass
class BatchPlan:
    """What one batch writes. Task run rows and changes are keyed by run id."""

    flow_names: dict[str, dt.datetime] = field(default_factory=dict)
    new_flow_runs: dict[str, Row] = field(default_factory=dict)
    flow_run_changes: dict[str, Row] = field(default_factory=dict)
    new_task_runs: dict[str, list[Any]] = field(default_factory=dict)
    task_run_changes: dict[str, list[Any]] = field(default_factory=dict)
    states: list[tuple[Any, ...]] = field(default_factory=list)
    edges: list[tuple[Any, ...]] = field(default_factory=list)
    logs: list[tuple[Any, ...]] = field(default_factory=list)
    # Runs this process owns, by whether they are still going after the batch (heartbeats).
    owned_runs: dict[tuple[str, str], bool] = field(default_factory=dict)


def plan_batch(events: list[RunEvent], owner: ProcessIdentity, now: dt.datetime,
               binders: Binders | None = None) -> BatchPlan:
    """The rows ``events`` come to. The common events (a task run created, its states)
    are handled inline; the rest by ``_Planner``'s methods."""
    planner = _Planner(owner, now, binders or Binders())
    plan = planner.plan
    new_task_runs, changes, states = plan.new_task_runs, plan.task_run_changes, plan.states
    timestamp, text = planner.binders.timestamp, planner.binders.text
    add_state = states.append
    final = FINAL_STATE_TYPES
    for e in events:
        kind = type(e)
        if kind is StateChanged and e.kind == "task":  # type: ignore[union-attr]
            e_: StateChanged = e  # type: ignore[assignment]
            run_id, state_type = e_.run_id, e_.state_type
            ts = timestamp(e_.timestamp)
            message = e_.message if e_.message is None else text(e_.message)
            add_state((e_.flow_run_id, run_id, state_type, e_.state_name, message, ts))
            row = new_task_runs.get(run_id)
            if row is None:
                row = changes.get(run_id) or planner.task_change(run_id)
            row[_STATE_TYPE] = state_type
            row[_STATE_NAME] = e_.state_name
            row[_MESSAGE] = message
            if state_type == RUNNING:
                row[_RUN_COUNT] += 1
                if row[_START] is None:
                    row[_START] = ts
            row[_END] = ts if state_type in final else None
            if e_.cache_key is not None:
                row[_CACHE_KEY] = e_.cache_key
            if e_.flow_run_id is None:
                plan.owned_runs[("task", run_id)] = state_type not in final
        elif kind is TaskRunCreated:
            planner.task_run_created(e)  # type: ignore[arg-type]
        else:
            planner.add(e)
    return plan


class _Planner:
    def __init__(self, owner: ProcessIdentity, now: dt.datetime, binders: Binders) -> None:
        self.plan = BatchPlan()
        self.binders = binders
        self.owner = {"owner_host": owner.host, "owner_pid": owner.pid, "owner_token": owner.token}
        self.owner_values = (owner.host, owner.pid, owner.token)
        self.now = now
        self.now_value = binders.timestamp(now)
        self._handlers = {
            FlowRunCreated: self._flow_run_created,
            TaskRunCreated: self.task_run_created,
            StateChanged: self._flow_state_changed,  # a task's is handled by plan_batch
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
            "created": e.created, "state_name": e.state_name,
            **_initial_state(e.state_type, e.created),
            **self.owner, "heartbeat": self.now,
        }
        self.plan.new_flow_runs[e.id] = row
        self._history(e.id, None, e.state_type, e.state_name, None, e.created)
        self.plan.owned_runs[("flow", e.id)] = e.state_type not in FINAL_STATE_TYPES

    def task_run_created(self, e: TaskRunCreated) -> None:
        orphan = e.flow_run_id is None
        created = self.binders.timestamp(e.created)
        running = e.state_type == RUNNING
        owner = self.owner_values if orphan else (None, None, None)
        self.plan.new_task_runs[e.id] = [
            e.id, e.flow_run_id, e.task_name, e.task_key, e.name,
            self.binders.json(list(e.tags)) if e.tags else None, e.map_index, created, None,
            e.state_type, e.state_name, None, created if running else None,
            created if e.state_type in FINAL_STATE_TYPES else None, 1 if running else 0,
            *owner, self.now_value if orphan else None,
        ]
        self.plan.states.append((e.flow_run_id, e.id, e.state_type, e.state_name, None, created))
        if orphan:
            self.plan.owned_runs[("task", e.id)] = e.state_type not in FINAL_STATE_TYPES

    def task_change(self, run_id: str) -> list[Any]:
        change: list[Any] = [None] * len(TASK_RUN_COLUMNS)
        change[_ID], change[_RUN_COUNT] = run_id, 0
        self.plan.task_run_changes[run_id] = change
        return change

    def _flow_state_changed(self, e: StateChanged) -> None:
        row = self.plan.new_flow_runs.get(e.run_id)
        if row is None:
            row = self.plan.flow_run_changes.get(e.run_id) or self._flow_change(e.run_id)
        self._history(e.run_id, None, e.state_type, e.state_name, e.message, e.timestamp)
        self.plan.owned_runs[("flow", e.run_id)] = e.state_type not in FINAL_STATE_TYPES
        row["state_type"] = e.state_type
        row["state_name"] = e.state_name
        row["state_message"] = e.message
        if e.state_type == RUNNING:
            row["run_count"] += 1
            if row["start_time"] is None:
                row["start_time"] = e.timestamp
        row["end_time"] = e.timestamp if e.state_type in FINAL_STATE_TYPES else None

    def _flow_change(self, run_id: str) -> Row:
        change = {"id": run_id, **_NO_CHANGE, **self.owner, "heartbeat": self.now}
        self.plan.flow_run_changes[run_id] = change
        return change

    def _history(self, flow_run_id: str | None, task_run_id: str | None, type_: str,
                 name: str, message: str | None, timestamp: dt.datetime) -> None:
        self.plan.states.append((
            flow_run_id, task_run_id, type_, name,
            message if message is None else self.binders.text(message),
            self.binders.timestamp(timestamp)))

    def _edge(self, e: DependencyEdge) -> None:
        self.plan.edges.append(tuple(e))

    def _log(self, e: LogEmitted) -> None:
        self.plan.logs.append((e.flow_run_id, e.task_run_id, e.level, e.logger,
                               self.binders.text(e.message), self.binders.timestamp(e.timestamp)))


# A change starts as "nothing new": run_count is an increment, start_time a first RUNNING.
_NO_CHANGE = {"state_type": None, "state_name": None, "state_message": None,
              "run_count": 0, "start_time": None, "end_time": None}


def _initial_state(state_type: str, created: dt.datetime) -> Row:
    running = state_type == RUNNING
    return {
        "state_type": state_type, "state_message": None,
        "run_count": 1 if running else 0, "start_time": created if running else None,
        "end_time": created if state_type in FINAL_STATE_TYPES else None,
    }
