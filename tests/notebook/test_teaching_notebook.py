"""notebooks/01_cell_tasks.ipynb is executed, top to bottom, as CI does."""

from __future__ import annotations

from pathlib import Path

import nbformat
from kernels import badges, execute

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "01_cell_tasks.ipynb"


def test_the_notebook_is_stored_with_its_outputs_cleared():
    notebook = nbformat.read(str(NOTEBOOK), as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_cell_tasks_notebook_runs_top_to_bottom(tmp_path: Path):
    notebook = execute(nbformat.read(str(NOTEBOOK), as_version=4), tmp_path,
                       allow_errors=False)  # only cells tagged raises-exception may fail
    shown = [badge for cell in notebook.cells if cell.cell_type == "code"
             for badge in badges(cell.outputs)]
    assert any(b.startswith("⟳ cached · saved ") and b.endswith(" s") for b in shown)
    assert any(b.startswith("▶ re-ran: price changed") for b in shown)
    assert any("not cached: 'lock' (lock) can't be pickled" in b for b in shown)
    assert any(b.startswith("▶ re-ran: data/sales.csv changed") for b in shown)
    assert (tmp_path / "pipeline.ipynb").is_file()
