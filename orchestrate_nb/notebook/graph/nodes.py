"""One node of the run graph: a task run, a group of runs (mapped, or many direct calls of
one task), or a subflow; its display state, counts, timings, retries and last log lines.
"""

from __future__ import annotations

import datetime as _dt
from collections import deque
from typing import Any

from orchestrate_nb.core.events import LogEmitted, StateChanged
from orchestrate_nb.notebook.graph.failure_details import TRACEBACK_START, failure_details
from orchestrate_nb.notebook.graph.states import FINAL_STATES
from orchestrate_nb.notebook.graph.states import UNSUCCESSFUL_STATES as _UNSUCCESSFUL

_LEVELS = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}
_LOG_CHARS = 400


def display_state(state_type: str, state_name: str) -> str:
    """What a node shows for an engine state (pending, running, retrying, completed, cached,
    failed, crashed, not run, cancelled, paused)."""
    if state_type == "COMPLETED":
        state = "cached" if state_name == "Cached" else "completed"
    elif state_type == "RUNNING":
        state = "retrying" if state_name == "Retrying" else "running"
    elif state_type == "FAILED":
        state = "not run" if state_name == "NotReady" else "failed"
    elif state_type == "SCHEDULED":
        state = "retrying" if state_name == "AwaitingRetry" else "pending"
    elif state_type in ("CANCELLED", "CANCELLING"):
        state = "cancelled"
    else:
        state = _OTHER.get(state_type, "pending")
    if len(STATE_MEMO) < 1_000:  # memo for the hot path; state names are few
        STATE_MEMO[(state_type, state_name)] = state
    return state


_OTHER = {"CRASHED": "crashed", "PAUSED": "paused"}
STATE_MEMO: dict[tuple[str, str], str] = {}
UNTIMED_STATES = frozenset({"pending", "paused"})  # states that move no clock and count nothing


def aggregate_state(counts: dict[str, int], total: int) -> str:
    """One state for a group: running while any run is, then the worst final state."""
    if not total:
        return "pending"
    active = counts.get("running", 0) + counts.get("retrying", 0)
    pending = counts.get("pending", 0) + counts.get("paused", 0)
    if active or (pending and pending < total):
        return "running"
    if pending:
        return "pending"
    for state in _UNSUCCESSFUL:
        if counts.get(state):
            return state
    return "cached" if counts.get("cached", 0) == total else "completed"


def log_line(e: LogEmitted) -> str:
    level = _LEVELS.get(e.level, str(e.level))
    message = e.message
    if len(message) > _LOG_CHARS:  # keep the head and the tail (a traceback's last line)
        message = f"{message[:_LOG_CHARS // 3]} … {message[-(2 * _LOG_CHARS) // 3:]}"
    return f"{e.timestamp.astimezone().strftime('%H:%M:%S')} {level} {message}"


