"""The standalone page in a real browser (Debian's chromium through playwright), served by
``orchestrate-nb server start``: the runs list, a run's page (graph drawn by the widget's
view, logs, artifacts), deployments with Run now. Screenshots go to
``test-artifacts/standalone/``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import write_notebook
from test_standalone import TOKEN, Server, cli, start_server

CHROMIUM = os.environ.get("ORCHESTRATE_NB_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "standalone"
STATIC = Path(__file__).resolve().parents[2] / "orchestrate_nb" / "server" / "static"


@pytest.fixture
def browser_page() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"chromium is missing at {CHROMIUM}")
        pytest.skip(f"chromium is missing at {CHROMIUM}")
    assert (STATIC / "main.js").is_file(), "build the page first: jlpm build:standalone"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--headless=new"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        browser.close()


def _a_flow_run() -> None:
    from orchestrate_nb import flow, get_run_logger, task
    from orchestrate_nb.artifacts import create_markdown_artifact

    @task
    def extract(n: int) -> list[int]:
        get_run_logger().info("extracted %d rows", n)
        return list(range(n))

    @task
    def load(rows: list[int]) -> int:
        create_markdown_artifact("# loaded", key="load-report")
        return len(rows)

    @flow(name="nightly-etl")
    def etl(n: int = 5) -> int:
        return load(extract(n))

    assert etl(n=5) == 5


def test_the_page_shows_runs_a_run_and_deployments(database_url: str, tmp_path: Path,
                                                  browser_page: Any) -> None:
    _a_flow_run()
    root = tmp_path / "root"
    notebook = write_notebook(root / "report.ipynb")
    assert cli("deploy", str(notebook), "--name", "daily-report", "--cron", "0 7 * * *"
               ).returncode == 0
    server: Server = start_server(root, "--token", TOKEN)
    page = browser_page
    runs = server.client().get("/orchestrate/api/runs", params={"flow": "nightly-etl"})
    run_id = runs.json()["runs"][0]["id"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page.goto(f"{server.url}/orchestrate/?token={TOKEN}")
        assert "token=" not in page.url  # the cookie holds it now
        row = page.locator(f"tr[data-run='{run_id}']")
        row.wait_for(timeout=15000)
        assert "Completed" in row.inner_text() and "nightly-etl" in row.inner_text()
        page.screenshot(path=str(ARTIFACTS / "runs.png"))

        row.locator("a").click()
        page.locator("[data-testid=run-graph] svg .onb-nodes > *").first.wait_for(timeout=15000)
        nodes = page.locator("[data-testid=run-graph] svg .onb-nodes > *").count()
        assert nodes == 2
        page.get_by_text("extracted 5 rows").wait_for(timeout=15000)
        assert "load-report" in page.locator(".onb-sa-artifacts").inner_text()
        page.screenshot(path=str(ARTIFACTS / "run-page.png"), full_page=True)

        page.get_by_role("link", name="Deployments").click()
        card = page.locator("[data-deployment='daily-report']")
        card.wait_for(timeout=15000)
        assert "At 07:00" in card.inner_text()
        card.get_by_role("button", name="Run now…").click()
        card.get_by_label("n").fill("9")
        page.screenshot(path=str(ARTIFACTS / "deployments.png"))
        card.get_by_role("button", name="Run", exact=True).click()
        page.locator(".onb-sa-runhead h1").wait_for(timeout=15000)
        page.get_by_text('{"n":9,"day":"mon","rate":0.5}').wait_for(timeout=15000)
        assert "Scheduled" in page.locator(".onb-sa-runhead h1").inner_text()

        page.get_by_role("link", name="Approvals").click()
        page.get_by_text("Nothing is waiting for approval.").wait_for(timeout=15000)
        assert page.errors == []  # type: ignore[attr-defined]
    finally:
        server.process.terminate()
        server.process.wait(30)
