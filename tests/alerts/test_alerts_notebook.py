"""notebooks/04_alerts_and_artifacts.ipynb is executed, top to bottom, as CI does."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "notebook"))
from kernels import execute, printed, stream  # noqa: E402

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "04_alerts_and_artifacts.ipynb"
pytestmark = pytest.mark.timeout(300)


def test_the_notebook_is_stored_with_its_outputs_cleared():
    notebook = nbformat.read(str(NOTEBOOK), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_alerts_and_artifacts_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    # `!orchestrate-nb ...` cells: the command of this interpreter's environment
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    notebook = execute(nbformat.read(str(NOTEBOOK), as_version=4), tmp_path,
                       allow_errors=False)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    text = "\n".join(printed(cell.outputs) + stream(cell.outputs, "stderr") for cell in code)
    assert "demo-token-0123456789" not in text and "calling the API with **********" in text
    assert "sales-by-region" in text and "cell-note" in text
    assert "Sent a test message to slack-webhook/team-slack" in text
    assert "Failed: demo-report /" in text
    assert "Failing task: sales_by_region" not in text  # the flow itself raised
    assert "the sales feed was empty" in text
