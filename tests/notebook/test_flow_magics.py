"""``%flow`` in real kernels: run (after a restart, from the saved notebook; --stale;
--parallel; -p), status, graph, history, clear-cache; cycles and failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from kernels import (
    LOAD,
    badge,
    displays,
    error,
    execute,
    notebook_of,
    query,
    run_cells,
    stream,
    traceback_text,
)

SAVED = [
    LOAD,
    "import math\n\ndef double(x):\n    return 2 * x",
    "n = 3",
    """%%task source
with open("source.runs", "a") as runs:
    runs.write("ran\\n")
values = [double(i) for i in range(n)]""",
    "%%task summary\ntotal = sum(values)\nprint('total', total)",
    "%%task other\nroot = round(math.sqrt(n), 3)",
]


def save(path: Path, cells: list[str], tags: dict[int, list[str]] | None = None) -> Path:
    nbformat.write(notebook_of(cells, tags), str(path))
    return path


@pytest.fixture(scope="module")
def after_restart(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The notebook run interactively, then ``%flow run`` in a fresh kernel."""
    work = tmp_path_factory.mktemp("flow")
    home = work / "home"
    notebook = save(work / "analysis.ipynb", SAVED, {2: ["parameters"]})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(home))
        # run in JupyterLab, which tells the kernel its notebook (cache is per notebook)
        env.setenv("JPY_SESSION_NAME", str(notebook))
        execute(nbformat.read(str(notebook), as_version=4), work, allow_errors=False)
        env.delenv("JPY_SESSION_NAME")
        outputs = run_cells([
            LOAD,
            "%flow run --notebook analysis.ipynb",
            "print(total, root, n)",
            "%flow status",
            "n = 5",
            "%flow status",
            "%flow run --stale -p n=4",
            "print(total, root, n)",
            "%flow graph",
            "%flow history 3",
            "%flow clear-cache summary",
            "%%task summary\ntotal = sum(values)\nprint('total', total)",
        ], work, allow_errors=False)
    return {"outputs": outputs, "home": home,
            "source_runs": (work / "source.runs").read_text().split()}


def test_flow_run_after_a_restart_restores_every_cell_from_the_cache(after_restart):
    text = stream(after_restart["outputs"][1])
    for name in ("source", "summary", "other"):
        assert f"{name}: ⟳ cached · saved " in text
    assert stream(after_restart["outputs"][2]) == "6 1.732 3\n"


def test_flow_run_runs_the_plain_cells_the_task_cells_need_after_a_restart(after_restart):
    assert stream(after_restart["outputs"][2]) == "6 1.732 3\n"  # double, math and n


def test_status_says_which_cells_are_stale_and_why(after_restart):
    before = displays(after_restart["outputs"][3])[0]["text/plain"]
    assert "source   cached" in before and "stale" not in before
    after = displays(after_restart["outputs"][5])[0]["text/plain"]
    assert "source   stale" in after and "n changed" in after
    assert "upstream 'source' is stale" in after


def test_flow_run_stale_re_runs_stale_cells_with_parameters(after_restart):
    text = stream(after_restart["outputs"][6])
    assert "source: ▶ re-ran: n changed" in text
    assert "summary: ▶ re-ran: values changed" in text
    assert stream(after_restart["outputs"][7]) == "12 2.0 4\n"
    assert after_restart["source_runs"] == ["ran", "ran"]  # the first run, then --stale


def test_flow_run_ends_with_the_graph_as_svg_and_text(after_restart):
    graph = displays(after_restart["outputs"][8])[0]
    assert graph["image/svg+xml"].startswith("<svg") and ">summary<" in graph["image/svg+xml"]
    assert "source" in graph["text/plain"] and "→ summary (values)" in graph["text/plain"]


def test_history_lists_this_notebook_s_flow_runs(after_restart):
    text = stream(after_restart["outputs"][9])
    assert text.count("Completed") >= 2 and "3 completed" in text


