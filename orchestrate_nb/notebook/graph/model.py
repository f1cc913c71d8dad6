"""The run graph as the widget and the static SVG see it: RunEvents in, nodes and edges out.

Pure and incremental (no Jupyter, no clock of its own): ``apply`` costs a dictionary lookup
or two per event, so a flow of 10,000 task runs folds into the graph in milliseconds.

Readability rules: the mapped runs of one task in one flow run are one node with counts by
state; so are a task's direct calls once there are more than ``group_threshold`` of them
(a loop of 1,000 calls is one node, not 1,000); a subflow is one node whose counts are the
task runs inside it. Node order is creation order, which the layout keeps within a layer.
"""

from __future__ import annotations

import datetime as _dt
from collections import deque
from collections.abc import Callable, Iterable
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
from orchestrate_nb.notebook.graph.layout import Position, layered_layout
from orchestrate_nb.notebook.graph.nodes import (
    FINAL_STATES,
    STATE_MEMO,
    UNTIMED_STATES,
    Node,
    display_state,
    log_line,
)

LOG_LINES = 5
GROUP_THRESHOLD = 20


@dataclass
class FlowInfo:
    """The root flow run: the widget's header."""

    id: str | None = None
    flow_name: str = ""
    name: str = ""
    state: str = "pending"
    message: str | None = None
    start: _dt.datetime | None = None
    end: _dt.datetime | None = None
    logs: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))


class _Run:
    __slots__ = ("node", "state")

    def __init__(self, node: Node, state: str) -> None:
        self.node = node
        self.state = state


class _Bucket:
    """The direct (unmapped) calls of one task in the root flow run."""

    __slots__ = ("runs", "group")

    def __init__(self) -> None:
        self.runs: list[_Run] = []
        self.group: Node | None = None


