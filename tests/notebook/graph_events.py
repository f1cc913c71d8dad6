"""Synthetic RunEvents for the run-graph tests: a flow run and its task runs, with times
that the test chooses (seconds after a fixed start)."""

from __future__ import annotations

import datetime as dt
import itertools
import logging

from orchestrate_nb.core.events import (
    DependencyEdge,
    FlowRunCreated,
    LogEmitted,
    RunEvent,
    StateChanged,
    TaskRunCreated,
)

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
_ids = itertools.count()


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


class Events:
    """Builds the event stream of one root flow run."""

    def __init__(self, flow_name: str = "demo", run_name: str = "brave-otter",
                 parent: str | None = None) -> None:
        self.flow_run_id = f"flow-{next(_ids)}"
        self.events: list[RunEvent] = [FlowRunCreated(
            self.flow_run_id, flow_name, run_name, {}, (), parent, None, at(0), "PENDING",
            "Pending")]

    def flow_state(self, state_type: str, name: str, t: float, message: str | None = None,
                   run_id: str | None = None) -> None:
        run_id = run_id or self.flow_run_id
        self.events.append(StateChanged("flow", run_id, run_id, state_type, name, message,
                                        at(t)))

    def subflow(self, flow_name: str) -> str:
        run_id = f"flow-{next(_ids)}"
        self.events.append(FlowRunCreated(run_id, flow_name, f"{flow_name}-run", {}, (),
                                          self.flow_run_id, None, at(0), "PENDING", "Pending"))
        return run_id

    def task(self, task_name: str, map_index: int = -1, flow_run_id: str | None = None,
             name: str | None = None) -> str:
        run_id = f"task-{next(_ids)}"
        self.events.append(TaskRunCreated(
            run_id, flow_run_id or self.flow_run_id, task_name, f"mod.{task_name}",
            name or f"{task_name}-{run_id}", (), map_index, at(0), "PENDING", "Pending"))
        return run_id

    def state(self, run_id: str, state_type: str, name: str, t: float,
              message: str | None = None, cache_key: str | None = None) -> None:
        self.events.append(StateChanged("task", run_id, self.flow_run_id, state_type, name,
                                        message, at(t), cache_key))

    def ran(self, run_id: str, start: float, end: float, final: str = "COMPLETED",
            final_name: str = "Completed") -> None:
        self.state(run_id, "RUNNING", "Running", start)
        self.state(run_id, final, final_name, end)

    def edge(self, up: str, down: str, input_name: str) -> None:
        self.events.append(DependencyEdge(self.flow_run_id, up, down, input_name))

    def log(self, run_id: str | None, message: str, t: float = 0.0,
            level: int = logging.INFO) -> None:
        self.events.append(LogEmitted(self.flow_run_id, run_id, level, "orchestrate_nb",
                                      message, at(t)))
