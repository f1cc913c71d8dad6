"""Dependencies between task cells: edges (who produces what another reads), a run order
that puts producers first, cycles described in one line, and what lies downstream.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from orchestrate_nb.errors import OrchestrateError

if TYPE_CHECKING:
    from orchestrate_nb.notebook.analysis import CellAnalysis

Edge = tuple[str, str, str]


class CellCycleError(OrchestrateError):
    """Task cells depend on each other in a circle, so no run order exists."""


class DuplicateCellNameError(OrchestrateError, ValueError):
    """Two task cells share a name, so dependencies between them would be ambiguous."""




def dependency_edges(cells: Sequence[tuple[str, CellAnalysis]]) -> list[Edge]:
    """``(upstream, downstream, variable)`` for every input some other cell produces.

    The producer of a name is the latest cell *before* the reader that outputs it (what
    running the notebook top to bottom does); failing that, the latest cell after it.
    """
    _check_unique([name for name, _ in cells])
    producers: dict[str, list[int]] = {}
    for index, (_, analysis) in enumerate(cells):
        for variable in analysis.outputs:
            producers.setdefault(variable, []).append(index)
    edges: list[Edge] = []
    for index, (name, analysis) in enumerate(cells):
        for variable in analysis.inputs:
            producer = _producer(producers.get(variable, []), index)
            if producer is not None:
                edges.append((cells[producer][0], name, variable))
    return edges


def _producer(indexes: list[int], reader: int) -> int | None:
    before = bisect.bisect_left(indexes, reader)
    if before:
        return indexes[before - 1]
    return indexes[-1] if indexes and indexes[-1] > reader else None


def _check_unique(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DuplicateCellNameError(f"two task cells are named {name!r}; "
                                         "give one of them another name (%%task NAME)")
        seen.add(name)


def dependency_order(cells: Sequence[tuple[str, CellAnalysis]]) -> list[str]:
    """Cell names ordered so producers come first; otherwise notebook order is kept."""
    position = {name: index for index, (name, _) in enumerate(cells)}
    upstream: dict[str, set[str]] = {name: set() for name in position}
    downstream: dict[str, set[str]] = {name: set() for name in position}
    for up, down, _ in dependency_edges(cells):
        if up != down:
            upstream[down].add(up)
            downstream[up].add(down)
    waiting = {name: len(ups) for name, ups in upstream.items()}
    ready = [position[name] for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)  # among cells ready to run, the earliest in the notebook goes first
    order: list[str] = []
    while ready:
        name = cells[heapq.heappop(ready)][0]
        order.append(name)
        for down in downstream[name]:
            waiting[down] -= 1
            if waiting[down] == 0:
                heapq.heappush(ready, position[down])
    if len(order) < len(cells):
        raise CellCycleError(_describe_cycle(set(position) - set(order), upstream, position))
    return order


def _describe_cycle(stuck: set[str], upstream: dict[str, set[str]],
                    position: dict[str, int]) -> str:
    """Follow upstream links from a stuck cell until one repeats: that loop is a cycle."""
    path: list[str] = []
    current = min(stuck, key=position.__getitem__)
    while current not in path:
        path.append(current)
        current = min(upstream[current] & stuck, key=position.__getitem__)
    loop = path[path.index(current):][::-1]  # upstream first
    start = loop.index(min(loop, key=position.__getitem__))
    loop = loop[start:] + loop[:start]
    return (f"cells form a cycle: {' → '.join([*loop, loop[0]])}; "
            "reorder them or set --inputs/--outputs to break it")


def downstream_of(edges: Iterable[Edge], changed_cell: str) -> set[str]:
    """Every cell that depends, directly or through others, on ``changed_cell``."""
    children: dict[str, set[str]] = {}
    for up, down, _ in edges:
        children.setdefault(up, set()).add(down)
    stale: set[str] = set()
    frontier = [changed_cell]
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in stale:
                stale.add(child)
                frontier.append(child)
    stale.discard(changed_cell)
    return stale
