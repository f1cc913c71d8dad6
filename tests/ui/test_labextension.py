"""The labextension in a real JupyterLab: the "Orchestrate" sidebar opens from the left
bar and shows its three tabs, and the console has no error from our extension. A screenshot
is saved under test-artifacts/ui/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.ui

SIDEBAR = '[data-testid="onb-sidebar"]'


def open_sidebar(page: Any) -> Any:
    """Click the Orchestrate icon in the left bar, as a user would."""
    page.locator('.jp-SideBar.jp-mod-left [data-id="orchestrate-nb-sidebar"]').click()
    sidebar = page.locator(SIDEBAR)
    sidebar.wait_for()
    return sidebar


def test_the_orchestrate_sidebar_opens_and_shows_its_tabs(lab: Any, page: Any,
                                                          artifacts: Path) -> None:
    page.goto(f"{lab.url}/lab/workspaces/sidebar?token={lab.token}&reset")
    page.wait_for_selector(".jp-LabShell")
    sidebar = open_sidebar(page)

    tabs = sidebar.locator('[role="tab"]')
    assert tabs.all_inner_texts() == ["Runs", "Deployments", "Approvals", "Alerts"]
    assert sidebar.locator('[role="tab"][aria-selected="true"]').inner_text() == "Runs"
    sidebar.locator('[data-testid="onb-runs-empty"], [data-testid="onb-runs-list"]').wait_for()

    sidebar.locator('[data-testid="onb-tab-deployments"]').click()
    sidebar.locator('[data-testid="onb-deployments-empty"], '
                    '[data-testid="onb-deployments-list"]').wait_for()
    sidebar.locator('[data-testid="onb-tab-approvals"]').click()
    sidebar.locator('[data-testid="onb-approvals-empty"], '
                    '[data-testid="onb-approvals-list"]').wait_for()
    assert sidebar.locator('[role="tab"][aria-selected="true"]').inner_text() == "Approvals"
    page.screenshot(path=str(artifacts / "sidebar_tabs.png"))
    assert not page.console.problems


def test_deploy_notebook_is_offered_in_the_notebook_toolbar_and_the_file_browser(
        lab: Any, page: Any) -> None:
    import nbformat

    folder = lab.root / "reports"
    folder.mkdir(exist_ok=True)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, folder / "weekly.ipynb")
    page.goto(lab.open_url("reports/weekly.ipynb"))
    lab.wait_for_idle_kernel("reports/weekly.ipynb")
    button = page.locator('.jp-NotebookPanel-toolbar [data-jp-item-name="orchestrate-deploy"]')
    button.locator("button").click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    # the notebook whose toolbar was clicked, not the file browser's selection
    assert "reports/weekly.ipynb" in dialog.inner_text()
    dialog.locator(".jp-mod-accept").click()
    dialog.wait_for(state="detached")

    if not page.locator("#filebrowser").is_visible():  # (a click on its tab would close it)
        page.locator('.jp-SideBar.jp-mod-left [data-id="filebrowser"]').click()
    page.locator('.jp-DirListing-item[data-file-type="notebook"]:has-text("weekly.ipynb")'
                 ).click(button="right")
    page.locator('.lm-Menu-item:has-text("Deploy notebook…")').click()
    dialog.wait_for()
    assert "reports/weekly.ipynb" in dialog.inner_text()
    dialog.locator(".jp-mod-accept").click()
