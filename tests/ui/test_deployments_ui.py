"""Deployments in a real JupyterLab: "Deploy notebook…" from a notebook's toolbar creates a
deployment (read back from the store) and opens the Deployments tab on it; a bad cron or a
bad parameter is refused in the dialog with the CLI's one line and stores nothing; "Run
now…" with a parameter creates a run that a real worker process executes, and the executed
notebook, opened in JupyterLab, shows the parameter's value; the tab pauses and resumes a
deployment and removes one after a confirmation. Screenshots go to test-artifacts/ui/
(deploy_dialog.png, deployments_tab.png, ... ; the README's copies are in docs/images/).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import nbformat
import pytest
from polling import wait_for

pytestmark = pytest.mark.ui

SIDEBAR = '[data-testid="onb-sidebar"]'
DIALOG = ".jp-Dialog"
REPORT = "reports/regional_report.ipynb"
PARAMETERS = 'region = "north"\ndays = 7\nscale: float = 1.0\n'
BODY = 'print(f"report for {region}: {days} days, scale {scale}")'


@pytest.fixture(autouse=True)
def _no_kernels_left(lab: Any) -> Any:
    """Notebooks these tests open start kernels: stop them after each test, so the tests
    that follow in this Lab do not share the machine with idle kernels."""
    yield
    lab.shut_down_kernels()


def write_report(root: Path, path: str = REPORT) -> Path:
    """A parameterised notebook (a cell tagged ``parameters`` and one that prints them)."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Regional report"),
                                               nbformat.v4.new_code_cell(PARAMETERS),
                                               nbformat.v4.new_code_cell(BODY)])
    notebook.cells[1].metadata["tags"] = ["parameters"]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


def query(lab: Any, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of the Lab's own store (the SQLite file in its ORCHESTRATE_NB_HOME)."""
    database = lab.home / "orchestrate_nb.db"
    if not database.exists():
        return []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, args)]


