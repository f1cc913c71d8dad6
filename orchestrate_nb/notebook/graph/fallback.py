"""The run graph without a widget frontend: the same snapshot the widget draws, as an SVG
(papermill output notebooks, nbconvert, GitHub) and as text. Drawn by ``svg.py``, whose
layout is the widget's, so both pictures put every node in the same place.
"""

from __future__ import annotations

from typing import Any

from orchestrate_nb.notebook.graph.nodes import format_duration, node_detail
from orchestrate_nb.notebook.graph.svg import BOX, GraphEdge, GraphNode, render_svg, render_text

__all__ = ["BOX", "graph_svg", "graph_text", "headline", "node_tooltip"]

_SVG_STATES = {"crashed": "failed", "cancelled": "not run", "paused": "pending"}


def _graph_parts(graph: dict[str, Any]) -> tuple[list[GraphNode], list[GraphEdge]]:
    nodes = graph.get("nodes", [])
    labels = {node["id"]: node["label"] for node in nodes}
    shown = [GraphNode(node["label"], _svg_state(node), node_detail(node), node_tooltip(node))
             for node in nodes]
    edges = [GraphEdge(labels[up], labels[down], label)
             for up, down, label in graph.get("edges", []) if up in labels and down in labels]
    return shown, edges


def node_tooltip(node: dict[str, Any], log_lines: int = 3) -> str:
    """The hover text under a node's name and state: why it failed, its last log lines."""
    error = node.get("error")
    lines = [f"{error['exception']}\n  {error['frame']}"] if error else []
    if node.get("message") and not error:
        lines.append(str(node["message"]))
    lines += [line.split("\n", 1)[0] for line in node.get("logs", [])[-log_lines:]]
    return "\n".join(lines)


def _svg_state(node: dict[str, Any]) -> str:
    if node.get("stale"):
        return "stale"
    return _SVG_STATES.get(node["state"], node["state"])


def headline(graph: dict[str, Any]) -> str:
    flow = graph.get("flow") or {}
    if not flow.get("flow_name"):
        return ""
    parts = [f"{flow['flow_name']} · {flow.get('name', '')}: {flow.get('state', '')}"]
    if flow.get("duration") is not None:
        parts.append(format_duration(flow["duration"]))
    parts.append(f"{graph.get('task_runs', 0):,} task runs")
    return " · ".join(parts)


def graph_svg(graph: dict[str, Any]) -> str:
    nodes, edges = _graph_parts(graph)
    return render_svg(nodes, edges, headline(graph) or None)


def graph_text(graph: dict[str, Any]) -> str:
    nodes, edges = _graph_parts(graph)
    body = render_text(nodes, edges) if nodes else "no task runs"
    head = headline(graph)
    return f"{head}\n{body}" if head else body
