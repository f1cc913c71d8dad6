"""The notebook as it is in the editor, unsaved edits included.

With the orchestrate-nb labextension, JupyterLab sends the notebook's cells to the kernel
over a comm (target ``orchestrate_nb.editor``) just before it executes a cell with a
``%flow`` line. A kernel handles shell messages in order, so they arrive before that cell
runs. ``%flow run``, ``status`` and ``graph`` then read these cells instead of the saved
file (notebook_file.read_cells), but only in the cell that runs next (contents that
arrived before a cell starts belong to that cell and are dropped when it ends) and only for
the notebook they came from. Without the extension (Notebook 7 and JupyterLab without it, VS Code, a worker's
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
    received: dt.datetime


_pending: EditorContents | None = None  # arrived, for the next cell to run
_current: EditorContents | None = None  # the running cell's
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
    shell.events.register("pre_run_cell", _cell_starts)
    shell.events.register("post_run_cell", _cell_ended)
    _shell = shell
    return True


def unregister(shell: Any) -> None:
    global _shell, _pending, _current
    manager = getattr(getattr(shell, "kernel", None), "comm_manager", None)
    if manager is None:
        return
    manager.unregister_target(COMM_TARGET, _opened)
    for event, callback in (("pre_run_cell", _cell_starts), ("post_run_cell", _cell_ended)):
        try:
            shell.events.unregister(event, callback)
        except ValueError:
            pass
    _shell, _pending, _current = None, None, None


def _opened(comm: Any, message: dict[str, Any]) -> None:
    global _pending
    try:
        contents = parse(message.get("content", {}).get("data"))
    finally:
        comm.close()
    if contents is None:
        _log.warning("ignored editor contents that are not a notebook's cells")
        return
    _pending = contents


def _cell_starts(*_: Any) -> None:
    global _pending, _current
    _current, _pending = _pending, None


def _cell_ended(*_: Any) -> None:
    global _current
    _current = None


def parse(data: Any) -> EditorContents | None:
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
    return EditorContents(data["path"], tuple(kept), dt.datetime.now(dt.timezone.utc))


def contents_for(path: Path) -> EditorContents | None:
    """The editor's contents of the notebook at ``path``, if they were sent for the cell
    now running."""
    contents = _current
    if contents is None:
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
