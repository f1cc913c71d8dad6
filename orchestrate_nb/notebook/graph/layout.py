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
        _layer_of(name, upstream, layer)
    rows: dict[int, int] = {}
    positions = {}
    for name in nodes:
        column = layer[name]
        positions[name] = Position(column, rows.get(column, 0))
        rows[column] = rows.get(column, 0) + 1
    return positions


def _layer_of(start: str, upstream: dict[str, set[str]], layer: dict[str, int]) -> None:
    """Layer ``start`` and every node upstream of it: one right of the furthest parent.

    A depth-first walk with an explicit stack (a chain of thousands of task runs is deeper
    than Python's recursion limit); a parent already on the path closes a cycle: cut there.
    """
    if start in layer:
        return
    furthest = {start: -1}  # nodes on the path -> the furthest layer among their parents
    stack = [(start, iter(upstream[start]))]
    while stack:
        name, parents = stack[-1]
        for parent in parents:
            if parent in layer:
                furthest[name] = max(furthest[name], layer[parent])
            elif parent not in furthest:
                furthest[parent] = -1
                stack.append((parent, iter(upstream[parent])))
                break
        else:
            stack.pop()
            layer[name] = 1 + furthest.pop(name)
            if stack:
                below = stack[-1][0]
                furthest[below] = max(furthest[below], layer[name])
