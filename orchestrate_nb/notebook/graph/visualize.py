"""``Flow.visualize()``: the flow's task graph, traced without running its tasks
(``engine/visualize.py``), drawn as the run graph's static SVG (every node pending)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orchestrate_nb.engine.visualize import TaskGraph, trace_flow
from orchestrate_nb.notebook.graph.svg import GraphNode, merge_edges, render_svg, render_text


class FlowGraphPicture:
    """The drawn graph: shown inline by Jupyter (``_repr_svg_``); ``.svg`` is the SVG,
    ``.text`` the same graph as text, ``save(path)`` writes the SVG."""

    def __init__(self, graph: TaskGraph) -> None:
        self.graph = graph
        nodes = [GraphNode(name, "pending") for name in graph.nodes]
        edges = merge_edges(graph.edges)
        self.svg = render_svg(nodes, edges, title=f"flow {graph.flow_name!r}")
        self.text = render_text(nodes, edges)

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(self.svg)
        return target

    def __repr__(self) -> str:
        return self.text


def visualize_flow(flow: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
                   ) -> FlowGraphPicture:
    return FlowGraphPicture(trace_flow(flow, args, kwargs))
