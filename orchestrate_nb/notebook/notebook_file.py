"""The notebook a kernel belongs to, and its saved cells.

A kernel does not know its notebook for sure. JupyterLab and Notebook 7 tell ipykernel the
notebook's path (``JPY_SESSION_NAME``, which ipykernel puts in ``__session__``); VS Code
sets ``__vsc_ipynb_file__``. ``%flow run --notebook PATH`` covers the rest.

Its cells are the file's, unless the labextension sent the editor's contents for the cell
now running (editor.py): then those, unsaved edits included.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrate_nb.errors import NotebookUsageError
from orchestrate_nb.notebook import editor
from orchestrate_nb.notebook.options import CellOptions, parse_task_line

DEFAULT_FLOW_NAME = "notebook"
_NAMESPACE_HINTS = ("__session__", "__vsc_ipynb_file__")
_SESSION_ENV = "JPY_SESSION_NAME"
TASK_MAGIC = "%%task"


@dataclass(frozen=True)
class SavedCell:
    """A code cell of the saved notebook."""

    index: int  # position among all the notebook's cells
    source: str
    tags: tuple[str, ...]
    cell_id: str | None

    @property
    def is_task(self) -> bool:
        return self.source.lstrip().startswith(TASK_MAGIC)

    def task_parts(self) -> tuple[str, str, CellOptions]:
        """``(magic line, body, options)`` of a ``%%task`` cell."""
        text = self.source.lstrip()
        first, _, body = text.partition("\n")
        options = parse_task_line(first[len(TASK_MAGIC):])
        return first, body, options


def _hints(shell: Any) -> list[str]:
    namespace = getattr(shell, "user_ns", {})
    found = [namespace.get(name) for name in _NAMESPACE_HINTS]
    found.append(os.environ.get(_SESSION_ENV))
    return [str(hint) for hint in found if hint]


def find_notebook(shell: Any, explicit: str | None = None) -> Path | None:
    """The notebook file: ``explicit`` if given, else what the frontend said, if it exists
    (as given, or in the kernel's working directory, where the notebook normally is)."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise NotebookUsageError(f"--notebook {explicit}: no such file")
        return path
    for hint in _hints(shell):
        for path in (Path(hint).expanduser(), Path.cwd() / Path(hint).name):
            if path.suffix == ".ipynb" and path.is_file():
                return path
    return None


def require_notebook(path: Path | None) -> Path:
    if path is None:
        raise NotebookUsageError("can't find this notebook's file; save it and pass "
                                 "--notebook PATH (e.g. %flow run --notebook analysis.ipynb)")
    return path


def flow_name_of(shell: Any) -> str:
    """The flow name of a notebook's runs: its file's stem, else "notebook"."""
    for hint in _hints(shell):
        stem = Path(hint).stem
        if stem:
            return stem
    return DEFAULT_FLOW_NAME


def read_cells(path: Path) -> list[SavedCell]:
    """The notebook's code cells, in order: as the editor has them when the labextension
    sent them for this cell, else as saved (read as JSON: a kernel may have no nbformat
    installed)."""
    contents = editor.contents_for(path)
    if contents is not None:
        return [_saved_cell(index, cell) for index, cell in enumerate(contents.cells)
                if cell.get("cell_type") == "code"]
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        return [_saved_cell(index, cell) for index, cell in enumerate(cells)
                if cell.get("cell_type") == "code"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise NotebookUsageError(f"can't read the notebook {path}: {exc}") from None


def contents_time(path: Path) -> dt.datetime | None:
    """When the cells read_cells gives were current: the editor's contents' arrival, else
    the file's modification time (None if it has none)."""
    contents = editor.contents_for(path)
    if contents is not None:
        return contents.received
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    except OSError:
        return None


def _saved_cell(index: int, cell: dict[str, Any]) -> SavedCell:
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    tags = cell.get("metadata", {}).get("tags", ())
    return SavedCell(index, text, tuple(str(t) for t in tags), cell.get("id"))
