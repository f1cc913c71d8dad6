"""Editor contents for %flow: with the labextension, ``%flow run`` runs the notebook as it is
in the editor, not as last saved. A ``%%task`` cell edited (and neither run nor saved) runs
with its new code; the file on disk still has the old one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

pytestmark = pytest.mark.ui

NOTEBOOK = "editor_contents.ipynb"
CELLS = (
    "%load_ext orchestrate_nb",
    '%%task answer\nvalue = 1\nprint("value is", value)',
    "%flow run",
    'print("value now", value)',
)
EDITED = '%%task answer\nvalue = 2\nprint("value is", value)'


def _cell(page: Any, index: int) -> Any:
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def _run(page: Any, index: int) -> None:
    _cell(page, index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()


def _replace_source(page: Any, index: int, text: str) -> None:
    editor = _cell(page, index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    lines = text.split("\n")
    for number, line in enumerate(lines):
        page.keyboard.insert_text(line)
        if number < len(lines) - 1:
            page.keyboard.press("Enter")
            page.keyboard.press("Home")  # no auto-indent carried over
    page.keyboard.press("Escape")


def test_flow_run_runs_the_edited_unsaved_code(lab: Any, page: Any, artifacts: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, lab.root / NOTEBOOK)
    page.goto(lab.open_url(NOTEBOOK))
    _cell(page, 0).locator(".jp-InputArea-editor").wait_for()
    lab.wait_for_idle_kernel(NOTEBOOK)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                           state="attached")
    _run(page, 0)
    _cell(page, 0).locator(".jp-InputPrompt:has-text('[1]')").wait_for()

    _replace_source(page, 1, EDITED)
    assert _cell(page, 1).locator(".cm-content").inner_text() == EDITED
    _run(page, 2)
    output = _cell(page, 2).locator(".jp-OutputArea")
    output.locator("text=value is 2").wait_for(timeout=120_000)
    assert "value is 1" not in output.inner_text()
    _run(page, 3)
    _cell(page, 3).locator(".jp-OutputArea >> text=value now 2").wait_for(timeout=60_000)

    saved = nbformat.read(lab.root / NOTEBOOK, as_version=4)
    assert "value = 1" in saved.cells[1].source  # not saved: the editor's code ran
    page.screenshot(path=str(artifacts / "editor_contents.png"), full_page=True)
