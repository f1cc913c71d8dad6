"""A data scientist's notebook in a real JupyterLab: five ``%%task`` cells (``make_csv``
writes data/sales.csv from a ``parameters`` cell, ``load`` reads it with pandas, ``clean``,
``by_region``, ``plot`` with matplotlib). Changing the seed and running all again re-runs the
reader with the numbers of the new file (the badge says the file changed); saved and
reopened with no kernel, the notebook still shows its graph with the file edge.
Screenshots go to test-artifacts/ui/sales_*.png.
"""

from __future__ import annotations

import time
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

NOTEBOOK = "sales.ipynb"
CELLS = (
    "%load_ext orchestrate_nb\nimport pandas as pd\nimport matplotlib.pyplot as plt",
    "seed = 1\nn_rows = 200",
    '''%%task make_csv
import os
import numpy as np
rng = np.random.default_rng(seed)
frame = pd.DataFrame({"region": rng.choice(["north", "south", "east", "west"], n_rows),
                      "amount": rng.normal(100, 40, n_rows).round(2)})
os.makedirs("data", exist_ok=True)
frame.to_csv("data/sales.csv", index=False)''',
    '''%%task load
sales = pd.read_csv("data/sales.csv")
print(f"{len(sales)} rows, total {sales.amount.sum():.2f}")''',
    "%%task clean\nclean_sales = sales[sales.amount > 0]",
    '%%task by_region\ntotals = clean_sales.groupby("region").amount.sum().round(2)\ntotals',
    "%%task plot\nfig, ax = plt.subplots(figsize=(4, 2.5))\ntotals.plot.bar(ax=ax)\nplt.show()",
    "%flow graph",
)
LOAD, GRAPH = 3, 7
SAVED = '[data-testid="onb-saved-graph"]'
BUSY_PROMPT = """() => !Array.from(document.querySelectorAll('.jp-InputArea-prompt'))
                    .some(p => p.textContent.includes('*'))"""


def _write_notebook(root: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.cells[1].metadata["tags"] = ["parameters"]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, root / NOTEBOOK)


def _cell(page: Any, index: int) -> Any:
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def _run_all(page: Any, lab: Any, count: int) -> None:
    """Run > Run All Cells, then wait until the last cell has its new execution count."""
    lab.wait_for_idle_kernel(NOTEBOOK)
    before = _cell(page, len(CELLS) - 1).locator(".jp-InputArea-prompt").inner_text()
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    wait_for(lambda: _cell(page, len(CELLS) - 1).locator(".jp-InputArea-prompt").inner_text()
             not in (before, "[*]:"), "the last cell run", timeout=90)
    page.wait_for_function(BUSY_PROMPT)
    assert _cell(page, len(CELLS) - 1).locator(".jp-InputArea-prompt").inner_text() == \
        f"[{count * len(CELLS)}]:"


def _file_summary(root: Path) -> str:
    import pandas as pd

    sales = pd.read_csv(root / "data" / "sales.csv")
    return f"{len(sales)} rows, total {sales.amount.sum():.2f}"


def _save(page: Any, lab: Any, what: str) -> None:
    page.keyboard.press("Control+s")
    wait_for(lambda: what in (lab.root / NOTEBOOK).read_text(), "the notebook saved")


def test_a_new_seed_reruns_the_reader_with_the_new_file_and_the_graph_survives_reopening(
        lab: Any, page: Any, artifacts: Path) -> None:
    _write_notebook(lab.root)
    page.goto(lab.open_url(NOTEBOOK))
    _cell(page, 0).locator(".jp-InputArea-editor").wait_for()
    _run_all(page, lab, 1)
    first = _file_summary(lab.root)
    assert first.startswith("200 rows") and first in _cell(page, LOAD).inner_text()
    page.screenshot(path=str(artifacts / "sales_first_run.png"))

    _cell(page, 1).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text("seed = 2\nn_rows = 200")
    _save(page, lab, "seed = 2")
    _run_all(page, lab, 2)
    second = _file_summary(lab.root)
    load = _cell(page, LOAD)
    load.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "sales_new_seed.png"))
    assert second != first and second in load.inner_text()  # the kernel has the file's numbers
    assert "re-ran: data/sales.csv changed" in load.inner_text()
    assert "re-ran: seed changed" in _cell(page, 2).inner_text()
    assert "re-ran: clean_sales changed" in _cell(page, 5).inner_text()
    _cell(page, GRAPH).locator(SAVED).wait_for()

    _save(page, lab, "re-ran: totals changed")  # the second run's outputs, not the first's
    page.goto("about:blank")
    lab.shut_down_kernels()
    page.goto(lab.open_url(NOTEBOOK))
    graph = page.locator(SAVED)
    graph.wait_for()
    graph.scroll_into_view_if_needed()
    time.sleep(0.5)  # let the scroll settle before the picture
    page.screenshot(path=str(artifacts / "sales_reopened.png"))
    labels = page.evaluate(f"""() => Array.from(document.querySelectorAll(
        '{SAVED} [data-testid="onb-node"]')).map(n => n.dataset.label)""")
    assert labels == ["make_csv", "load", "clean", "by_region", "plot"]
    texts = page.evaluate(f"""() => Array.from(document.querySelectorAll(
        '{SAVED} svg text')).map(t => Array.from(t.childNodes)
            .filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.textContent).join(""))""")
    assert "…/sales.csv" in texts, texts  # the file edge keeps the file's name
    assert page.locator("text=Error displaying widget").count() == 0
    assert second in _cell(page, LOAD).inner_text()
