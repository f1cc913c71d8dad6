"""``orchestrate-nb runs show`` names a notebook run's executed notebook and ``runs export``
copies it where JupyterLab can open it; every refusal is one line and writes nothing."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from sqlalchemy import update

from orchestrate_nb.store.orm import FlowRun


@pytest.fixture
def notebook_run(store, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A finished run whose worker stored its executed notebook."""
    run, _ = store.add_flow("etl.ipynb", name="nightly-run")
    executed = tmp_path / "home-runs" / f"{run.id}.ipynb"
    executed.parent.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hi')")])
    nbformat.write(notebook, executed)
    with store.writer.database.write() as conn:
        conn.execute(update(FlowRun).where(FlowRun.id == run.id)
                     .values(executed_notebook=str(executed)))
    return run, executed


def test_runs_show_names_the_executed_notebook(cli, notebook_run):
    run, executed = notebook_run
    assert str(executed) in cli("runs", "show", run.id[:8]).out


def test_export_copies_the_executed_notebook_into_a_folder_or_to_a_path(
        cli, notebook_run, tmp_path):
    run, executed = notebook_run
    folder = tmp_path / "lab"
    folder.mkdir()

    result = cli("runs", "export", run.id[:8], str(folder))

    [copied] = folder.iterdir()
    assert result.code == 0 and str(copied) in result.out
    assert copied.name == "etl-nightly-run.ipynb"
    assert copied.read_bytes() == executed.read_bytes()
    assert cli("runs", "export", run.id, str(folder / "mine.ipynb")).code == 0
    assert (folder / "mine.ipynb").read_bytes() == executed.read_bytes()


def test_export_refuses_to_overwrite_unless_forced(cli, notebook_run, tmp_path):
    run, executed = notebook_run
    target = tmp_path / "taken.ipynb"
    target.write_text("mine")

    refused = cli("runs", "export", run.id, str(target))

    assert (refused.code, refused.out) == (1, "")
    assert refused.err == f"Error: {target} already exists (--force replaces it)\n"
    assert target.read_text() == "mine"
    assert cli("runs", "export", run.id, str(target), "--force").code == 0
    assert target.read_bytes() == executed.read_bytes()


def test_export_refuses_a_run_without_a_notebook_and_a_missing_folder(
        cli, store, notebook_run, tmp_path):
    plain, _ = store.add_flow("etl", name="script-run")
    run, _ = notebook_run

    no_notebook = cli("runs", "export", plain.id, str(tmp_path))
    missing = cli("runs", "export", run.id, str(tmp_path / "nope" / "x.ipynb"))
    not_a_folder = cli("runs", "export", run.id, str(tmp_path / "nope"))

    assert no_notebook.code == missing.code == not_a_folder.code == 1
    assert "script-run" in no_notebook.err and "has no executed notebook" in no_notebook.err
    assert missing.err == f"Error: folder {tmp_path / 'nope'} does not exist\n"
    assert "is not a folder" in not_a_folder.err
    assert not (tmp_path / "nope").exists()
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".ipynb"] == []


def test_export_names_the_file_after_the_run_without_repeating_the_notebooks_name(
        cli, store, tmp_path):
    # a deployment named like its notebook: its runs are "sales-<time>" of flow "sales"
    run, _ = store.add_flow("sales", name="sales-20261204-214441")
    executed = tmp_path / "runs" / f"{run.id}.ipynb"
    executed.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), executed)
    with store.writer.database.write() as conn:
        conn.execute(update(FlowRun).where(FlowRun.id == run.id)
                     .values(executed_notebook=str(executed)))
    folder = tmp_path / "lab"
    folder.mkdir()

    assert cli("runs", "export", run.id[:8], str(folder)).code == 0
    assert [p.name for p in folder.iterdir()] == ["sales-20261204-214441.ipynb"]


def test_runs_show_prints_the_export_command_on_a_line_of_its_own(cli, store, tmp_path):
    """A worker's home has long paths: the command a user copies never wraps mid-way."""
    run, _ = store.add_flow("sales", name="sales-20261204-214441")
    executed = tmp_path / ("x" * 70) / f"{run.id}.ipynb"
    executed.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), executed)
    with store.writer.database.write() as conn:
        conn.execute(update(FlowRun).where(FlowRun.id == run.id)
                     .values(executed_notebook=str(executed)))

    lines = cli("runs", "show", run.id[:8]).out.splitlines()

    assert any(f"orchestrate-nb runs export {run.id[:8]} DEST" in line for line in lines), lines