def test_clear_cache_forgets_one_cell_s_results(after_restart):
    assert stream(after_restart["outputs"][10]).startswith("removed 2 cached results")
    assert badge(after_restart["outputs"][11]).startswith(
        "▶ re-ran: no cache entry (cleared or expired)")


def test_each_flow_run_is_one_flow_run_with_edges_named_after_variables(after_restart):
    runs = query(after_restart["home"], "SELECT fr.parameters, fr.state_name FROM flow_runs fr "
                                        "JOIN flows f ON f.id = fr.flow_id WHERE f.name = "
                                        "'analysis' AND fr.name NOT LIKE 'session-%' "
                                        "ORDER BY fr.created")
    assert [(json.loads(p or "{}"), state) for p, state in runs] == [
        ({}, "Completed"), ({"n": 4}, "Completed")]
    edges = query(after_restart["home"], "SELECT u.task_name, d.task_name, e.input_name "
                                         "FROM task_run_edges e "
                                         "JOIN task_runs u ON u.id = e.upstream_task_run_id "
                                         "JOIN task_runs d ON d.id = e.downstream_task_run_id")
    assert ("source", "summary", "values") in edges


def test_the_session_path_lets_flow_run_find_the_notebook(tmp_path: Path, monkeypatch):
    save(tmp_path / "report.ipynb", [LOAD, "%%task hello\ngreeting = 'hi'"])
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "report.ipynb"))
    outputs = run_cells([LOAD, "%flow run", "print(greeting, __session__)"], tmp_path)
    assert "hello: ▶ ran: first run" in stream(outputs[1])
    assert stream(outputs[2]).startswith("hi ")


def test_without_a_notebook_path_flow_run_asks_for_one(tmp_path: Path):
    outputs = run_cells([LOAD, "%flow run"], tmp_path)
    assert stream(outputs[1], "stderr").startswith(
        "UsageError: can't find this notebook's file; save it and pass --notebook PATH")


def test_a_cycle_between_cells_is_a_one_line_usage_error(tmp_path: Path):
    save(tmp_path / "cycle.ipynb", [LOAD, "%%task a\nx = y + 1", "%%task b\ny = x + 1"])
    outputs = run_cells([LOAD, "%flow run --notebook cycle.ipynb", "%flow bogus"], tmp_path)
    message = stream(outputs[1], "stderr")
    assert message.startswith("UsageError: cells form a cycle: a → b → a")
    assert len(message.strip().splitlines()) == 1
    assert stream(outputs[2], "stderr").startswith("UsageError: %flow: unknown subcommand")


def test_a_failing_cell_fails_the_flow_run_with_the_user_s_traceback(tmp_path: Path):
    save(tmp_path / "fails.ipynb", [LOAD, "%%task first\nx = 1",
                                    "%%task second\ny = x / 0", "%%task third\nz = y + 1",
                                    "%%task fourth\nw = x + 1"])
    outputs = run_cells([LOAD, "%flow run --notebook fails.ipynb"], tmp_path)
    assert error(outputs[1]).ename == "ZeroDivisionError"
    text = traceback_text(outputs[1])
    assert "File <fails.ipynb, cell 3>:2" in text and "----> 2 y = x / 0" in text
    assert "orchestrate_nb" not in text
    printed = stream(outputs[1])
    assert "third: ✗ not run: an upstream cell failed" in printed
    assert "fourth: ▶ ran: first run" in printed


def test_parallel_runs_independent_cells_in_threads(tmp_path: Path):
    save(tmp_path / "wide.ipynb", [LOAD] + [
        f"%%task branch{i}\nimport threading\nthread{i} = threading.current_thread().name\n"
        f"print('branch {i}')" for i in range(3)])
    outputs = run_cells([LOAD, "%flow run --parallel 2 --notebook wide.ipynb",
                         "print(sorted({thread0, thread1, thread2}))"], tmp_path)
    printed = stream(outputs[1])
    assert all(f"branch{i}: ▶ ran: first run" in printed for i in range(3))
    assert "orchestrate-nb-task" in stream(outputs[2])