class GraphModel:
    """Folds the events of one root flow run (and its subflows) into a graph."""

    def __init__(self, root_flow_run_id: str | None = None, *, log_lines: int = LOG_LINES,
                 group_threshold: int = GROUP_THRESHOLD) -> None:
        self.flow = FlowInfo(id=root_flow_run_id, logs=deque(maxlen=log_lines))
        self.log_lines = log_lines
        self.group_threshold = group_threshold
        self.nodes: dict[str, Node] = {}
        self.edges: dict[tuple[str, str], dict[str, None]] = {}  # node pair -> input names
        self.changed = True  # something to show since the last snapshot
        self.structure = 0  # bumped when nodes or edges come or go (the layout is cached on it)
        self.task_runs = 0
        # flow run id -> the node standing for it (None: the root flow run itself)
        self._flows: dict[str, Node | None] = {}
        if root_flow_run_id is not None:
            self._flows[root_flow_run_id] = None
        self._runs: dict[str, _Run] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._mapped: dict[str, Node] = {}
        self._planned: dict[str, Node] = {}  # task name -> a node drawn before its run
        self._run_edges: list[tuple[_Run, _Run, str]] = []
        self._labels: set[str] = set()
        self._layout: tuple[int, dict[str, Position]] | None = None
        self._handlers: dict[type, Callable[[Any], None]] = {
            StateChanged: self._on_state, TaskRunCreated: self._on_task_run,
            DependencyEdge: self._on_edge, LogEmitted: self._on_log,
            FlowRunCreated: self._on_flow_run,
        }

    # -- events --------------------------------------------------------------------------
    def apply(self, event: RunEvent) -> None:
        self._handlers[type(event)](event)

    def apply_all(self, events: Iterable[RunEvent]) -> None:
        handlers = self._handlers
        for event in events:
            handlers[type(event)](event)

    def drain(self, queue: deque[RunEvent]) -> None:
        """Apply the events queued so far (others may be appended meanwhile)."""
        handlers, popleft = self._handlers, queue.popleft
        for _ in range(len(queue)):
            event = popleft()
            handlers[type(event)](event)

    def _on_flow_run(self, e: FlowRunCreated) -> None:
        if self.flow.id is None and e.parent_flow_run_id is None:
            self.flow.id = e.id
            self._flows[e.id] = None
        if e.id == self.flow.id:
            self.flow.flow_name, self.flow.name = e.flow_name, e.name
            self.changed = True
            return
        if e.parent_flow_run_id not in self._flows:
            return
        outer = self._flows[e.parent_flow_run_id]
        if outer is None:  # a subflow of the root: a node of its own
            outer = self._add_node(Node(e.id, self._unique(e.flow_name), "flow", self.log_lines))
        self._flows[e.id] = outer

    def _on_task_run(self, e: TaskRunCreated) -> None:
        flows = self._flows
        if e.flow_run_id not in flows:
            return
        scope = flows[e.flow_run_id]
        self.task_runs += 1
        bucket = None
        if scope is not None:  # inside a subflow: counted on the subflow's node
            node = scope
        elif e.map_index >= 0:
            node = self._mapped.get(e.task_key) or self._new_group(e.task_key, e.task_name)
        elif e.task_name in self._planned:  # a task cell shown before it ran
            node = self._planned.pop(e.task_name)
            node.bind_run()
        else:
            bucket = self._buckets.get(e.task_key) or self._new_bucket(e.task_key)
            node = bucket.group or self._direct_call_node(bucket, e)
        state = STATE_MEMO.get((e.state_type, e.state_name)) or display_state(
            e.state_type, e.state_name)
        run = self._runs[e.id] = _Run(node, state)
        if bucket is not None:
            bucket.runs.append(run)
        node.runs += 1
        node.counts[state] = node.counts.get(state, 0) + 1
        self.changed = True

    def _direct_call_node(self, bucket: _Bucket, e: TaskRunCreated) -> Node:
        if len(bucket.runs) >= self.group_threshold:
            return self._collapse(bucket, e.task_key, e.task_name)
        return self._add_node(Node(e.id, self._unique(e.name), "task", self.log_lines))

    def _new_bucket(self, task_key: str) -> _Bucket:
        bucket = self._buckets[task_key] = _Bucket()
        return bucket

    def _new_group(self, task_key: str, task_name: str) -> Node:
        label = self._unique(f"{task_name} (mapped)")
        node = self._mapped[task_key] = self._add_node(
            Node(f"map:{task_key}", label, "group", self.log_lines))
        return node

    def _collapse(self, bucket: _Bucket, task_key: str, task_name: str) -> Node:
        """Fold a task's direct calls into one node once there are too many to draw."""
        group = Node(f"calls:{task_key}", self._unique(f"{task_name} (calls)"), "group",
                     self.log_lines)
        old = [run.node for run in bucket.runs]
        for node in old:
            group.absorb(node)
        index = next(i for i, key in enumerate(self.nodes) if key == old[0].id)
        keep = [n for n in self.nodes.values() if n not in old]
        keep.insert(index, group)
        self.nodes = {n.id: n for n in keep}
        for run in bucket.runs:
            run.node = group
        bucket.group = group
        self._rebuild_edges()
        return group

    def _on_state(self, e: StateChanged) -> None:
        # the hottest handler (two events per task run): kept flat on purpose
        run = self._runs.get(e.run_id)
        if run is None:
            self._on_flow_state(e)
            return
        state = STATE_MEMO.get((e.state_type, e.state_name)) or display_state(
            e.state_type, e.state_name)
        node = run.node
        counts = node.counts
        counts[run.state] -= 1
        counts[state] = counts.get(state, 0) + 1
        run.state = state
        if state not in UNTIMED_STATES:
            node.stamp(state, e)
        self.changed = True

    def _on_flow_state(self, e: StateChanged) -> None:
        if e.run_id == self.flow.id:
            self._flow_state(e)
            return
        subflow = self._flows.get(e.run_id)
        if subflow is not None and subflow.id == e.run_id:
            subflow.set_flow_state(display_state(e.state_type, e.state_name), e)
            self.changed = True

    def _flow_state(self, e: StateChanged) -> None:
        flow = self.flow
        flow.state = display_state(e.state_type, e.state_name)
        flow.message = e.message
        if e.state_type == "RUNNING" and flow.start is None:
            flow.start = e.timestamp
        elif flow.state in FINAL_STATES:
            flow.end = e.timestamp
        self.changed = True

    def _on_edge(self, e: DependencyEdge) -> None:
        up = self._runs.get(e.upstream_task_run_id)
        down = self._runs.get(e.downstream_task_run_id)
        if up is None or down is None:
            return
        self._run_edges.append((up, down, e.input_name))
        self._link(up.node.id, down.node.id, e.input_name)

    def _on_log(self, e: LogEmitted) -> None:
        if e.task_run_id is not None:
            run = self._runs.get(e.task_run_id)
            if run is None:
                return
            run.node.log(log_line(e), e.message)
        elif e.flow_run_id == self.flow.id and e.flow_run_id is not None:
            self.flow.logs.append(log_line(e))
        else:
            node = self._flows.get(e.flow_run_id or "")
            if node is None:
                return
            node.log(log_line(e))
        self.changed = True

    # -- structure -----------------------------------------------------------------------
    def _add_node(self, node: Node) -> Node:
        self.nodes[node.id] = node
        self.structure += 1
        self.changed = True
        return node

    def _unique(self, label: str) -> str:
        unique, n = label, 1
        while unique in self._labels:
            n += 1
            unique = f"{label} #{n}"
        self._labels.add(unique)
        return unique

    def _link(self, up: str, down: str, label: str) -> None:
        if up == down:
            return
        labels = self.edges.get((up, down))
        if labels is None:
            self.edges[(up, down)] = {label: None}
            self.structure += 1
            self.changed = True
        elif label not in labels:
            labels[label] = None
            self.changed = True

    def _rebuild_edges(self) -> None:
        self.edges = {}
        for up, down, label in self._run_edges:
            self._link(up.node.id, down.node.id, label)
        self.structure += 1

    # -- what is known outside the run (the notebook's task cells and their states) --------
    def plan(self, name: str, state: str, detail: str = "", stale: str | None = None) -> None:
        """A node drawn before any run: ``state`` (e.g. cached, stale, never run) until a
        task run of the task called ``name`` starts in this graph's flow run."""
        node = Node(f"plan:{name}", self._unique(name), "task", self.log_lines)
        node.plan(state, detail, stale)
        self._planned[name] = self._add_node(node)

    def plan_edge(self, up: str, down: str, label: str) -> None:
        if f"plan:{up}" in self.nodes and f"plan:{down}" in self.nodes:
            self._link(f"plan:{up}", f"plan:{down}", label)

    def mark_stale(self, label: str, reason: str = "stale") -> bool:
        """Mark the node labelled ``label`` stale (an upstream cell changed)."""
        for node in self.nodes.values():
            if node.label == label:
                node.mark_stale(reason)
                self.changed = True
                return True
        return False

    # -- what the widget and the static SVG receive ----------------------------------------
    def snapshot(self, now: float) -> dict[str, Any]:
        """The whole graph, JSON-safe; ``now`` (epoch seconds) times the running nodes."""
        self.changed = False
        positions = self._positions()
        nodes = []
        for node in self.nodes.values():
            data = node.as_dict(now)
            position = positions[node.id]
            data["layer"], data["row"] = position.layer, position.row
            nodes.append(data)
        return {"flow": self._flow_dict(now), "nodes": nodes,
                "edges": [[up, down, ", ".join(labels)]
                          for (up, down), labels in self.edges.items()],
                "task_runs": self.task_runs}

    def _positions(self) -> dict[str, Position]:
        if self._layout is None or self._layout[0] != self.structure:
            positions = layered_layout(list(self.nodes), list(self.edges))
            self._layout = (self.structure, positions)
        return self._layout[1]

    def _flow_dict(self, now: float) -> dict[str, Any]:
        flow = self.flow
        duration = None
        if flow.start is not None:
            end = flow.end.timestamp() if flow.end is not None else now
            duration = round(end - flow.start.timestamp(), 3)
        return {"id": flow.id, "flow_name": flow.flow_name, "name": flow.name,
                "state": flow.state, "message": flow.message, "duration": duration,
                "logs": list(flow.logs)}
