"""The Runs tab's filters and search narrow the list (the server filters; the list shows
what it answers), pages load as the list scrolls, and notebook sessions are listed apart
from flow runs. Screenshots under test-artifacts/ui/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sidebar_helpers import api, open_lab, open_sidebar, row_texts, seed

pytestmark = pytest.mark.ui

SEED = """
events = []
for i in range(230):
    run, _, more = runs.completed_flow("ingest-orders", tasks=1)
    events += more
for i in range(12):
    run, _, more = runs.completed_flow("train-model", tasks=1, final="FAILED")
    events += more
for i in range(3):
    run = runs.flow_run_created("score-batch")
    events += [run, runs.flow_state(run.id, "RUNNING")]
session = runs.flow_run_created("lab-session", tags=("notebook-session",))
events += [session, runs.flow_state(session.id, "RUNNING")]
write(events)
"""


def deploy_report(lab: Any) -> None:
    notebook = {"cells": [{"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]},
                           "source": "days = 7", "outputs": [], "execution_count": None}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                            "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    (lab.root / "nightly_report.ipynb").write_text(json.dumps(notebook))
    api(lab, "POST", "deployments", {"path": "nightly_report.ipynb", "name": "nightly-report",
                                     "cron": "0 7 * * *"})
    for days in (3, 10):
        api(lab, "POST", "deployments/nightly-report/run", {"parameters": {"days": days}})


def count_all(lab: Any, query: str = "") -> int:
    total, before = 0, ""
    while True:
        page = api(lab, "GET", f"runs?limit=500{query}{before}")
        total += len(page["runs"])
        if not page["next"]:
            return total
        before = f"&before={page['next']}"


def shown_count(sidebar: Any) -> int:
    """The count under the list once every page is loaded (scrolling loads the next)."""
    rows = sidebar.locator('[data-testid="onb-runs-list"]')
    counter = sidebar.locator('[data-testid="onb-runs-count"]')
    for _ in range(50):
        if counter.count():
            return int(counter.inner_text().split()[0].replace(",", ""))
        rows.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        sidebar.page.wait_for_timeout(150)
    raise AssertionError("the list never reached its end")


def apply(sidebar: Any, what: str, value: str) -> None:
    control = sidebar.locator(f'[data-testid="onb-filter-{what}"]')
    if what == "flow":
        control.fill(value)
    else:
        control.select_option(value)


def test_filters_and_search_narrow_the_runs_list(lab: Any, page: Any, artifacts: Path) -> None:
    seed(lab, SEED)
    deploy_report(lab)
    open_lab(page, lab, "filters")
    sidebar = open_sidebar(page)
    sidebar.locator('[data-testid="onb-runs-list"]').wait_for()
    listed = sidebar.locator('[data-testid="onb-run-row"]')

    # every run, page after page as the list scrolls (more than one page of 200)
    assert shown_count(sidebar) == count_all(lab) >= 247

    # (other tests of this session's Lab may add runs: count what the store holds)
    training = count_all(lab, "&q=train-model")
    assert training >= 12
    sidebar.locator('[data-testid="onb-runs-search"]').fill("train-model")
    sidebar.locator('[data-testid="onb-runs-count"]', has_text=f"{training} runs").wait_for()
    assert set(row_texts(sidebar)) == {"train-model"}
    page.screenshot(path=str(artifacts / "sidebar_search.png"))
    sidebar.locator('[data-testid="onb-runs-search"]').fill("")

    sidebar.locator('[data-testid="onb-filters-toggle"]').click()
    apply(sidebar, "state", "FAILED,CRASHED")
    failed = count_all(lab, "&state=FAILED,CRASHED")
    sidebar.locator('[data-testid="onb-runs-count"]',
                    has_text=f"{failed} run{'s' if failed != 1 else ''}").wait_for()
    chips = set(listed.locator('[data-testid="onb-state-chip"]').all_inner_texts())
    assert chips <= {"Failed", "Crashed"}, chips

    apply(sidebar, "state", "")
    apply(sidebar, "deployment", "nightly-report")
    sidebar.locator('[data-testid="onb-runs-count"]', has_text="2 runs").wait_for()
    assert set(listed.locator('[data-testid="onb-state-chip"]').all_inner_texts()) == {
        "Scheduled"}
    assert all("nightly-report" in text for text in listed.all_inner_texts())
    page.screenshot(path=str(artifacts / "sidebar_filter_deployment.png"))

    apply(sidebar, "deployment", "")
    apply(sidebar, "flow", "score-batch")
    sidebar.locator('[data-testid="onb-runs-count"]', has_text="3 runs").wait_for()
    assert row_texts(sidebar) == ["score-batch"] * 3
    sidebar.locator('[data-testid="onb-filters-clear"]').click()
    sidebar.locator('[data-testid="onb-runs-more"]').wait_for()  # a full first page again

    # sessions are not runs "Running for hours": they are listed apart, as sessions
    assert "lab-session" not in row_texts(sidebar)
    sidebar.locator('[data-testid="onb-kind-sessions"]').click()
    session = sidebar.locator('[data-testid="onb-run-row"]', has_text="lab-session")
    session.wait_for()
    assert session.locator('[data-testid="onb-state-chip"]').inner_text().strip() == "Session"
    assert "task run" in session.locator('[data-testid="onb-run-duration"]').inner_text()
    assert "ingest-orders" not in row_texts(sidebar)
    page.screenshot(path=str(artifacts / "sidebar_sessions.png"))
    assert not page.console.problems
