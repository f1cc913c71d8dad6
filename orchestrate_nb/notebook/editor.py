"""The notebook as it is in the editor, unsaved edits included.

With the orchestrate-nb labextension, JupyterLab sends the notebook's cells to the kernel
over a comm (target ``orchestrate_nb.editor``) just before it executes a cell with a
``%flow`` line. A kernel handles shell messages in order, so they arrive before that cell
runs. ``%flow run``, ``status`` and ``graph`` then read these cells instead of the saved
file (notebook_file.read_cells), but only in the cell that follows (the contents are fresh
while the kernel's execution count has not moved) and only for the notebook they came
from. Without the extension (Notebook 7 and JupyterLab without it, VS Code, a worker's
papermill run) nothing is sent and the saved file is read, as before.

This module keeps raw cell dicts: notebook_file turns them into SavedCells.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

COMM_TARGET = "orchestrate_nb.editor"
_MAX_CELLS = 20_000

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EditorContents:
    path: str  # as the frontend names it: relative to the Jupyter root
    cells: tuple[dict[str, Any], ...]  # cell_type, source, metadata.tags, id
    execution_count: int  # the kernel's when they arrived
    received: dt.datetime


_latest: EditorContents | None = None
_shell: Any = None


def register(shell: Any) -> bool:
    """Listen for the editor's contents (``%load_ext orchestrate_nb``). False where there
    is no kernel to send them (a terminal IPython)."""
    global _shell
    kernel = getattr(shell, "kernel", None)
    manager = getattr(kernel, "comm_manager", None)
    if manager is None:
        return False
    manager.register_target(COMM_TARGET, _opened)
    _shell = shell
    return True


def unregister(shell: Any) -> None:
    global _shell, _latest
    manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
    if manager is not None:
        manager.unregister_target(COMM_TARGET, _opened)
    _shell, _latest = None, None


def _opened(comm: Any, message: dict[str, Any]) -> None:
    global _latest
    try:
        contents = parse(message.get("content", {}).get("data"), _execution_count())
    finally:
        comm.close()
    if contents is None:
        _log.warning("ignored editor contents that are not a notebook's cells")
        return
    _latest = contents


def parse(data: Any, execution_count: int) -> EditorContents | None:
    """The contents in a comm message's data (``{"path": str, "cells": [...]}``), or None
    for anything else."""
    if not isinstance(data, dict) or not isinstance(data.get("path"), str):
        return None
    cells = data.get("cells")
    if not isinstance(cells, list) or len(cells) > _MAX_CELLS:
        return None
    kept = []
    for cell in cells:
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            return None
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(part) for part in source)
        if not isinstance(source, str):
            return None
        metadata = cell.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        tags = tags if isinstance(tags, list) else []
        cell_id = cell.get("id") if isinstance(cell.get("id"), str) else None
        kept.append({"cell_type": cell["cell_type"], "source": source,
                     "metadata": {"tags": [str(t) for t in tags]}, "id": cell_id})
    return EditorContents(data["path"], tuple(kept), execution_count,
                          dt.datetime.now(dt.timezone.utc))


def _execution_count() -> int:
    return int(getattr(_shell, "execution_count", 0) or 0)


def contents_for(path: Path) -> EditorContents | None:
    """The editor's contents of the notebook at ``path``, if they were sent for the cell
    now running."""
    contents = _latest
    if contents is None or _shell is None or contents.execution_count != _execution_count():
        return None
    return contents if same_notebook(path, contents.path) else None


def same_notebook(path: Path, editor_path: str) -> bool:
    """Whether ``path`` (the kernel's idea of its notebook) is the file the editor names
    (relative to a root the kernel does not know: its trailing parts must agree)."""
    named = PurePosixPath(editor_path.split(":", 1)[-1] if ":" in editor_path.split("/")[0]
                          else editor_path)
    parts = [p for p in named.parts if p not in ("", "/", ".")]
    if not parts:
        return False
    try:
        resolved = path.expanduser().resolve()
    except OSError:
        return False
    return list(resolved.parts[-len(parts):]) == parts