class Node:
    """A box in the graph. ``counts`` holds its runs by display state."""

    __slots__ = ("id", "label", "kind", "runs", "counts", "retries", "start", "end", "logs",
                 "stale", "message", "flow_state", "planned", "failure")

    def __init__(self, id: str, label: str, kind: str, log_lines: int) -> None:
        self.id = id
        self.label = label
        self.kind = kind  # "task", "group" or "flow"
        self.runs = 0
        self.counts: dict[str, int] = {}
        self.retries = 0
        self.start: _dt.datetime | None = None
        self.end: _dt.datetime | None = None
        self.logs: deque[str] = deque(maxlen=log_lines)
        self.stale: str | None = None  # why, when an upstream cell changed
        self.message: str | None = None  # of the last unsuccessful state
        self.flow_state: str | None = None  # a subflow's own state
        self.planned: tuple[str, str] | None = None  # (state, detail) before any run
        self.failure: dict[str, str] | None = None  # the last traceback's exception, frame

    @property
    def state(self) -> str:
        if self.flow_state is not None:
            return self.flow_state
        if self.planned is not None:
            return self.planned[0]
        if self.kind == "task" and self.runs == 1:
            return next(s for s, n in self.counts.items() if n)
        return aggregate_state(self.counts, self.runs)

    def plan(self, state: str, detail: str, stale: str | None) -> None:
        self.planned = (state, detail)
        self.stale = stale

    def bind_run(self) -> None:
        """A planned node's run started: it shows that run from now on, fresh."""
        self.planned = None
        self.stale = None

    def stamp(self, state: str, e: StateChanged) -> None:
        """Times, retries and the failure message of a run's new ``state``."""
        if state == "running" or state == "retrying":
            if e.state_name == "Retrying":
                self.retries += 1
            if e.state_type == "RUNNING" and (self.start is None or e.timestamp < self.start):
                self.start = e.timestamp
        elif state in FINAL_STATES:
            if self.end is None or e.timestamp > self.end:
                self.end = e.timestamp
            if state in _UNSUCCESSFUL:
                self.message = e.message

    def set_flow_state(self, state: str, e: StateChanged) -> None:
        self.flow_state = state
        self.stamp(state, e)

    def absorb(self, other: Node) -> None:
        """Take over another node's runs (when a task's calls are folded into a group)."""
        for state, n in other.counts.items():
            self.counts[state] = self.counts.get(state, 0) + n
        self.runs += other.runs
        self.retries += other.retries
        self.logs.extend(other.logs)
        self.message = other.message or self.message
        self.failure = other.failure or self.failure
        if other.start is not None:
            self.start = other.start if self.start is None else min(self.start, other.start)
        if other.end is not None:
            self.end = other.end if self.end is None else max(self.end, other.end)

    def log(self, line: str, message: str = "") -> None:
        """Keep ``line``; ``message`` (the whole text) may end with a traceback, whose
        exception and user frame are kept apart (the line may be clipped)."""
        self.logs.append(line)
        if TRACEBACK_START in message:
            self.failure = failure_details(message) or self.failure

    def mark_stale(self, reason: str) -> None:
        self.stale = reason

    def as_dict(self, now: float) -> dict[str, Any]:
        """The node as the widget receives it (JSON-safe)."""
        state = self.state
        running = state not in FINAL_STATES
        duration = None
        if self.start is not None:
            end = now if running or self.end is None else self.end.timestamp()
            duration = round(max(0.0, end - self.start.timestamp()), 3)
        data: dict[str, Any] = {
            "id": self.id, "label": self.label, "kind": self.kind, "state": state,
            "duration": duration, "running": running and self.start is not None,
            "retries": self.retries, "cached": self.counts.get("cached", 0),
            "stale": self.stale, "message": self.message, "logs": list(self.logs),
        }
        if self.kind != "task" or self.runs > 1:
            data["runs"] = self.runs
            data["counts"] = {s: n for s, n in self.counts.items() if n}
        if self.planned is not None and self.planned[1]:
            data["detail"] = self.planned[1]
        if self.failure is not None and state in _UNSUCCESSFUL:
            data["error"] = self.failure
        return data


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s"


def node_detail(node: dict[str, Any]) -> str:
    """One line under a node's name: progress of a group, duration, retries, stale."""
    if node.get("detail"):  # said by whoever planned the node (why a cell is stale...)
        return str(node["detail"])
    parts = []
    counts = node.get("counts")
    if counts is not None:
        done = sum(n for s, n in counts.items() if s in FINAL_STATES)
        parts.append(f"{done:,}/{node['runs']:,}")
        parts += [f"{counts[s]:,} {s}" for s in _UNSUCCESSFUL if counts.get(s)]
    duration = format_duration(node.get("duration"))
    if duration:
        parts.append(duration)
    if node.get("retries"):
        parts.append(f"{node['retries']} retr{'y' if node['retries'] == 1 else 'ies'}")
    if node.get("stale"):
        parts.append(str(node["stale"]))
    return " · ".join(parts)
