"""The run-graph widget in a real JupyterLab, driven by a real browser: a flow of several
tasks (one fails) shows its nodes, they go from running to completed, the failing one ends
failed, and its log lines show on click. A screenshot is saved under test-artifacts/ui/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from polling import wait_for

pytestmark = pytest.mark.ui


@pytest.fixture(scope="session")
def lab(plain_lab: Any) -> Any:
    """These tests read the saved graph's HTML/SVG fallback, what a frontend without the
    orchestrate-nb labextension shows (with it, test_saved_graph_renderer.py's renderer)."""
    return plain_lab

FLOW_CELL = '''\
import time
from orchestrate_nb import flow, task, get_run_logger

@task
def extract():
    get_run_logger().info("read 5 rows")
    time.sleep(1.5)
    return [1, 2, 3, 4, 5]

@task
def clean(rows):
    time.sleep(1.0)
    return [r for r in rows if r]

@task
def validate(rows):
    time.sleep(0.8)
    get_run_logger().info("checking %d rows", len(rows))
    raise ValueError("row 3 failed validation")

@task
def enrich(rows):
    time.sleep(1.0)
    return [r * 10 for r in rows]

@task
def score(row):
    time.sleep(0.2)
    return row / 10

@task
def publish(rows, scores):
    time.sleep(0.6)
    get_run_logger().info("published %d rows", len(rows))
    return len(rows)

@flow(name="etl-demo")
def etl():
    rows = extract.submit()
    cleaned = clean.submit(rows)
    validate.submit(cleaned)
    enriched = enrich.submit(cleaned)
    scores = score.map(enriched)
    publish.submit(enriched, scores)  # validate's failure, unhandled, fails the flow

state = etl(return_state=True)
print("flow finished:", state.name)
'''

# Records every (label, state) any node of the widget shows, so that a state held for less
# than a polling interval is still seen.
RECORD_STATES = """() => {
  window.__onbSeen = new Set();
  const record = () => {
    for (const node of document.querySelectorAll('[data-testid="onb-node"]')) {
      window.__onbSeen.add(`${node.dataset.label}=${node.dataset.state}`);
    }
  };
  new MutationObserver(record).observe(document.body,
    {subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"]});
}"""

NODE = '[data-testid="onb-node"]'
SAVED = '[data-testid="onb-saved-graph"]'


def _write_notebook(root: Path, name: str, cells: tuple[str, ...] = (FLOW_CELL,)) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, root / name)


def _seen(page: Any) -> set[str]:
    return set(page.evaluate("() => Array.from(window.__onbSeen)"))


