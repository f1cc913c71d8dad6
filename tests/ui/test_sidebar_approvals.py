"""Approvals from the sidebar, and the status bar's counts: a real flow in a real process
pauses for typed input; the Approvals tab shows it with a form generated from its input
schema; bad input is refused with the server's message naming the field (the flow keeps
waiting); good input resumes it, and the process continues with exactly that input. The
status bar says "1 running · 1 awaiting approval" meanwhile, and a click on it shows the
sidebar. Screenshots under test-artifacts/ui/."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sidebar_helpers import open_lab, start_python

pytestmark = pytest.mark.ui

PAUSING_FLOW = """
from pydantic import BaseModel, Field
from orchestrate_nb import flow, get_run_logger, pause_flow_run

class Publish(BaseModel):
    approved: bool
    rows: int = Field(ge=1, description="How many rows to publish")
    note: str = ""

@flow
def publish_report() -> int:
    get_run_logger().info("report ready; asking for approval")
    answer = pause_flow_run(wait_for_input=Publish, timeout=600, poll_interval=0.2)
    print(f"RESUMED approved={answer.approved} rows={answer.rows} note={answer.note}",
          flush=True)
    return answer.rows

publish_report()
"""

BUSY_FLOW = """
import time
from orchestrate_nb import flow

@flow
def long_etl() -> None:
    time.sleep(600)

long_etl()
"""


def status_text(page: Any) -> str:
    return page.locator('[data-testid="onb-status-text"]').inner_text().strip()


def wait_for_status(page: Any, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while status_text(page) != text:
        if time.monotonic() > deadline:
            raise AssertionError(f"status bar says {status_text(page)!r}, not {text!r}")
        time.sleep(0.2)


def test_an_approval_is_resumed_from_the_sidebar_with_typed_input(
        lab: Any, page: Any, artifacts: Path, request: pytest.FixtureRequest) -> None:
    # The refused resume is a 400 the browser logs as a failed load: expected here, and
    # the only console problem allowed (checked at the end).
    request.node.allow_console_problems = True
    paused = start_python(lab, PAUSING_FLOW)
    busy = start_python(lab, BUSY_FLOW)
    try:
        open_lab(page, lab, "approvals")
        status = page.locator('[data-testid="onb-status"]')
        status.wait_for()
        wait_for_status(page, "1 running · 1 awaiting approval", timeout=60)
        page.locator('.jp-StatusBar-Widget').first.screenshot(
            path=str(artifacts / "sidebar_status_bar.png"))

        status.click()  # the status bar item shows the sidebar
        sidebar = page.locator('[data-testid="onb-sidebar"]')
        sidebar.wait_for()
        sidebar.locator('[data-testid="onb-tab-approvals"]').click()
        card = sidebar.locator('[data-testid="onb-approval"]', has_text="publish-report")
        card.wait_for()
        assert "Waiting for input" in card.locator(
            '[data-testid="onb-approval-message"]').inner_text()
        form = card.locator('[data-testid="onb-approval-form"]')
        rows = form.locator('input[id$="_rows"]')
        note = form.locator('input[id$="_note"]')
        approved = form.locator('input[type="checkbox"][id$="_approved"]')

        # bad input: refused with the server's one line naming the field; still paused
        rows.fill("0")
        card.locator('[data-testid="onb-approval-resume"]').click()
        error = card.locator('[data-testid="onb-approval-error"]')
        error.wait_for()
        assert "'rows'" in error.inner_text() and "1" in error.inner_text()
        page.screenshot(path=str(artifacts / "sidebar_approval_refused.png"))
        assert paused.poll() is None, "the paused flow ended on bad input"

        rows.fill("250")
        note.fill("ship it")
        approved.check()
        card.locator('[data-testid="onb-approval-resume"]').click()
        card.wait_for(state="detached", timeout=30_000)
        out, _ = paused.communicate(timeout=120)
        assert paused.returncode == 0, out
        assert "RESUMED approved=True rows=250 note=ship it" in out
        sidebar.locator('[data-testid="onb-approvals-empty"]').wait_for(timeout=30_000)
        wait_for_status(page, "1 running")

        # the run's own page shows it resumed and completed, with its input in the logs
        sidebar.locator('[data-testid="onb-tab-runs"]').click()
        row = sidebar.locator('[data-testid="onb-run-row"]', has_text="publish-report")
        row.locator('[data-testid="onb-state-chip"]', has_text="Completed").wait_for(
            timeout=30_000)
        page.screenshot(path=str(artifacts / "sidebar_approval_done.png"))
    finally:
        for process in (paused, busy):
            if process.poll() is None:
                process.kill()
                process.wait()
    unexpected = [line for line in page.console.problems
                  if not ("/resume" in line and "400 (Bad Request)" in line)]
    assert not unexpected
