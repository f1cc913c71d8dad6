"""Where each node of a run graph goes: layers left to right (a node sits one layer right of
its furthest upstream node), rows top to bottom in the order nodes were given (notebook
order). Pure, so the static SVG and the live widget place nodes the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    layer: int  # column, from 0 at the left
    row: int  # row within the layer, from 0 at the top


def layered_layout(nodes: Sequence[str], edges: Iterable[tuple[str, str]]
                   ) -> dict[str, Position]:
    """Positions of ``nodes``; edges between unknown nodes, self-loops and edges closing a
    cycle are ignored (a cycle cannot be layered: its nodes keep the order given)."""
    index = {name: i for i, name in enumerate(nodes)}
    upstream: dict[str, set[str]] = {name: set() for name in nodes}
    for up, down in edges:
        if up in index and down in index and up != down:
            upstream[down].add(up)
    layer: dict[str, int] = {}
    for name in nodes:
        _layer_of(name, upstream, layer, set())
    rows: dict[int, int] = {}
    positions = {}
    for name in nodes:
        column = layer[name]
        positions[name] = Position(column, rows.get(column, 0))
        rows[column] = rows.get(column, 0) + 1
    return positions


def _layer_of(name: str, upstream: dict[str, set[str]], layer: dict[str, int],
              visiting: set[str]) -> int:
    if name in layer:
        return layer[name]
    visiting.add(name)
    parents = [p for p in upstream[name] if p not in visiting]  # a cycle: cut it here
    layer[name] = 1 + max((_layer_of(p, upstream, layer, visiting) for p in parents),
                          default=-1)
    visiting.discard(name)
    return layer[name]