def cli(lab: Any, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``orchestrate-nb ARGS`` against the Lab's store, in the Lab's root."""
    env = {**os.environ, "ORCHESTRATE_NB_HOME": str(lab.home)}
    env.pop("ORCHESTRATE_NB_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "orchestrate_nb.cli.app", *args], cwd=lab.root,
                          env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def api(lab: Any, method: str, path: str, body: Any = None) -> Any:
    """A request to the Lab's Orchestrate API, with its token."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{lab.url}/orchestrate/api/{path}", data=data,
                                     method=method,
                                     headers={"Authorization": f"token {lab.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def in_zone(page: Any, zone: str) -> None:
    """The browser's time zone (the tab and the dialog show times in it)."""
    page.context.new_cdp_session(page).send("Emulation.setTimezoneOverride",
                                            {"timezoneId": zone})


def open_notebook(page: Any, lab: Any, path: str) -> None:
    page.goto(lab.open_url(path))
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for()


def open_deploy_dialog(page: Any) -> Any:
    """Click the notebook toolbar's "Deploy notebook…" button, as a user would."""
    page.locator('.jp-NotebookPanel-toolbar [data-jp-item-name="orchestrate-deploy"]').click()
    dialog = page.locator(DIALOG)
    dialog.locator('[data-testid="onb-deploy-form"]').wait_for()
    dialog.locator('[data-testid="onb-params"], [data-testid="onb-params-empty"]').wait_for()
    return dialog


def open_deployments_tab(page: Any) -> Any:
    sidebar = page.locator(SIDEBAR)
    if not sidebar.is_visible():
        page.locator('.jp-SideBar.jp-mod-left [data-id="orchestrate-nb-sidebar"]').click()
    sidebar.wait_for()
    sidebar.locator('[data-testid="onb-tab-deployments"]').click()
    return sidebar


def expect_refusals(request: pytest.FixtureRequest, page: Any) -> None:
    """The test makes the API refuse values on purpose: the browser logs each 400 response
    as an error. Those are allowed; any other problem from our extension still fails it."""
    request.node.allow_console_problems = True
    request.addfinalizer(lambda: _no_other_problems(page))


def _no_other_problems(page: Any) -> None:
    others = [line for line in page.console.problems
              if "status of 400 (Bad Request)" not in line]
    assert not others, "\n".join(others)


def card(page: Any, name: str) -> Any:
    return page.locator(f'[data-testid="onb-deployment-row"][data-name="{name}"]')


def test_deploy_notebook_from_the_toolbar_creates_a_deployment(lab: Any, page: Any,
                                                                artifacts: Path) -> None:
    write_report(lab.root)
    in_zone(page, "America/New_York")
    open_notebook(page, lab, REPORT)
    lab.wait_for_idle_kernel(REPORT)
    dialog = open_deploy_dialog(page)

    # defaults: the name from the notebook, the parameters cell's values, the browser's zone
    name = dialog.locator('[data-testid="onb-deploy-name"]')
    assert name.input_value() == "regional-report"
    assert dialog.locator('[data-testid="onb-deploy-path"]').inner_text() == REPORT
    assert dialog.locator('[data-testid="onb-param-region"]').input_value() == "north"
    assert dialog.locator('[data-testid="onb-param-days"]').input_value() == "7"

    name.fill("regional-weekdays")
    dialog.locator('[data-testid="onb-deploy-cron"]').fill("30 6 * * 1-5")
    dialog.locator('[data-testid="onb-deploy-timezone"]').fill("Europe/Berlin")
    # the live preview: the schedule in words and its next five runs
    description = dialog.locator('[data-testid="onb-schedule-description"]')
    wait_for(lambda: "06:30" in description.inner_text()
             and "Monday through Friday" in description.inner_text(), "the cron preview")
    runs = dialog.locator('[data-testid="onb-preview-run"]')
    assert runs.count() == 5
    # shown in the browser's zone: 06:30 in Berlin is 00:30 in New York (in winter)
    assert all(text.endswith("00:30") for text in runs.all_inner_texts())
    assert "America/New_York" in dialog.locator('[data-testid="onb-schedule-preview"]'
                                                ).inner_text()
    dialog.locator('[data-testid="onb-param-days"]').fill("30")
    dialog.locator('[data-testid="onb-deploy-retries"]').fill("2")
    dialog.locator('[data-testid="onb-deploy-cache"]').select_option("reuse")
    page.wait_for_timeout(300)  # the preview settles (debounced) before the picture
    save = dialog.locator('[data-testid="onb-deploy-save"]')
    if save.count():  # the kernel's start marks the notebook changed (its language_info)
        dialog.locator(".jp-Dialog-content").screenshot(
            path=str(artifacts / "deploy_dialog_unsaved.png"))
        save.click()
        dialog.locator('[data-testid="onb-deploy-dirty"]').wait_for(state="detached")
    dialog.locator(".jp-Dialog-content").screenshot(path=str(artifacts / "deploy_dialog.png"))
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    dialog.wait_for(state="detached")

    stored = query(lab, "SELECT name, kind, entrypoint, cron, timezone, parameters, pool, "
                        "retries, cache, paused FROM deployments WHERE name = ?",
                   "regional-weekdays")
    assert len(stored) == 1
    row = stored[0]
    assert (row["kind"], row["cron"], row["timezone"], row["pool"], row["retries"],
            row["cache"], row["paused"]) == ("notebook", "30 6 * * 1-5", "Europe/Berlin",
                                             "default", 2, "reuse", 0)
    assert Path(row["entrypoint"]) == (lab.root / REPORT).resolve()
    # only the value the user changed is stored; the others stay the notebook's defaults
    assert json.loads(row["parameters"]) == {"days": 30}

    # the Deployments tab opens on it: expanded, with its next five runs
    sidebar = page.locator(SIDEBAR)
    sidebar.wait_for()
    assert sidebar.locator('[role="tab"][aria-selected="true"]').inner_text() == "Deployments"
    deployed = card(page, "regional-weekdays")
    deployed.wait_for()
    assert "06:30" in deployed.locator('[data-testid="onb-deployment-schedule"]').inner_text()
    next_runs = deployed.locator('[data-testid="onb-next-run"]')
    assert next_runs.count() == 5
    assert "00:30" in next_runs.first.inner_text()
    assert "America/New_York" in deployed.locator('[data-testid="onb-zone"]').inner_text()
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / "deploy_notebook_done.png"))


