"""notebooks/03_jupyterlab.ipynb, executed cell by cell against the store of a real JupyterLab,
with the sidebar open beside it: what the notebook says the sidebar shows, it shows — the
flow run, the deployment with its completed run, the run awaiting approval (and the status
count) while it waits — and every cell runs. Screenshots: test-artifacts/ui/notebook03_*.png.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from polling import wait_for
from test_deployments_ui import SIDEBAR, api, card, in_zone, open_deployments_tab, query

pytestmark = [pytest.mark.ui, pytest.mark.timeout(600)]

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
NOTEBOOK = NOTEBOOKS / "03_jupyterlab.ipynb"


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


def sidebar_shot(page: Any, path: Path) -> None:
    """The sidebar down to the end of what it shows (not the empty panel below)."""
    box = page.locator(SIDEBAR).bounding_box()
    bottom = page.locator(SIDEBAR).evaluate("""node => Math.max(...Array.from(
        node.querySelectorAll('.onb-tabpanel *')).map(e => e.getBoundingClientRect().bottom))""")
    height = min(box["height"], bottom - box["y"] + 12)
    page.screenshot(path=str(path), clip={"x": box["x"], "y": box["y"],
                                          "width": box["width"], "height": height})


def test_the_notebook_is_stored_with_its_outputs_cleared() -> None:
    notebook = nbformat.read(str(NOTEBOOK), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_the_jupyterlab_notebook_runs_and_the_sidebar_shows_what_it_says(
        lab: Any, page: Any, artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = lab.root / "teaching"
    folder.mkdir()
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    shutil.copytree(NOTEBOOKS / "reports", folder / "reports")
    # the kernel writes to the Lab's store; `!orchestrate-nb` is this environment's command
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(lab.home))
    monkeypatch.delenv("ORCHESTRATE_NB_DATABASE_URL", raising=False)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")

    in_zone(page, "America/New_York")  # the tab shows times in the browser's zone
    page.goto(f"{lab.url}/lab/workspaces/notebook03?token={lab.token}&reset")
    page.wait_for_selector(".jp-LabShell")
    open_deployments_tab(page)

    notebook = nbformat.read(str(folder / NOTEBOOK.name), as_version=4)
    client = NotebookClient(notebook, timeout=240, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
    with client.setup_kernel():
        for index, cell in code:
            client.execute_cell(cell, index)
            shown = text_of(cell)
            if "approval_run = trigger_deployment" in cell.source:
                # paused, waiting for a person: the API the sidebar reads says so
                assert shown.strip().endswith("PAUSED")
                status = wait_for(lambda: (s := api(lab, "GET", "status"))
                                  ["awaiting_approval"] == 1 and s, "the status count")
                assert status["awaiting_approval"] == 1
                sidebar = page.locator(SIDEBAR)
                sidebar.locator('[data-testid="onb-tab-approvals"]').click()
                sidebar.locator('[data-testid="onb-approvals-list"]').wait_for()
                sidebar_shot(page, artifacts / "notebook03_approvals.png")
                sidebar.locator('[data-testid="onb-tab-deployments"]').click()

    cells = {index: text_of(cell) for index, cell in code}
    everything = "\n".join(cells.values())
    assert "Error" not in everything and "Traceback" not in everything
    assert "total of 100 numbers: 4950" in everything
    assert "deployed 'sales-weekdays': cron '0 7 * * 1-5' (Europe/Berlin)" in everything
    assert everything.count("COMPLETED") >= 1

    runs = query(lab, "SELECT r.state_type, r.parameters, d.name FROM flow_runs r JOIN "
                      "deployments d ON d.id = r.deployment_id WHERE d.name IN "
                      "('sales-weekdays', 'approve-report') AND r.state_type != 'SCHEDULED'")
    assert sorted((r["name"], r["state_type"]) for r in runs) == [
        ("approve-report", "COMPLETED"), ("sales-weekdays", "COMPLETED")]

    # the Deployments tab shows both, each with its completed run
    for name in ("sales-weekdays", "approve-report"):
        chip = card(page, name).locator('[data-testid="onb-deployment-run"]')
        wait_for(lambda chip=chip: chip.count() == 1 and chip.inner_text() == "Completed",
                 f"the completed run on {name}'s card", timeout=15)
    weekdays = card(page, "sales-weekdays")
    assert "Monday through Friday" in weekdays.locator(
        '[data-testid="onb-deployment-schedule"]').inner_text()
    weekdays.locator(".onb-deployment__toggle").click()  # its next five runs
    next_runs = weekdays.locator('[data-testid="onb-next-run"]')
    wait_for(lambda: next_runs.count() == 5, "the next five runs")
    assert "01:00" in next_runs.first.inner_text()  # 07:00 in Berlin, in New York's time
    sidebar_shot(page, artifacts / "notebook03_deployments.png")

    # the report's run page: its graph (a node per %%task cell), task runs, logs
    card(page, "sales-weekdays").locator('[data-testid="onb-deployment-run"]').click()
    run_page = page.locator('[data-testid="onb-run-page"][data-state-type="COMPLETED"]')
    run_page.wait_for()
    wait_for(lambda: run_page.locator('[data-testid="onb-task-row"]').count() == 2,
             "the report's two task runs")
    page.wait_for_timeout(800)
    page.screenshot(path=str(artifacts / "notebook03_run_page.png"))

    page.locator(SIDEBAR).locator('[data-testid="onb-tab-runs"]').click()
    page.locator(SIDEBAR).locator('[data-testid="onb-run-row"]').first.wait_for()
    page.wait_for_timeout(500)
    sidebar_shot(page, artifacts / "notebook03_runs.png")
