"""notebooks/02_deployments.ipynb is executed top to bottom, as CI does: it deploys the report
notebook, has real workers run it, and every step it shows really happened."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from worker_helpers import Query

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
NOTEBOOK = NOTEBOOKS / "02_deployments.ipynb"

pytestmark = pytest.mark.timeout(300)


def text_of(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
        else:
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_the_notebooks_are_stored_with_their_outputs_cleared() -> None:
    for path in (NOTEBOOK, NOTEBOOKS / "reports" / "sales_report.ipynb"):
        notebook = nbformat.read(str(path), as_version=4)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        assert code and all(not c.outputs and c.execution_count is None for c in code), path


def test_the_deployments_notebook_runs_top_to_bottom(
        tmp_path: Path, query: Query, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    shutil.copytree(NOTEBOOKS / "reports", tmp_path / "reports")
    # `!orchestrate-nb ...` in the notebook finds the command of this environment
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    notebook = nbformat.read(str(tmp_path / NOTEBOOK.name), as_version=4)
    NotebookClient(notebook, timeout=240, kernel_name="python3",  # only cells tagged
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # raises-exception may fail
    shown = "\n".join(text_of(cell) for cell in notebook.cells if cell.cell_type == "code")

    # bad parameters: one line each, and nothing written
    assert "unknown parameter 'regoin'" in shown
    assert "parameter 'days' expects int, got 'seven'" in shown
    deployments = query("SELECT name, paused FROM deployments ORDER BY name")
    assert "typo" not in {d["name"] for d in deployments}

    runs = query("SELECT r.id, r.state_type, r.parameters, r.executed_notebook, d.name "
                 "FROM flow_runs r JOIN deployments d ON d.id = r.deployment_id "
                 "WHERE r.state_type != 'SCHEDULED' ORDER BY r.created")
    nightly = [r for r in runs if r["name"] == "sales-nightly"]
    assert [r["state_type"] for r in nightly] == ["COMPLETED", "COMPLETED"]
    assert "west: " in shown and " units over 5 days" in shown  # read from the executed notebook
    for run in nightly:
        assert Path(run["executed_notebook"]).is_file()
        tasks = query("SELECT name, state_type FROM task_runs WHERE flow_run_id = :id "
                      "ORDER BY name", id=run["id"])
        assert tasks == [{"name": "load-0", "state_type": "COMPLETED"},
                         {"name": "summarise-0", "state_type": "COMPLETED"}]

    # a flow defined in the notebook, deployed by value and run by a worker
    assert "refreshed customers: 900 rows" in shown
    refresh = query("SELECT r.state_type FROM flow_runs r JOIN deployments d "
                    "ON d.id = r.deployment_id WHERE d.name = 'refresh' "
                    "AND r.state_type != 'SCHEDULED'")
    assert refresh == [{"state_type": "COMPLETED"}]

    # paused for approval: bad input refused in one line, then resumed with the input
    assert "unknown field 'aproved'" in shown
    publish = query("SELECT r.id, r.state_type, r.resume_input FROM flow_runs r JOIN "
                    "deployments d ON d.id = r.deployment_id WHERE d.name = 'publish'")
    assert [r["state_type"] for r in publish] == ["COMPLETED"]
    history = query("SELECT name FROM run_states WHERE flow_run_id = :id AND task_run_id "
                    "IS NULL ORDER BY id", id=publish[0]["id"])
    assert [h["name"] for h in history] == ["Scheduled", "Pending", "Running", "Paused",
                                            "Resumed", "Completed"]
    assert "numbers checked" in str(publish[0]["resume_input"])

    # the deployment removed at the end is gone; the others stay
    assert {d["name"] for d in deployments} == {"sales-nightly", "refresh", "publish"}