def test_a_bad_cron_is_refused_in_the_dialog_with_the_cli_line(
        lab: Any, page: Any, artifacts: Path, request: pytest.FixtureRequest) -> None:
    expect_refusals(request, page)
    write_report(lab.root, "reports/bad_cron.ipynb")
    open_notebook(page, lab, "reports/bad_cron.ipynb")
    dialog = open_deploy_dialog(page)
    dialog.locator('[data-testid="onb-deploy-cron"]').fill("61 * * * *")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    error = dialog.locator('[data-testid="onb-form-error"]')
    error.wait_for()
    refused = cli(lab, "deploy", "reports/bad_cron.ipynb", "--name", "bad-cron",
                  "--cron", "61 * * * *")
    assert refused.returncode == 1
    cli_line = refused.stderr.strip().removeprefix("Error: ")
    assert error.inner_text() == cli_line  # the CLI's one line, word for word
    assert "\n" not in error.inner_text()
    assert dialog.locator('[data-testid="onb-deploy-cron"]').get_attribute(
        "class").count("onb-d-input--invalid") == 1
    dialog.locator(".jp-Dialog-content").screenshot(path=str(artifacts / "deploy_bad_cron.png"))

    # a parameter of the wrong type: refused the same way, the field marked
    dialog.locator('[data-testid="onb-deploy-cron"]').fill("0 7 * * *")
    dialog.locator('[data-testid="onb-param-days"]').fill("seven")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    wait_for(lambda: "expects int" in error.inner_text(), "the parameter's refusal")
    assert error.inner_text() == "parameter 'days' expects int, got 'seven'"
    assert dialog.locator('[data-testid="onb-param-days"]').get_attribute(
        "aria-invalid") == "true"
    assert dialog.is_visible()  # still open, nothing lost: the values are as typed
    assert dialog.locator('[data-testid="onb-deploy-cron"]').input_value() == "0 7 * * *"
    dialog.locator(".jp-Dialog-button.jp-mod-reject").click()
    dialog.wait_for(state="detached")
    assert query(lab, "SELECT name FROM deployments WHERE entrypoint LIKE ?",
                 "%bad_cron.ipynb") == []


def test_run_now_with_a_parameter_runs_on_a_worker_and_opens_the_executed_notebook(
        lab: Any, page: Any, artifacts: Path, request: pytest.FixtureRequest) -> None:
    expect_refusals(request, page)
    write_report(lab.root, "reports/run_now.ipynb")
    in_zone(page, "Europe/London")
    deployed = cli(lab, "deploy", "reports/run_now.ipynb", "--name", "run-now-report",
                   "--cron", "0 6 * * *", "-p", "region=south")
    assert deployed.returncode == 0, deployed.stderr
    page.goto(f"{lab.url}/lab/workspaces/run-now?token={lab.token}&reset")
    page.wait_for_selector(".jp-LabShell")
    open_deployments_tab(page)
    report = card(page, "run-now-report")
    report.wait_for()
    assert report.locator('[data-testid="onb-deployment-runs"]').count() == 0  # no runs yet

    report.locator('[data-testid="onb-deployment-run-now"]').click()
    dialog = page.locator(DIALOG)
    dialog.locator('[data-testid="onb-run-now-form"]').wait_for()
    # prefilled with the deployment's parameters, else the notebook's defaults
    assert dialog.locator('[data-testid="onb-param-region"]').input_value() == "south"
    assert dialog.locator('[data-testid="onb-param-days"]').input_value() == "7"
    # a bad value is refused with the server's one line, and no run is created
    dialog.locator('[data-testid="onb-param-scale"]').fill("big")
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    error = dialog.locator('[data-testid="onb-form-error"]')
    error.wait_for()
    assert error.inner_text() == "parameter 'scale' expects float, got 'big'"
    assert query(lab, "SELECT r.id FROM flow_runs r JOIN deployments d ON d.id = "
                      "r.deployment_id WHERE d.name = 'run-now-report'") == []

    dialog.locator('[data-testid="onb-param-scale"]').fill("2.5")
    dialog.locator('[data-testid="onb-param-region"]').fill("east coast")
    dialog.locator(".jp-Dialog-content").screenshot(path=str(artifacts / "run_now_dialog.png"))
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    dialog.wait_for(state="detached")
    toast = page.locator(".Toastify__toast", has_text="run-now-report")
    toast.wait_for()

    runs = query(lab, "SELECT r.id, r.parameters, r.state_type FROM flow_runs r JOIN "
                      "deployments d ON d.id = r.deployment_id WHERE d.name = 'run-now-report' "
                      "AND r.state_type = 'SCHEDULED' AND r.parameters LIKE '%east coast%'")
    assert len(runs) == 1
    # only what the user changed is sent; the deployment's own values fill in the rest
    assert json.loads(runs[0]["parameters"]) == {"region": "east coast", "scale": 2.5}
    run_id = runs[0]["id"]

    # "View run" in the notification opens the run's page, which follows the run
    toast.get_by_role("button", name="View run").click()
    run_page = page.locator(f'[data-testid="onb-run-page"][data-run-id="{run_id}"]')
    run_page.wait_for()
    worker = cli(lab, "worker", "start", "--run-once")
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert query(lab, "SELECT state_type FROM flow_runs WHERE id = ?", run_id) == [
        {"state_type": "COMPLETED"}]
    wait_for(lambda: run_page.get_attribute("data-state-type") == "COMPLETED",
             "the run page's Completed", timeout=15)
    # the card follows too: its last run is a Completed chip, which carries the run's id
    chip = report.locator(f'[data-testid="onb-deployment-run"][data-run-id="{run_id}"]')
    wait_for(lambda: chip.count() == 1 and chip.inner_text() == "Completed",
             "the run's chip on the card", timeout=15)
    page.wait_for_timeout(500)
    page.locator(SIDEBAR).screenshot(path=str(artifacts / "deployments_tab.png"))
    page.screenshot(path=str(artifacts / "run_page.png"))

    # "Open executed notebook" on the run's page opens it in JupyterLab, with the value
    run_page.locator('[data-testid="onb-run-open-notebook"]').click()
    output = page.locator(".jp-NotebookPanel .jp-OutputArea-output", has_text="report for")
    output.wait_for()
    assert output.inner_text().strip() == "report for east coast: 7 days, scale 2.5"
    page.wait_for_timeout(500)
    page.screenshot(path=str(artifacts / "run_now_executed_notebook.png"))


