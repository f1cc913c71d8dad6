"""Edge labels of the static graph: a file edge keeps the file's name when clipped, and the
whole label is the hover title (no Jupyter, no browser)."""

from __future__ import annotations

import re

from orchestrate_nb.notebook.graph.svg import GraphEdge, GraphNode, render_svg


def _labels(svg: str) -> list[str]:
    return re.findall(r'text-anchor="middle"><title>[^<]*</title>([^<]*)</text>', svg)


def _titles(svg: str) -> list[str]:
    return re.findall(r'text-anchor="middle"><title>([^<]*)</title>', svg)


def test_a_clipped_file_edge_shows_the_files_name_and_the_whole_path_on_hover() -> None:
    nodes = [GraphNode("make_csv", "completed"), GraphNode("load", "completed"),
             GraphNode("clean", "completed"), GraphNode("report", "completed")]
    edges = [GraphEdge("make_csv", "load", "data/sales.csv"),
             GraphEdge("load", "clean", "sales"),
             GraphEdge("clean", "report", "out/2026/quarterly_summary.parquet")]

    svg = render_svg(nodes, edges)

    assert _labels(svg) == ["…/sales.csv", "sales", "…ary.parquet"]
    assert _titles(svg) == ["data/sales.csv", "sales", "out/2026/quarterly_summary.parquet"]


def test_a_long_variable_label_is_still_clipped_at_its_end() -> None:
    svg = render_svg([GraphNode("a", "completed"), GraphNode("b", "completed")],
                     [GraphEdge("a", "b", "clean_sales, totals")])
    assert _labels(svg) == ["clean_sales…"]
