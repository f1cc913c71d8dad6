"""The sidebar and a run's page follow JupyterLab's dark theme: their text is light on a
dark background (their colours come from JupyterLab's theme variables), nothing is drawn
in the light theme's colours. Screenshots under test-artifacts/ui/."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sidebar_helpers import open_lab, open_sidebar, seed

pytestmark = pytest.mark.ui

THEMES = "@jupyterlab/apputils-extension:themes"


def set_theme(lab: Any, theme: str) -> None:
    body = json.dumps({"raw": json.dumps({"theme": theme})}).encode()
    request = urllib.request.Request(f"{lab.url}/lab/api/settings/{THEMES}", data=body,
                                     method="PUT",
                                     headers={"Authorization": f"token {lab.token}",
                                              "Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=30).close()


@pytest.fixture
def dark(lab: Any) -> Iterator[None]:
    set_theme(lab, "JupyterLab Dark")
    yield
    set_theme(lab, "JupyterLab Light")


def luminance(css_colour: str) -> float:
    """0 (black) .. 1 (white) of an ``rgb(...)``/``rgba(...)`` colour."""
    parts = css_colour[css_colour.index("(") + 1:css_colour.index(")")].split(",")
    red, green, blue = (float(part) / 255 for part in parts[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def colours(locator: Any) -> tuple[float, float]:
    """(text, background) luminance of an element (background: the first opaque ancestor)."""
    return locator.evaluate("""el => {
        const text = getComputedStyle(el).color;
        let node = el, background = 'rgba(0, 0, 0, 0)';
        while (node && /rgba\\(.*, 0\\)$/.test(background)) {
          background = getComputedStyle(node).backgroundColor; node = node.parentElement;
        }
        return [text, background];
    }""")


SEED = """
run, _, events = runs.completed_flow("dark-etl", tasks=3)
failed, _, more = runs.completed_flow("dark-train", tasks=2, final="FAILED")
write(events + more)
"""


def test_the_sidebar_and_run_page_follow_the_dark_theme(lab: Any, page: Any, dark: None,
                                                        artifacts: Path) -> None:
    seed(lab, SEED)
    open_lab(page, lab, "dark")
    page.wait_for_selector('body[data-jp-theme-light="false"]', state="attached")
    sidebar = open_sidebar(page)
    row = sidebar.locator('[data-testid="onb-run-row"]', has_text="dark-etl")
    row.wait_for()
    text, background = (luminance(c) for c in colours(row.locator(
        '[data-testid="onb-run-flow"]')))
    assert text > 0.6 and background < 0.3, (text, background)
    page.screenshot(path=str(artifacts / "sidebar_dark.png"))

    row.click()
    run_page = page.locator('[data-testid="onb-run-page"]')
    run_page.locator('[data-testid="onb-run-logs"][data-final="true"]').wait_for()
    heading = run_page.locator("h1")
    text, background = (luminance(c) for c in colours(heading))
    assert text > 0.6 and background < 0.3, (text, background)
    line = run_page.locator('[data-testid="onb-log-line"]').first
    text, background = (luminance(c) for c in colours(line))
    assert text > 0.5 and background < 0.3, (text, background)
    page.screenshot(path=str(artifacts / "sidebar_run_page_dark.png"))
    assert not page.console.problems