def test_pause_resume_and_remove_from_the_tab(lab: Any, page: Any, artifacts: Path) -> None:
    write_report(lab.root, "reports/pausing.ipynb")
    assert cli(lab, "deploy", "reports/pausing.ipynb", "--name", "pausing-report",
               "--interval", "3600").returncode == 0
    page.goto(f"{lab.url}/lab/workspaces/pausing?token={lab.token}&reset")
    page.wait_for_selector(".jp-LabShell")
    open_deployments_tab(page)
    pausing = card(page, "pausing-report")
    pausing.wait_for()
    assert "every hour" in pausing.locator('[data-testid="onb-deployment-schedule"]'
                                           ).inner_text().lower()
    switch = pausing.locator('[data-testid="onb-deployment-pause"]')
    assert switch.get_attribute("aria-checked") == "true"

    switch.click()
    wait_for(lambda: pausing.get_attribute("data-paused") == "true", "paused on the card")
    assert query(lab, "SELECT paused FROM deployments WHERE name = 'pausing-report'") == [
        {"paused": 1}]
    assert "Paused" in pausing.locator('[data-testid="onb-deployment-next"]').inner_text()
    pausing.screenshot(path=str(artifacts / "deployment_paused.png"))
    switch.click()
    wait_for(lambda: pausing.get_attribute("data-paused") == "false", "resumed on the card")
    assert query(lab, "SELECT paused FROM deployments WHERE name = 'pausing-report'") == [
        {"paused": 0}]

    # a change made elsewhere (the CLI) shows up without a reload
    assert cli(lab, "deployment", "pause", "pausing-report").returncode == 0
    wait_for(lambda: pausing.get_attribute("data-paused") == "true", "the CLI's pause",
             timeout=10)

    # remove: cancelling the confirmation keeps it; confirming removes it
    pausing.locator('[data-testid="onb-deployment-remove"]').click()
    page.locator(DIALOG).wait_for()
    assert "pausing-report" in page.locator(".jp-Dialog-header").inner_text()
    page.locator(".jp-Dialog-button.jp-mod-reject").click()
    page.locator(DIALOG).wait_for(state="detached")
    assert len(query(lab, "SELECT id FROM deployments WHERE name = 'pausing-report'")) == 1
    pausing.locator('[data-testid="onb-deployment-remove"]').click()
    page.locator(".jp-Dialog-button.jp-mod-warn").click()
    pausing.wait_for(state="detached")
    assert query(lab, "SELECT id FROM deployments WHERE name = 'pausing-report'") == []


def _luminance(css_colour: str) -> float:
    """Relative luminance (0 black .. 1 white) of an ``rgb(...)``/``rgba(...)`` colour."""
    parts = [float(p) for p in css_colour[css_colour.index("(") + 1:-1].split(",")[:3]]
    return (0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2]) / 255


