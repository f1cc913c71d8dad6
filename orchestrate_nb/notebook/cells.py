"""The task cells ``%flow`` talks about: those of the saved notebook, in its order, when the
notebook file can be found; otherwise the ones that ran in this kernel.

The code a cell is judged by is the code this kernel ran: a cell run in the kernel after
the notebook was last saved counts with the code it ran (and ``%flow`` says in one line
that the saved file differs); a cell saved after it ran counts with its saved code.

A cell's files (what it read and wrote when it last ran, in this kernel or as the store's
index remembers it) join its inputs and outputs for the edges between cells, labelled with
the file's name: the cell that wrote ``data/sales.csv`` is upstream of the one that read it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from orchestrate_nb.errors import NotebookUsageError
from orchestrate_nb.notebook.analysis import (
    CellAnalysis,
    CellSyntaxError,
    Edge,
    analyse_cell,
    dependency_edges,
)
from orchestrate_nb.notebook.file_state import display_path
from orchestrate_nb.notebook.notebook_file import (
    TASK_MAGIC,
    SavedCell,
    contents_time,
    read_cells,
)
from orchestrate_nb.notebook.options import CellOptions, parse_task_line
from orchestrate_nb.notebook.spec import with_overrides
from orchestrate_nb.notebook.state import CellRecord, KernelState, LastRun, notebook_identity_of

UNSAVED_NOTE = "the saved notebook differs from what this kernel ran ({}): save with Ctrl+S"


@dataclass(frozen=True)
class TaskCell:
    name: str
    analysis: CellAnalysis  # with --inputs/--outputs applied
    saved: SavedCell | None = None  # None: known only from this kernel
    options: CellOptions | None = None
    mutated: tuple[str, ...] | None = None  # inputs it did change when it ran here
    files_read: tuple[str, ...] = ()  # display names of the files it read and wrote
    files_written: tuple[str, ...] = ()
    ran_code: tuple[str, str] | None = None  # (%%task line, body) run here, unsaved

    @property
    def as_producer(self) -> CellAnalysis:
        """For edges, a cell that changes an input also produces it: the inputs it did
        change when it ran in this kernel, else those the analysis is sure of. Files count
        as inputs and outputs by their names."""
        changed = self.analysis.changed if self.mutated is None else self.mutated
        extra = tuple(n for n in (*changed, *self.files_written)
                      if n not in self.analysis.outputs)
        return replace(self.analysis, outputs=self.analysis.outputs + extra,
                       inputs=self.analysis.inputs + self.files_read)

    def code(self) -> tuple[str, str, CellOptions]:
        """``(%%task line, body, options)`` of the code the cell is judged by."""
        if self.ran_code is not None and self.options is not None:
            return (*self.ran_code, self.options)
        assert self.saved is not None
        return self.saved.task_parts()


def saved_task_cell(cell: SavedCell) -> TaskCell:
    """Raises NotebookUsageError for a cell with bad options or a syntax error."""
    _, body, options = cell.task_parts()
    return _task_cell(cell, body, options)


def _task_cell(cell: SavedCell, body: str, options: CellOptions) -> TaskCell:
    try:
        analysis = with_overrides(analyse_cell(body), options)
    except CellSyntaxError as exc:
        raise NotebookUsageError(f"cell {cell.index + 1} of the notebook: {exc}") from None
    return TaskCell(options.name or f"cell-{analysis.code_hash[:8]}", analysis, cell, options)


def task_cells_of(kernel: KernelState, notebook: str | None = None, strict: bool = False
                  ) -> tuple[list[TaskCell], Path | None]:
    """The notebook's task cells and its path. Without ``strict``, invalid cells are left
    out and a name used twice means its last cell (status and graph show the rest)."""
    path = kernel.notebook_path(notebook)
    if path is None:
        records = list(kernel.records.values())
        return [_with_files(TaskCell(r.name, r.analysis, options=_options_of(r),
                                     mutated=_mutated(kernel, r.name, None)),
                            r.last_run) for r in records], None
    cells = [_as_run_here(kernel, cell, path) for cell in _saved_task_cells(path, strict)]
    if not strict:
        last: dict[str, TaskCell] = {}
        for cell in reversed(cells):
            last.setdefault(cell.name, cell)
        cells = list(last.values())[::-1]
    return cells, path


def unsaved_note(cells: list[TaskCell]) -> str | None:
    """One line when cells ran here with code the saved notebook does not have."""
    names = [cell.name for cell in cells if cell.ran_code is not None]
    return UNSAVED_NOTE.format(", ".join(names)) if names else None


def _saved_task_cells(path: Path, strict: bool) -> list[TaskCell]:
    cells = []
    for saved in read_cells(path):
        if saved.is_task:
            try:
                cells.append(saved_task_cell(saved))
            except NotebookUsageError:
                if strict:
                    raise
    return cells


def _as_run_here(kernel: KernelState, cell: TaskCell, path: Path) -> TaskCell:
    """The cell as this kernel ran it, when it ran other code after the file was saved;
    with its files and the inputs it changed."""
    record = _record_of(kernel, cell)
    if record is not None and record.code_hash != cell.analysis.code_hash \
            and record.magic_line.lstrip().startswith(TASK_MAGIC) \
            and _ran_after_saving(record, path):
        assert cell.saved is not None
        options = _options_of(record)
        assert options is not None
        cell = replace(_task_cell(cell.saved, record.body, options),
                       ran_code=(record.magic_line, record.body))
    cell = replace(cell, mutated=_mutated(kernel, cell.name, cell.analysis))
    return _with_files(cell, _last_run_of(kernel, cell, notebook_identity_of(path)))


def _record_of(kernel: KernelState, cell: TaskCell) -> CellRecord | None:
    record = kernel.records.get(cell.name)
    if record is None and cell.options is not None and cell.options.name is None \
            and cell.saved is not None and cell.saved.cell_id:
        identity = f"cell-id:{cell.saved.cell_id}"  # an unnamed cell: by its cell id
        record = next((r for r in kernel.records.values() if r.identity == identity), None)
    return record


def _options_of(record: CellRecord) -> CellOptions | None:
    line = record.magic_line.lstrip()
    return parse_task_line(line[len(TASK_MAGIC):]) if line.startswith(TASK_MAGIC) else None


def _ran_after_saving(record: CellRecord, path: Path) -> bool:
    """Whether the kernel ran the cell after its text was read: saved, or sent by the
    editor (whose contents are newer than anything the kernel ran)."""
    if record.finished is None:
        return False
    saved = contents_time(path)
    if saved is None:
        return True
    return record.finished >= saved


def _last_run_of(kernel: KernelState, cell: TaskCell, notebook: str) -> LastRun | None:
    """How the cell last ran with this code: in this kernel, or as the index says."""
    options = cell.options or CellOptions()
    cell_id = cell.saved.cell_id if cell.saved is not None else None
    identity = options.name or (f"cell-id:{cell_id}" if cell_id else cell.name)
    try:
        last = kernel.last_run(identity, cell.name, notebook)
    except Exception:  # noqa: BLE001 - an unreadable index only loses file edges
        return None
    return last if last is not None and last.code_hash == cell.analysis.code_hash else None


def _with_files(cell: TaskCell, last: LastRun | None) -> TaskCell:
    if last is None or not last.files:
        return cell
    return replace(cell, files_read=tuple(display_path(p) for p in last.read),
                   files_written=tuple(display_path(p) for p in last.written))


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
