"""Real kernels for the notebook magics: notebooks built from cell sources, executed with
nbclient in a working directory of their own, against a private ``ORCHESTRATE_NB_HOME``.

A kernel inherits the environment it is started with, so tests set variables
(``ORCHESTRATE_NB_HOME``, ``JPY_SESSION_NAME``, ``IPYTHONDIR``) before executing.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

LOAD = "%load_ext orchestrate_nb"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def notebook_of(cells: Sequence[str], tags: dict[int, list[str]] | None = None) -> Any:
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells])
    for index, cell_tags in (tags or {}).items():
        notebook.cells[index].metadata["tags"] = cell_tags
    return notebook


def execute(notebook: Any, cwd: Path, allow_errors: bool = True) -> Any:
    """Execute in a fresh kernel (a "restart": nothing survives but files)."""
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def run_cells(cells: Sequence[str], cwd: Path, **kwargs: Any) -> list[Any]:
    """Execute cells in a fresh kernel; their outputs, one list per cell."""
    return [cell.outputs for cell in execute(notebook_of(cells), cwd, **kwargs).cells]


def plain(text: str) -> str:
    return _ANSI.sub("", text)


def stream(outputs: list[Any], name: str = "stdout") -> str:
    return "".join(o.text for o in outputs if o.output_type == "stream" and o.name == name)


_RUN_LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \| ")


def printed(outputs: list[Any]) -> str:
    """What the cell printed on stdout, without the run logger's INFO lines (in a kernel,
    lines below WARNING go to stdout too)."""
    return "".join(line for line in stream(outputs).splitlines(keepends=True)
                   if not _RUN_LOG_LINE.match(line))


def displays(outputs: list[Any]) -> list[dict[str, Any]]:
    return [dict(o.data) for o in outputs if o.output_type == "display_data"]


def badges(outputs: list[Any]) -> list[str]:
    return [d["text/plain"] for d in displays(outputs)
            if "orchestrate-nb-badge" in d.get("text/html", "")]


def badge(outputs: list[Any]) -> str:
    found = badges(outputs)
    assert len(found) == 1, f"expected one badge, got {found} in {outputs}"
    return found[0]


def result(outputs: list[Any]) -> str | None:
    values = [o.data["text/plain"] for o in outputs if o.output_type == "execute_result"]
    return values[0] if values else None


def error(outputs: list[Any]) -> Any:
    errors = [o for o in outputs if o.output_type == "error"]
    assert len(errors) == 1, f"expected one error output, got {outputs}"
    return errors[0]


def traceback_text(outputs: list[Any]) -> str:
    return plain("\n".join(error(outputs).traceback))


def query(home: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the run store (read after the kernel has shut down and flushed)."""
    with sqlite3.connect(home / "orchestrate_nb.db") as connection:
        return list(connection.execute(sql))