def _states(page: Any) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries(
        Array.from(document.querySelectorAll('[data-testid="onb-node"]'))
             .map(n => [n.dataset.label, n.dataset.state]))""")


def _run_cell(page: Any, lab: Any, notebook: str, index: int = 0) -> None:
    editor = page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").nth(index)
    editor.wait_for(state="visible")
    lab.wait_for_idle_kernel(notebook)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                           state="attached")
    editor.click()
    page.keyboard.press("Shift+Enter")
    # a "Select Kernel" dialog, should the session still be settling, takes the default
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()


def test_run_graph_shows_nodes_going_from_running_to_completed_and_failed(
        lab: Any, page: Any, artifacts: Path) -> None:
    _write_notebook(lab.root, "run_graph.ipynb")
    page.goto(lab.open_url("run_graph.ipynb"))
    page.evaluate(RECORD_STATES)
    _run_cell(page, lab, "run_graph.ipynb")

    page.wait_for_selector(NODE, timeout=120_000)
    page.wait_for_function("() => Array.from(window.__onbSeen).some(s => s.endsWith('=running'))",
                           timeout=60_000)
    widget = page.locator('[data-testid="onb-graph"]')
    widget.screenshot(path=str(artifacts / "run_graph_widget_running.png"))
    page.wait_for_selector(f"{NODE}[data-label='publish-0']", timeout=60_000)
    # the run over, its output becomes the final graph without the widget (what is saved)
    saved = page.locator(SAVED)
    saved.wait_for(timeout=90_000)
    page.wait_for_selector(".jp-OutputArea-output:has-text('flow finished: Failed')")

    states = _states(page)
    assert states == {"extract-0": "completed", "clean-0": "completed",
                      "validate-0": "failed", "enrich-0": "completed",
                      "score (mapped)": "completed", "publish-0": "completed"}
    seen = _seen(page)
    assert {"extract-0=running", "validate-0=running"} <= seen, seen
    assert "etl-demo" in saved.inner_text() and ": failed" in saved.inner_text()

    failure = page.inner_text('[data-testid="onb-failure"]')
    assert "validate-0" in failure and "ValueError: row 3 failed validation" in failure
    assert "in validate" in failure and 'raise ValueError("row 3 failed validation")' in failure
    page.click('[data-testid="onb-saved-logs"] summary')
    assert "checking 5 rows" in page.inner_text('[data-testid="onb-saved-logs"]')

    saved.scroll_into_view_if_needed()
    path = artifacts / "run_graph_widget.png"
    page.screenshot(path=str(path), full_page=True)
    saved.screenshot(path=str(artifacts / "run_graph_widget_only.png"))
    print(f"\nscreenshot: {path}")


def test_a_saved_notebook_reopened_without_its_kernel_still_shows_the_graph(
        lab: Any, page: Any, artifacts: Path) -> None:
    _write_notebook(lab.root, "saved_graph.ipynb")
    page.goto(lab.open_url("saved_graph.ipynb"))
    _run_cell(page, lab, "saved_graph.ipynb")
    page.locator(SAVED).wait_for(timeout=180_000)
    page.wait_for_selector(".jp-OutputArea-output:has-text('flow finished: Failed')")
    page.keyboard.press("Control+s")
    wait_for(lambda: "onb-saved-graph" in (lab.root / "saved_graph.ipynb").read_text(),
             "the notebook saved with its final graph")
    page.goto("about:blank")
    lab.shut_down_kernels()

    page.goto(lab.open_url("saved_graph.ipynb"))
    page.locator(SAVED).wait_for(timeout=60_000)
    page.locator(SAVED).scroll_into_view_if_needed()
    path = artifacts / "saved_graph_reopened.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"\nscreenshot: {path}")
    for label in ("extract-0", "validate-0", "score (mapped)", "publish-0"):
        assert page.locator(f"{SAVED} {NODE}[data-label='{label}']").is_visible()
    assert "validate-0" in page.inner_text(SAVED)
    assert page.locator("text=Error displaying widget").count() == 0
    assert "model not found" not in page.inner_text(".jp-Notebook")
    assert not page.locator(f"{SAVED} .onb-saved-graph__text").is_visible()

    # Edited elsewhere, it is no longer trusted: JupyterLab strips the SVG from the HTML,
    # and the text version of the graph shows instead (no jumble of the SVG's labels).
    notebook = nbformat.read(lab.root / "saved_graph.ipynb", as_version=4)
    notebook.metadata["edited_elsewhere"] = True
    nbformat.write(notebook, lab.root / "saved_graph.ipynb")
    page.goto("about:blank")
    page.goto(lab.open_url("saved_graph.ipynb"))
    # (the sanitiser keeps class attributes, not data-testid ones)
    text = page.locator(".onb-saved-graph .onb-saved-graph__text")
    text.wait_for(timeout=60_000)
    text.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "saved_graph_untrusted.png"), full_page=True)
    assert page.locator(".onb-saved-graph svg").count() == 0  # sanitised: untrusted indeed
    assert "validate-0      ✗ failed" in text.inner_text()
    failure = page.inner_text(".onb-saved-graph .onb-saved-graph__failure")
    assert "ValueError: row 3 failed validation" in failure


SLOW_TAIL_CELL = '''\
import time
from orchestrate_nb import flow, task, get_run_logger

@task
def parse(text):
    if text != "x1":
        time.sleep(0.5)  # these log after the failure, which scrolls out of the last lines
        get_run_logger().info("parsed %s", text)
    return int(text)

@task
def wait_a_while():
    time.sleep(20)

@flow(name="slow-tail")
def slow_tail():
    parse.map(["x1"] + [str(n) for n in range(12)])
    wait_a_while.submit()

slow_tail(return_state=True)
'''


def test_a_failed_node_of_the_live_widget_shows_its_exception_and_frame(
        lab: Any, page: Any, artifacts: Path) -> None:
    _write_notebook(lab.root, "live_failure.ipynb", (SLOW_TAIL_CELL,))
    page.goto(lab.open_url("live_failure.ipynb"))
    _run_cell(page, lab, "live_failure.ipynb")
    failed = page.locator(f'[data-testid="onb-graph"] {NODE}[data-label="parse (mapped)"]'
                          f'[data-state="failed"]')
    failed.wait_for(timeout=120_000)
    failed.click()  # pinned: the panel keeps it while the run goes on
    panel = page.locator('[data-testid="onb-logs"]')
    panel.screenshot(path=str(artifacts / "live_failure_panel.png"))
    text = panel.inner_text()
    assert "ValueError: invalid literal for int() with base 10: 'x1'" in text
    assert ", in parse" in text and "return int(text)" in text
    assert "parsed 11" in text  # and the last log lines, as before


CELL_TASKS = (
    "%load_ext orchestrate_nb",
    "%%task load\nimport time\ntime.sleep(1.5)\nrows = [1, 2, 3]",
    "%%task check\ntime.sleep(0.5)\nassert len(rows) > 5, 'too few rows'",
    "%%task total\nresult = sum(rows)",
    "%load_ext orchestrate_nb\n%flow run",  # the only cell run: it runs the others
)


def test_flow_run_shows_the_task_cells_live_with_the_failure_and_what_did_not_run(
        lab: Any, page: Any, artifacts: Path) -> None:
    _write_notebook(lab.root, "cells.ipynb", CELL_TASKS)
    page.goto(lab.open_url("cells.ipynb"))
    page.evaluate(RECORD_STATES)
    _run_cell(page, lab, "cells.ipynb", index=len(CELL_TASKS) - 1)
    page.wait_for_function("() => window.__onbSeen.has('load=running')", timeout=120_000)
    page.wait_for_function(
        """() => { const s = Object.fromEntries(Array.from(document.querySelectorAll(
                     '[data-testid="onb-node"]')).map(n => [n.dataset.label, n.dataset.state]));
                   return s.check === 'failed' && s.total === 'completed'; }""",
        timeout=90_000)
    assert _states(page) == {"load": "completed", "check": "failed", "total": "completed"}
    page.wait_for_selector(".jp-OutputArea-output:has-text('AssertionError')")
    widget = page.locator(SAVED)
    widget.wait_for()
    assert "AssertionError: too few rows" in page.inner_text('[data-testid="onb-failure"]')
    widget.scroll_into_view_if_needed()
    path = artifacts / "flow_run_widget.png"
    widget.screenshot(path=str(path))
    print(f"\nscreenshot: {path}")