def _use_theme(page: Any, theme: str) -> None:
    """Settings > Theme > ``theme``, from the menu bar, as a user would."""
    page.click(".lm-MenuBar-itemLabel:text-is('Settings')")
    page.click(".lm-Menu-itemLabel:text-is('Theme')")
    page.click(f".lm-Menu-itemLabel:text-is('{theme}')")
    page.wait_for_function(
        "t => document.body.dataset.jpThemeName === t", arg=theme, timeout=30_000)


def test_the_tab_and_the_dialog_are_readable_in_the_dark_theme(lab: Any, page: Any,
                                                               artifacts: Path) -> None:
    write_report(lab.root, "reports/dark.ipynb")
    assert cli(lab, "deploy", "reports/dark.ipynb", "--name", "dark-report",
               "--cron", "15 8 * * 1", "--pool", "gpu").returncode == 0
    page.goto(f"{lab.url}/lab/workspaces/dark?token={lab.token}&reset")
    page.wait_for_selector(".jp-LabShell")
    _use_theme(page, "JupyterLab Dark")
    try:
        open_deployments_tab(page)
        dark = card(page, "dark-report")
        dark.wait_for()
        colours = dark.evaluate("""node => {
            const style = el => getComputedStyle(el);
            const name = node.querySelector('[data-testid="onb-deployment-name"]');
            return {card: style(node).backgroundColor, name: style(name).color,
                    panel: style(node.closest('.onb-sidebar')).backgroundColor};
        }""")
        assert _luminance(colours["panel"]) < 0.3 and _luminance(colours["card"]) < 0.3
        assert _luminance(colours["name"]) > 0.7  # light text on the dark card
        assert "pool gpu" in dark.locator('[data-testid="onb-deployment-meta"]').inner_text()
        page.locator(SIDEBAR).screenshot(path=str(artifacts / "deployments_tab_dark.png"))

        dark.locator('[data-testid="onb-deployment-run-now"]').click()
        dialog = page.locator(DIALOG)
        dialog.locator('[data-testid="onb-run-now-form"]').wait_for()
        field = dialog.locator('[data-testid="onb-param-region"]')
        assert _luminance(field.evaluate("n => getComputedStyle(n).color")) > 0.6
        dialog.locator(".jp-Dialog-content").screenshot(
            path=str(artifacts / "run_now_dialog_dark.png"))
        dialog.locator(".jp-Dialog-button.jp-mod-reject").click()
        dialog.wait_for(state="detached")
    finally:
        _use_theme(page, "JupyterLab Light")


def test_deploy_notebook_from_the_file_browser_menu_deploys_the_selected_notebook(
        lab: Any, page: Any) -> None:
    write_report(lab.root, "reports/from_menu.ipynb")
    page.goto(f"{lab.url}/lab/workspaces/menu/tree/reports?token={lab.token}&reset")
    item = page.locator('.jp-DirListing-item[data-file-type="notebook"]',
                        has_text="from_menu.ipynb")
    item.click()
    item.click(button="right")
    page.locator(".lm-Menu-itemLabel:text-is('Deploy Notebook…')").click()
    dialog = page.locator(DIALOG)
    dialog.locator('[data-testid="onb-deploy-form"]').wait_for()
    assert dialog.locator('[data-testid="onb-deploy-path"]').inner_text() == \
        "reports/from_menu.ipynb"
    assert dialog.locator('[data-testid="onb-deploy-name"]').input_value() == "from-menu"
    # an interval, previewed in words ...
    dialog.locator('[data-testid="onb-deploy-schedule-interval"]').check(force=True)
    dialog.locator('[data-testid="onb-deploy-interval"]').fill("90")
    dialog.locator('[data-testid="onb-deploy-interval-unit"]').select_option("60")
    description = dialog.locator('[data-testid="onb-schedule-description"]')
    wait_for(lambda: description.count() and description.inner_text() == "every 90 minutes",
             "the interval's preview")
    # ... or none: on demand only
    dialog.locator('[data-testid="onb-deploy-schedule-none"]').check(force=True)
    assert dialog.locator('[data-testid="onb-deploy-cron"]').count() == 0
    dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    dialog.wait_for(state="detached")
    stored = query(lab, "SELECT schedule_kind, cron, interval_seconds FROM deployments "
                        "WHERE name = 'from-menu'")
    assert stored == [{"schedule_kind": None, "cron": None, "interval_seconds": None}]
    assert "run on demand" in card(page, "from-menu").locator(
        '[data-testid="onb-deployment-schedule"]').inner_text()
