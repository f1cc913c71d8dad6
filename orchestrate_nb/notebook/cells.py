"""The task cells ``%flow`` talks about: those of the saved notebook, in its order, when the
notebook file can be found; otherwise the ones that ran in this kernel."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from IPython.core.error import UsageError

from orchestrate_nb.notebook.analysis import (
    CellAnalysis,
    CellSyntaxError,
    Edge,
    analyse_cell,
    dependency_edges,
)
from orchestrate_nb.notebook.notebook_file import SavedCell, read_cells
from orchestrate_nb.notebook.options import CellOptions
from orchestrate_nb.notebook.spec import with_overrides
from orchestrate_nb.notebook.state import KernelState


@dataclass(frozen=True)
class TaskCell:
    name: str
    analysis: CellAnalysis  # with --inputs/--outputs applied
    saved: SavedCell | None = None  # None: known only from this kernel
    options: CellOptions | None = None
    mutated: tuple[str, ...] | None = None  # inputs it did change when it ran here

    @property
    def as_producer(self) -> CellAnalysis:
        """For edges, a cell that changes an input also produces it: the inputs it did
        change when it ran in this kernel, else those the analysis is sure of."""
        changed = self.analysis.changed if self.mutated is None else self.mutated
        extra = tuple(n for n in changed if n not in self.analysis.outputs)
        return replace(self.analysis, outputs=self.analysis.outputs + extra)


def saved_task_cell(cell: SavedCell) -> TaskCell:
    """Raises UsageError for a cell with bad options or a syntax error."""
    _, body, options = cell.task_parts()
    try:
        analysis = with_overrides(analyse_cell(body), options)
    except CellSyntaxError as exc:
        raise UsageError(f"cell {cell.index + 1} of the notebook: {exc}") from None
    return TaskCell(options.name or f"cell-{analysis.code_hash[:8]}", analysis, cell, options)


def task_cells_of(kernel: KernelState, notebook: str | None = None, strict: bool = False
                  ) -> tuple[list[TaskCell], Path | None]:
    """The notebook's task cells and its path. Without ``strict``, invalid cells are left
    out and a name used twice means its last cell (status and graph show the rest)."""
    path = kernel.notebook_path(notebook)
    if path is None:
        records = list(kernel.records.values())
        return [TaskCell(r.name, r.analysis, mutated=_mutated(kernel, r.name, None))
                for r in records], None
    cells = [replace(cell, mutated=_mutated(kernel, cell.name, cell.analysis))
             for cell in _saved_task_cells(path, strict)]
    if not strict:
        last: dict[str, TaskCell] = {}
        for cell in reversed(cells):
            last.setdefault(cell.name, cell)
        cells = list(last.values())[::-1]
    return cells, path


def _saved_task_cells(path: Path, strict: bool) -> list[TaskCell]:
    cells = []
    for saved in read_cells(path):
        if saved.is_task:
            try:
                cells.append(saved_task_cell(saved))
            except UsageError:
                if strict:
                    raise
    return cells


def _mutated(kernel: KernelState, name: str, analysis: CellAnalysis | None
             ) -> tuple[str, ...] | None:
    """The inputs the cell changed when it last ran here (None: unknown)."""
    record = kernel.records.get(name)
    if record is None or (analysis is not None and record.code_hash != analysis.code_hash) \
            or record.state not in ("completed", "cached", "not cached"):
        return None
    return tuple(n for n in record.outputs if n in record.inputs)


def edges_of(cells: list[TaskCell]) -> list[Edge]:
    return dependency_edges([(cell.name, cell.as_producer) for cell in cells])
