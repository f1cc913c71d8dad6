"""A run's artifacts on its page in a real JupyterLab: a real flow in its own process makes
a markdown, a table (more rows than shown), a link and a progress artifact; the page renders
the markdown (through JupyterLab's sanitised renderer: a script tag in it does not survive),
the table as a table with "N more rows", the link as a link, and the progress bar follows
the flow's update. Screenshots under test-artifacts/ui/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sidebar_helpers import open_lab, open_sidebar, start_python

pytestmark = pytest.mark.ui

FLOW = """
import sys, time
from pathlib import Path
from orchestrate_nb import flow
from orchestrate_nb.artifacts import (create_link_artifact, create_markdown_artifact,
    create_progress_artifact, create_table_artifact, update_progress_artifact)

@flow
def artifact_report():
    create_markdown_artifact("# Weekly report\\n\\nRevenue **up** 4%<script>window.pwned=1</script>",
                             key="weekly-report")
    create_table_artifact([{"region": f"r{i}", "sales": i * 10} for i in range(25)],
                          key="sales-by-region")
    create_link_artifact("https://example.com/dashboard", "Dashboard")
    bar = create_progress_artifact(40, key="load-progress")
    go = Path(sys.argv[1])
    for _ in range(600):
        if go.exists():
            break
        time.sleep(0.1)
    update_progress_artifact(bar, 100)

artifact_report()
"""


def test_a_runs_artifacts_show_on_its_page(lab: Any, page: Any, artifacts: Path,
                                           tmp_path: Path) -> None:
    go = tmp_path / "go"
    code = FLOW.replace("sys.argv[1]", repr(str(go)))
    process = start_python(lab, code)
    try:
        open_lab(page, lab, "artifacts")
        sidebar = open_sidebar(page)
        row = sidebar.locator('[data-testid="onb-run-row"]', has_text="artifact-report")
        row.wait_for(timeout=60_000)
        row.click()
        run_page = page.locator('[data-testid="onb-run-page"]')
        progress = run_page.locator('[data-testid="onb-artifact-progress"]')
        progress.wait_for(timeout=60_000)
        assert progress.get_attribute("data-value") == "40"

        markdown = run_page.locator('[data-testid="onb-artifact-markdown"]')
        markdown.locator("h1", has_text="Weekly report").wait_for()
        assert markdown.locator("strong", has_text="up").count() == 1
        assert markdown.locator("script").count() == 0
        assert page.evaluate("window.pwned") is None
        assert run_page.locator(".onb-artifact__key", has_text="weekly-report").count() == 1

        table = run_page.locator('[data-testid="onb-artifact-table"]')
        assert table.locator("th").all_inner_texts() == ["region", "sales"]
        assert table.locator("tbody tr").count() == 20
        more = run_page.locator('[data-testid="onb-artifact-table-more"]')
        assert more.inner_text().strip() == "5 more rows"

        link = run_page.locator('a[data-testid="onb-artifact-link"]')
        assert link.inner_text() == "Dashboard"
        assert link.get_attribute("href") == "https://example.com/dashboard"
        run_page.screenshot(path=str(artifacts / "run_page_artifacts.png"))

        go.touch()
        page.wait_for_selector('[data-testid="onb-artifact-progress"][data-value="100"]',
                               timeout=30_000)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert process.returncode == 0, process.stdout.read() if process.stdout else ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
