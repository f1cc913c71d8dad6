"""What the repository returns: plain frozen records, safe to keep and to serialise."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

UTC = dt.timezone.utc


def _duration(start: dt.datetime | None, end: dt.datetime | None,
              now: dt.datetime | None = None) -> dt.timedelta | None:
    if start is None:
        return None
    return (end or now or dt.datetime.now(UTC)) - start


@dataclass(frozen=True)
class FlowRunInfo:
    id: str
    flow_name: str
    name: str
    state_type: str
    state_name: str
    state_message: str | None
    created: dt.datetime
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    run_count: int
    parameters: dict[str, Any]
    tags: tuple[str, ...]
    parent_flow_run_id: str | None
    parent_task_run_id: str | None
    deployment_id: str | None
    owner_host: str | None
    owner_pid: int | None
    heartbeat: dt.datetime | None
    executed_notebook: str | None = None  # a notebook deployment run's output, once started

    @property
    def duration(self) -> dt.timedelta | None:
        """Running time so far (start to end, or to now while it runs)."""
        return _duration(self.start_time, self.end_time)


@dataclass(frozen=True)
class TaskRunInfo:
    id: str
    flow_run_id: str | None
    task_name: str
    task_key: str
    name: str
    map_index: int
    state_type: str
    state_name: str
    state_message: str | None
    created: dt.datetime
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    run_count: int
    cache_key: str | None
    tags: tuple[str, ...]

    @property
    def duration(self) -> dt.timedelta | None:
        return _duration(self.start_time, self.end_time)

    @property
    def retries(self) -> int:
        """How many times the run ran again after its first attempt."""
        return max(self.run_count - 1, 0)


@dataclass(frozen=True)
class EdgeInfo:
    upstream_task_run_id: str
    upstream_name: str | None
    downstream_task_run_id: str
    downstream_name: str | None
    input_name: str


@dataclass(frozen=True)
class LogInfo:
    id: int
    timestamp: dt.datetime
    level: int
    logger: str
    message: str
    task_run_id: str | None
    task_run_name: str | None


@dataclass(frozen=True)
class StateInfo:
    type: str
    name: str
    message: str | None
    timestamp: dt.datetime
    task_run_id: str | None


@dataclass(frozen=True)
class PruneSummary:
    cutoff: dt.datetime
    flow_runs: int = 0
    task_runs: int = 0
    log_lines: int = 0
