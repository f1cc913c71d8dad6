"""A deployment's run page: "Open executed notebook" opens the notebook a real worker ran
(in JupyterLab, from the Jupyter root), and "Run again with these parameters" starts a new
run of the deployment with the same parameters and opens its page. Screenshot under
test-artifacts/ui/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sidebar_helpers import api, open_lab, open_sidebar, store_env

pytestmark = pytest.mark.ui


def write_report(path: Path) -> None:
    cells = [("days = 7", ["parameters"]), ("print(f'report over {days} days')", [])]
    notebook = {"cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {"tags": tags},
                           "source": source, "outputs": [], "execution_count": None}
                          for i, (source, tags) in enumerate(cells)],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                            "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook))


def test_a_deployment_run_page_opens_its_notebook_and_runs_again(
        lab: Any, page: Any, artifacts: Path) -> None:
    write_report(lab.root / "days_report.ipynb")
    api(lab, "POST", "deployments", {"path": "days_report.ipynb", "name": "days-report"})
    run = api(lab, "POST", "deployments/days-report/run", {"parameters": {"days": 12}})["run"]
    worker = subprocess.run([sys.executable, "-m", "orchestrate_nb.cli.app", "worker", "start",
                             "--run-once"], env=store_env(lab), capture_output=True, text=True,
                            timeout=300)
    assert worker.returncode == 0, worker.stdout + worker.stderr

    open_lab(page, lab, "actions")
    sidebar = open_sidebar(page)
    sidebar.locator('[data-testid="onb-runs-search"]').fill("days-report")
    row = sidebar.locator(f'[data-testid="onb-run-row"][data-run-id="{run["id"]}"]')
    row.locator('[data-testid="onb-state-chip"]', has_text="Completed").wait_for()
    row.click()
    run_page = page.locator(f'[data-testid="onb-run-page"][data-run-id="{run["id"]}"]')
    run_page.wait_for()
    assert "12" in run_page.locator('[data-testid="onb-run-parameters"]').inner_text()
    run_page.locator('[data-testid="onb-run-logs"][data-final="true"]').wait_for()
    page.screenshot(path=str(artifacts / "sidebar_deployment_run_page.png"))

    run_page.locator('[data-testid="onb-run-open-notebook"]').click()
    notebook = page.locator(".jp-NotebookPanel:visible")
    notebook.wait_for()
    notebook.locator(".jp-OutputArea-output", has_text="report over 12 days").wait_for()

    page.locator('.lm-TabBar-tab:has-text("days-report")').first.click()
    run_page.locator('[data-testid="onb-run-rerun"]').click()
    again = page.locator('[data-testid="onb-run-page"][data-run-id]:visible')
    page.wait_for_function(
        f"""() => [...document.querySelectorAll('[data-testid="onb-run-page"]')]
            .some(el => el.dataset.runId && el.dataset.runId !== {json.dumps(run["id"])}
                  && el.offsetParent !== null)""")
    new_id = again.get_attribute("data-run-id")
    assert new_id and new_id != run["id"]
    detail = api(lab, "GET", f"runs/{new_id}")["run"]
    assert detail["deployment_name"] == "days-report"
    assert detail["parameters"] == {"days": 12}
    assert detail["state_type"] == "SCHEDULED"

    # open run pages come back when JupyterLab is loaded again (tracked and restored)
    page.wait_for_timeout(1500)  # the workspace is saved shortly after a change
    page.goto(f"{lab.url}/lab/workspaces/actions?token={lab.token}")
    page.locator(f'[data-testid="onb-run-page"][data-run-id="{new_id}"]').wait_for(
        state="attached")
    page.locator(f'[data-testid="onb-run-page"][data-run-id="{run["id"]}"]').wait_for(
        state="attached")
    assert not page.console.problems
