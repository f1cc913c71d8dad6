"""The saved run graph drawn by the labextension, with no kernel: a flow run in a notebook
ends with an output that carries the run-graph MIME type; saved, its kernel shut down and
the notebook reopened, our renderer (the inline widget's own view) draws the graph, not the
HTML/SVG fallback, and hovering a node shows its details. It does so in an untrusted
notebook too. Screenshots go to test-artifacts/ui/saved_graph_renderer*.png.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from polling import wait_for

from orchestrate_nb.notebook.graph.html import RUN_GRAPH_MIME

pytestmark = pytest.mark.ui

FLOW_CELL = '''\
from orchestrate_nb import flow, task, get_run_logger

@task
def extract():
    get_run_logger().info("read 3 rows")
    return [1, 2, 3]

@task
def check(rows):
    get_run_logger().info("checking %d rows", len(rows))
    raise ValueError("row 2 is negative")

@task
def total(rows):
    return sum(rows)

@flow(name="saved-demo")
def saved_demo():
    rows = extract.submit()
    check.submit(rows)
    total.submit(rows)

state = saved_demo(return_state=True)
print("flow finished:", state.name)
'''

VIEW = '[data-testid="onb-saved-graph-view"]'
FALLBACK = '[data-testid="onb-saved-graph"], .onb-saved-graph'
NODE = '[data-testid="onb-node"]'


def _write_notebook(root: Path, name: str) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOW_CELL)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, root / name)


def _run_first_cell(page: Any, lab: Any, notebook: str) -> None:
    editor = page.locator(".jp-Notebook .jp-Cell .jp-InputArea-editor").first
    editor.wait_for(state="visible")
    lab.wait_for_idle_kernel(notebook)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                           state="attached")
    editor.click()
    page.keyboard.press("Shift+Enter")
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():
        dialog.first.click()


def _saved_outputs(path: Path) -> list[dict[str, Any]]:
    notebook = json.loads(path.read_text())
    return [o for c in notebook["cells"] for o in c.get("outputs", [])
            if RUN_GRAPH_MIME in o.get("data", {})]


def _states(page: Any) -> dict[str, str]:
    return page.evaluate(f"""() => Object.fromEntries(
        Array.from(document.querySelectorAll('{VIEW} {NODE}'))
             .map(n => [n.dataset.label, n.dataset.state]))""")


def _check_drawn_with_details(page: Any) -> None:
    view = page.locator(VIEW)
    view.wait_for(timeout=60_000)
    view.scroll_into_view_if_needed()
    assert _states(page) == {"extract-0": "completed", "check-0": "failed",
                             "total-0": "completed"}
    assert page.locator(FALLBACK).count() == 0  # ours, not the HTML fallback
    # styled by the widget's stylesheet, in the state table's colours
    stripe = page.evaluate(f"""() => getComputedStyle(document.querySelector(
        '{VIEW} {NODE}[data-label="check-0"] .onb-node__stripe')).fill""")
    assert stripe == "rgb(207, 34, 46)", stripe  # failed: #cf222e
    header = view.locator(".onb-graph__header").inner_text()
    assert "saved-demo" in header and "failed" in header
    page.locator(f"{VIEW} {NODE}[data-label='check-0']").hover()
    panel = view.locator('[data-testid="onb-logs"]')
    wait_for(lambda: "row 2 is negative" in panel.inner_text(), "the hovered node's details")
    details = panel.inner_text()
    assert "check-0 — failed" in details and "ValueError: row 2 is negative" in details
    assert 'raise ValueError("row 2 is negative")' in details  # the user's frame
    page.locator(f"{VIEW} {NODE}[data-label='extract-0']").hover()
    wait_for(lambda: "read 3 rows" in panel.inner_text(), "the log lines of extract-0")


def test_a_reopened_notebook_with_no_kernel_draws_its_saved_graph_with_our_renderer(
        lab: Any, page: Any, artifacts: Path) -> None:
    name = "saved_renderer.ipynb"
    _write_notebook(lab.root, name)
    page.goto(lab.open_url(name))
    _run_first_cell(page, lab, name)
    page.wait_for_selector(".jp-OutputArea-output:has-text('flow finished: Failed')",
                           timeout=180_000)
    page.locator(VIEW).wait_for(timeout=60_000)  # the final graph replaced the widget
    page.keyboard.press("Control+s")
    wait_for(lambda: _saved_outputs(lab.root / name), "the notebook saved with its graph")
    [saved] = _saved_outputs(lab.root / name)
    data = saved["data"][RUN_GRAPH_MIME]
    assert set(data) == {"graph", "states", "box"} and "text/html" in saved["data"]
    page.goto("about:blank")
    lab.shut_down_kernels()

    page.goto(lab.open_url(name))
    _check_drawn_with_details(page)
    assert page.locator("text=Error displaying widget").count() == 0
    page.locator(VIEW).screenshot(path=str(artifacts / "saved_graph_renderer.png"))
    page.screenshot(path=str(artifacts / "saved_graph_renderer_page.png"), full_page=True)

    # Edited elsewhere, the notebook is no longer trusted: the renderer is safe (it builds
    # its DOM from text, never from HTML), so it still draws, with the same details.
    notebook = nbformat.read(lab.root / name, as_version=4)
    notebook.metadata["edited_elsewhere"] = True
    nbformat.write(notebook, lab.root / name)
    page.goto("about:blank")
    page.goto(lab.open_url(name))
    _check_drawn_with_details(page)
    page.locator(VIEW).screenshot(path=str(artifacts / "saved_graph_renderer_untrusted.png"))
