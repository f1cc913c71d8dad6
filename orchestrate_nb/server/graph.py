"""The run-graph snapshot of a stored run: the widget's own model, fed the stored rows."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any


def run_graph(row: Any, states: Sequence[Any], tasks: Sequence[Any], edges: Sequence[Any],
              subflows: Sequence[Any]) -> dict[str, Any]:
    """The run-graph snapshot the inline widget draws, folded from the stored run."""
    from orchestrate_nb.core.events import (
        DependencyEdge,
        FlowRunCreated,
        StateChanged,
        TaskRunCreated,
    )
    from orchestrate_nb.notebook.graph.model import GraphModel

    model = GraphModel(row.id)
    events: list[Any] = [FlowRunCreated(row.id, row.flow_name, row.name, {}, (), None, None,
                                        row.created, "PENDING", "Pending")]
    for sub in subflows:
        events.append(FlowRunCreated(sub.id, sub.flow_name, sub.name, {}, (), row.id,
                                     sub.parent_task_run_id, sub.created, sub.state_type,
                                     sub.state_name))
    for task in tasks:
        events.append(TaskRunCreated(task.id, row.id, task.task_name, task.task_key, task.name,
                                     (), task.map_index, task.created, "PENDING", "Pending"))
        if task.start_time is not None:
            events.append(StateChanged("task", task.id, row.id, "RUNNING", "Running", None,
                                       task.start_time))
        if task.state_type not in ("PENDING", "RUNNING") or task.start_time is None:
            events.append(StateChanged("task", task.id, row.id, task.state_type,
                                       task.state_name, task.state_message,
                                       task.end_time or task.start_time or task.created))
    for sub in subflows:
        if sub.start_time is not None:
            events.append(StateChanged("flow", sub.id, sub.id, "RUNNING", "Running", None,
                                       sub.start_time))
        events.append(StateChanged("flow", sub.id, sub.id, sub.state_type, sub.state_name,
                                   sub.state_message, sub.end_time or sub.created))
    events += [DependencyEdge(row.id, e.upstream_task_run_id, e.downstream_task_run_id,
                              e.input_name) for e in edges]
    events += [StateChanged("flow", row.id, row.id, s.type, s.name, s.message, s.timestamp)
               for s in states if s.task_run_id is None]
    model.apply_all(events)
    return model.snapshot(time.time())

