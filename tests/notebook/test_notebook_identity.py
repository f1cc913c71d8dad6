"""Cells judged by the code this kernel ran, not by an older saved file; cache and history
per notebook (the same task name in two notebooks is two tasks); option mistakes answered
in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from kernels import LOAD, badge, displays, execute, notebook_of, run_cells, stream
from polling import WAIT_SECONDS


def status_rows(outputs: list[object]) -> dict[str, str]:
    text = displays(outputs)[0]["text/plain"]  # type: ignore[arg-type]
    return {line.split()[0]: line.split(maxsplit=1)[1] for line in text.splitlines()[1:]}


def test_a_cell_edited_and_run_but_not_saved_is_not_stale_and_flow_run_runs_that_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    saved = tmp_path / "report.ipynb"
    nbformat.write(notebook_of([LOAD, "x = 3", "%%task double\ny = x * 2"]), str(saved))
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(saved))
    outputs = run_cells([LOAD, "x = 3", "%%task double\ny = x * 3", "%flow status",
                         "%flow run", "print(y)", "%flow graph"], tmp_path, allow_errors=False)
    note = "the saved notebook differs from what this kernel ran (double): save with Ctrl+S\n"
    assert status_rows(outputs[3])["double"].startswith("completed")
    assert stream(outputs[3]) == note
    # (the flow run's INFO lines print on stdout too, between the note and the cells')
    assert stream(outputs[4]).startswith(note) and "\ndouble: ⟳ cached" in stream(outputs[4])
    assert stream(outputs[5]) == "9\n"
    assert stream(outputs[6]) == note


def test_a_cell_saved_with_other_code_after_it_ran_is_stale_and_flow_run_runs_the_saved_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    saved = tmp_path / "report.ipynb"
    save_later = (f"import nbformat\nnb = nbformat.read({str(saved)!r}, as_version=4)\n"
                  "nb.cells[2].source = '%%task double\\ny = x * 4'\n"
                  f"nbformat.write(nb, {str(saved)!r})")
    nbformat.write(notebook_of([LOAD, "x = 3", "%%task double\ny = x * 2"]), str(saved))
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(saved))
    outputs = run_cells([LOAD, "x = 3", "%%task double\ny = x * 2", save_later,
                         "%flow status", "%flow run", "print(y)"], tmp_path, allow_errors=False)
    row = status_rows(outputs[4])["double"]
    assert row.startswith("stale") and row.endswith("code changed")
    assert stream(outputs[4]) == ""
    assert stream(outputs[6]) == "12\n"


def test_the_same_task_name_in_two_notebooks_is_two_tasks(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(tmp_path / "home"))
    cells = {"a": "%%task load\nrows = 3", "b": "%%task load\nrows = 4",
             "c": "%%task load\nrows = 3"}
    paths = {}
    for name, cell in cells.items():
        paths[name] = tmp_path / f"{name}.ipynb"
        nbformat.write(notebook_of([LOAD, cell, "%flow clear-cache load"]), str(paths[name]))

    def run(name: str, clear: bool = False) -> str:
        monkeypatch.setenv("JPY_SESSION_NAME", str(paths[name]))
        notebook = nbformat.read(str(paths[name]), as_version=4)
        if not clear:
            notebook.cells.pop()
        executed = execute(notebook, tmp_path, allow_errors=False)
        return badge(executed.cells[1].outputs)

    assert run("a").startswith("▶ ran: first run")
    assert run("b").startswith("▶ ran: first run")  # not "re-ran: code changed"
    assert run("c").startswith("▶ ran: first run")  # a's code, but not a's task
    assert run("b", clear=True).startswith("⟳ cached")
    assert run("a").startswith("⟳ cached")  # clearing b's cache left a's alone
    assert run("b").startswith("▶ re-ran: no cache entry")


def test_an_unknown_option_suggests_the_closest_and_unknown_inputs_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(tmp_path / "home"))
    outputs = run_cells([LOAD, "%%task --retires 2\nx = 1", "%%task t --inputs nope\ny = 1",
                         "print('y' in dir())"], tmp_path)
    assert stream(outputs[1], "stderr") == (
        "UsageError: %%task: unrecognized arguments: --retires; did you mean --retries?\n")
    assert stream(outputs[2], "stderr") == (
        "UsageError: %%task --inputs: 'nope' is not defined; run the cell that defines it "
        "first, or leave it out of --inputs\n")
    assert stream(outputs[3]) == "False\n"


def test_a_deployment_run_of_a_notebook_is_the_same_notebook_as_the_interactive_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from orchestrate_nb.deploy.deployments import deploy_notebook, trigger_deployment

    path = tmp_path / "report.ipynb"
    nbformat.write(notebook_of(["n = 3", LOAD, "%%task total\nresult = n * 2"]), str(path))
    path.write_text(path.read_text().replace('"metadata": {}', '"metadata": {"tags": '
                                             '["parameters"]}', 1))
    deploy_notebook(path, name="report")
    trigger_deployment("report")
    worker = subprocess.run([sys.executable, "-m", "orchestrate_nb.cli.app", "worker", "start",
                             "--run-once"], stdin=subprocess.DEVNULL, timeout=WAIT_SECONDS)
    assert worker.returncode == 0
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    executed = execute(nbformat.read(str(path), as_version=4), tmp_path, allow_errors=False)
    assert badge(executed.cells[2].outputs).startswith("⟳ cached")


def test_flow_run_of_another_notebook_uses_that_notebook_s_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(tmp_path / "home"))
    other, main = tmp_path / "other.ipynb", tmp_path / "main.ipynb"
    nbformat.write(notebook_of([LOAD, "%%task total\nresult = 2 + 2"]), str(other))
    nbformat.write(notebook_of([LOAD, "%flow run --notebook other.ipynb"]), str(main))
    monkeypatch.setenv("JPY_SESSION_NAME", str(other))
    execute(nbformat.read(str(other), as_version=4), tmp_path, allow_errors=False)
    monkeypatch.setenv("JPY_SESSION_NAME", str(main))
    executed = execute(nbformat.read(str(main), as_version=4), tmp_path, allow_errors=False)
    assert "\ntotal: ⟳ cached" in stream(executed.cells[1].outputs)  # after the INFO line
