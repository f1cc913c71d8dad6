"""A static picture of the task cells' graph: an SVG (what notebooks without a widget
frontend keep, GitHub included) and the same graph as text.

Nodes are coloured by state (completed, cached, failed, stale, never run...), edges are
labelled with the variables that flow along them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from orchestrate_nb.notebook.graph.layout import Position, layered_layout
from orchestrate_nb.notebook.graph.states import MUTED, STATE_COLOURS, STATE_MARKS

_WIDTH, _HEIGHT, _GAP_X, _GAP_Y, _MARGIN = 176, 46, 72, 20, 12
_TITLE_HEIGHT = 24
# node size and spacing in pixels: the live widget draws its boxes where this SVG does
BOX = {"width": _WIDTH, "height": _HEIGHT, "gap_x": _GAP_X, "gap_y": _GAP_Y,
       "margin": _MARGIN}


@dataclass(frozen=True)
class GraphNode:
    name: str
    state: str
    detail: str = ""  # a duration, or why it is stale
    tooltip: str = ""  # more lines for the hover title (message, failure, last log lines)


@dataclass(frozen=True)
class GraphEdge:
    up: str
    down: str
    label: str  # the variables, "df, n"


def merge_edges(edges: Sequence[tuple[str, str, str]]) -> list[GraphEdge]:
    """One edge per pair of cells, labelled with every variable passed along it."""
    labels: dict[tuple[str, str], list[str]] = {}
    for up, down, variable in edges:
        if up != down:
            labels.setdefault((up, down), []).append(variable)
    return [GraphEdge(up, down, ", ".join(dict.fromkeys(names)))
            for (up, down), names in labels.items()]


def render_text(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> str:
    if not nodes:
        return "no task cells"
    positions = layered_layout([n.name for n in nodes], [(e.up, e.down) for e in edges])
    width = max(len(n.name) for n in nodes)
    lines = []
    for node in sorted(nodes, key=lambda n: (positions[n.name].layer, positions[n.name].row)):
        state = f"{STATE_MARKS.get(node.state, '?')} {node.state}"
        detail = f" ({node.detail})" if node.detail else ""
        targets = [f"{e.down} ({e.label})" for e in edges if e.up == node.name]
        arrow = f"  → {', '.join(targets)}" if targets else ""
        lines.append(f"{node.name:<{width}}  {state}{detail}{arrow}")
    return "\n".join(lines)


def render_svg(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge],
               title: str | None = None) -> str:
    """The graph as an SVG; ``title`` (a flow run's name and state) goes above it."""
    positions = layered_layout([n.name for n in nodes], [(e.up, e.down) for e in edges])
    layers = 1 + max((p.layer for p in positions.values()), default=0)
    rows = 1 + max((p.row for p in positions.values()), default=0)
    top = _TITLE_HEIGHT if title else 0
    width = 2 * _MARGIN + layers * _WIDTH + (layers - 1) * _GAP_X
    height = top + 2 * _MARGIN + rows * _HEIGHT + (rows - 1) * _GAP_Y
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
             'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
             '<path d="M 0 0 L 10 5 L 0 10 z" fill="#8c959f"/></marker></defs>']
    if title:
        # JupyterLab's text colour when drawn inline (readable on a dark theme too)
        parts.append(f'<text x="{_MARGIN}" y="{_MARGIN + 8}" font-size="13" '
                     f'font-weight="bold" fill="#24292f" '
                     f'style="fill:var(--jp-content-font-color1,#24292f)">{escape(title)}</text>'
                     f'<g transform="translate(0,{top})">')
    parts += [_edge(edge, positions) for edge in edges
              if edge.up in positions and edge.down in positions]
    parts += [_node(node, positions[node.name]) for node in nodes]
    parts.append("</g></svg>" if title else "</svg>")
    return "\n".join(parts)


def _corner(position: Position) -> tuple[int, int]:
    return (_MARGIN + position.layer * (_WIDTH + _GAP_X),
            _MARGIN + position.row * (_HEIGHT + _GAP_Y))


def _edge(edge: GraphEdge, positions: dict[str, Position]) -> str:
    x1, y1 = _corner(positions[edge.up])
    x2, y2 = _corner(positions[edge.down])
    x1, y1, y2 = x1 + _WIDTH, y1 + _HEIGHT // 2, y2 + _HEIGHT // 2
    bend = max(30, (x2 - x1) // 2)
    path = f"M {x1} {y1} C {x1 + bend} {y1}, {x2 - bend} {y2}, {x2} {y2}"
    label = escape(clip_label(edge.label, 12))  # what fits between two layers
    return (f'<path d="{path}" fill="none" stroke="#8c959f" stroke-width="1.5" '
            f'marker-end="url(#arrow)"/><text x="{(x1 + x2) // 2}" y="{(y1 + y2) // 2 - 4}" '
            f'font-size="10" fill="#57606a" text-anchor="middle">'
            f'<title>{escape(edge.label)}</title>{label}</text>')


def _node(node: GraphNode, position: Position) -> str:
    x, y = _corner(position)
    colour = STATE_COLOURS.get(node.state, MUTED)
    status = node.state + (f" · {node.detail}" if node.detail else "")
    title = f"{node.name}: {status}" + (f"\n{node.tooltip}" if node.tooltip else "")
    # the live widget's test hooks, so a saved graph is checked like the live one
    return (f'<g data-testid="onb-node" data-label="{escape(node.name)}" '
            f'data-state="{escape(node.state)}"><title>{escape(title)}</title>'
            f'<rect x="{x}" y="{y}" width="{_WIDTH}" height="{_HEIGHT}" rx="6" fill="#ffffff" '
            f'stroke="{colour}" stroke-width="2"/>'
            f'<rect x="{x}" y="{y}" width="6" height="{_HEIGHT}" rx="3" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{y + 19}" font-size="13" font-weight="bold" '
            f'fill="#24292f">{escape(_clip(node.name, 20))}</text>'
            f'<text x="{x + 14}" y="{y + 36}" font-size="11" fill="{colour}">'
            f'{escape(_clip(status, 27))}</text></g>')


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def clip_label(text: str, limit: int) -> str:
    """An edge label that fits; a file path keeps its end, since the file's name is what
    tells two edges apart (``data/sales.csv`` -> ``…/sales.csv``, not ``data/sales.…``)."""
    if len(text) <= limit or "/" not in text:
        return _clip(text, limit)
    name = text.rsplit("/", 1)[1]
    return "…/" + name if len(name) + 2 <= limit else "…" + text[-(limit - 1):]
