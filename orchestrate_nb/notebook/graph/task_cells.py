"""The notebook's task cells as a graph coloured by state: what ``%flow graph`` shows, and the
nodes ``%flow run`` starts its live graph from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orchestrate_nb.notebook.analysis import Edge
from orchestrate_nb.notebook.cells import TaskCell
from orchestrate_nb.notebook.explain import format_seconds
from orchestrate_nb.notebook.graph.svg import GraphNode, merge_edges, render_svg, render_text
from orchestrate_nb.notebook.state import KernelState
from orchestrate_nb.notebook.status import show, statuses


def show_graph(kernel: KernelState, cells: Sequence[TaskCell], edges: Sequence[Edge]) -> None:
    """The task cells as a graph coloured by state: the run-graph widget, which carries an
    SVG and text for plain frontends (the SVG and text alone when widgets are off)."""
    from orchestrate_nb.notebook.graph.live import show_planned_graph

    found = statuses(kernel, cells, edges)
    nodes = graph_nodes(cells, set(), found)
    merged = merge_edges(edges)
    if show_planned_graph(nodes, merged):
        return
    bundle = {"text/plain": render_text(nodes, merged)}
    if nodes:
        bundle["image/svg+xml"] = render_svg(nodes, merged)
    show(kernel.shell, bundle)


def graph_nodes(cells: Sequence[TaskCell], running: set[str],
                found: dict[str, Any]) -> list[GraphNode]:
    """The cells as graph nodes: those about to run pending, the others as they stand."""
    return [GraphNode(c.name, "pending") if c.name in running
            else GraphNode(c.name, found[c.name].state, _detail(found[c.name])) for c in cells]


def _detail(status: Any) -> str:
    if status.state in ("stale", "failed", "not run"):
        return str(status.why).removeprefix("failed: ").removeprefix("not run: ")
    return format_seconds(status.duration) if status.duration is not None else ""
