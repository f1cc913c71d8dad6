"""``%%task`` cells in real kernels: cached across a restart, outputs and displays shown again,
mutated inputs restored, explanations, unpicklable values, the run store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kernels import (
    LOAD,
    badge,
    displays,
    execute,
    notebook_of,
    query,
    result,
    run_cells,
    stream,
)

PIPELINE = [
    LOAD,
    """%%task load
import pandas as pd
with open("runs.log", "a") as log:
    log.write("load\\n")
df = pd.DataFrame({"a": [1, 2, 3]})
print("loaded", len(df), "rows")
display(df)
df.shape""",
    """%%task scale
with open("runs.log", "a") as log:
    log.write("scale\\n")
factor = 10
df["b"] = df["a"] * factor   # mutates an input""",
    """%%task total
with open("runs.log", "a") as log:
    log.write("total\\n")
total = int(df["b"].sum())
print("total", total)""",
    "print(sorted(df.columns), total, factor)",
]


@pytest.fixture(scope="module")
def restarted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The pipeline executed, then executed again in a fresh kernel (a restart)."""
    work = tmp_path_factory.mktemp("pipeline")
    home = work / "home"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(home))
        first = [c.outputs for c in execute(notebook_of(PIPELINE), work).cells]
        runs_after_first = (work / "runs.log").read_text().split()
        second = [c.outputs for c in execute(notebook_of(PIPELINE), work).cells]
    return {"first": first, "second": second, "home": home,
            "runs_after_first": runs_after_first,
            "runs_after_second": (work / "runs.log").read_text().split()}


def test_the_first_execution_runs_every_cell_and_says_why(restarted):
    assert restarted["runs_after_first"] == ["load", "scale", "total"]
    for outputs in restarted["first"][1:4]:
        assert badge(outputs).startswith("▶ ran: first run · ")


def test_after_a_restart_every_unchanged_cell_is_restored_from_the_cache(restarted):
    assert restarted["runs_after_second"] == restarted["runs_after_first"]
    for outputs in restarted["second"][1:4]:
        assert badge(outputs).startswith("⟳ cached · saved ")


def test_a_hit_shows_the_printed_output_and_the_html_table_again(restarted):
    load = restarted["second"][1]
    assert stream(load) == "loaded 3 rows\n"
    table = displays(load)[0]
    assert "<table" in table["text/html"] and "a" in table["text/plain"]
    assert result(load) == "(3, 1)"
    assert stream(restarted["second"][3]) == "total 60\n"


def test_a_hit_puts_the_outputs_and_the_mutated_input_back_into_the_namespace(restarted):
    assert stream(restarted["second"][4]) == "['a', 'b'] 60 10\n"


def test_the_session_flow_run_and_each_cell_task_run_are_in_the_store(restarted):
    sessions = query(restarted["home"], "SELECT fr.state_name, f.name FROM flow_runs fr "
                                        "JOIN flows f ON f.id = fr.flow_id")
    assert sessions == [("Completed", "notebook"), ("Completed", "notebook")]
    runs = query(restarted["home"], "SELECT task_name, state_name, cache_key IS NOT NULL "
                                    "FROM task_runs ORDER BY created")
    assert runs == [("load", "Completed", 0), ("scale", "Completed", 0),
                    ("total", "Completed", 0), ("load", "Cached", 1), ("scale", "Cached", 1),
                    ("total", "Cached", 1)]


def test_a_cell_s_prints_are_kept_as_log_lines_of_its_task_run(restarted):
    lines = query(restarted["home"], "SELECT t.task_name, l.message FROM logs l "
                                     "JOIN task_runs t ON t.id = l.task_run_id")
    assert ("load", "loaded 3 rows") in lines


def test_edges_link_a_cell_to_the_cells_that_defined_its_inputs(restarted):
    edges = query(restarted["home"], "SELECT u.task_name, d.task_name, e.input_name "
                                     "FROM task_run_edges e "
                                     "JOIN task_runs u ON u.id = e.upstream_task_run_id "
                                     "JOIN task_runs d ON d.id = e.downstream_task_run_id")
    assert ("load", "scale", "df") in edges and ("scale", "total", "df") in edges


CHANGES = [
    LOAD,
    "%%task source\nn = 3",
    "%%task square\nsquare = n * n",
    "%%task source\nn = 4",
    "%%task square\nsquare = n * n",
    "%%task source\nn = 3  # back to three",
    "%%task square\nsquare = n * n\nsquare",
    "%%task square\nsquare = n * n\nsquare",
]


@pytest.fixture(scope="module")
def changes(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    work = tmp_path_factory.mktemp("changes")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(work / "home"))
        return run_cells(CHANGES, work)


def test_a_cell_whose_code_changed_re_runs_and_says_so(changes):
    assert badge(changes[3]).startswith("▶ re-ran: code changed")


def test_a_cell_whose_upstream_value_changed_re_runs_naming_the_input(changes):
    assert badge(changes[4]).startswith("▶ re-ran: n changed")


def test_comments_and_whitespace_do_not_change_the_cache_key(changes):
    assert badge(changes[5]).startswith("⟳ cached")


def test_going_back_to_an_earlier_input_value_is_a_hit(changes):
    assert badge(changes[6]).startswith("▶ re-ran: code changed")  # it now ends in `square`
    assert badge(changes[7]).startswith("⟳ cached")
    assert result(changes[7]) == "9"


UNPICKLABLE = [
    LOAD,
    "import threading\nlock = threading.Lock()",
    "%%task guarded\nwith lock:\n    z = 1\nprint('guarded', z)",
    "%%task makes_lock\nimport threading\nmine = threading.Lock()\nprint('made one')",
    "%%task makes_lock\nimport threading\nmine = threading.Lock()\nprint('made one')",
    "print(type(mine).__name__, z)",
]


@pytest.fixture(scope="module")
def unpicklable(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    work = tmp_path_factory.mktemp("unpicklable")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(work / "home"))
        return run_cells(UNPICKLABLE, work, allow_errors=False)


def test_an_input_that_cannot_be_fingerprinted_runs_the_cell_uncached_naming_it(unpicklable):
    assert stream(unpicklable[2]) == "guarded 1\n"
    assert "not cached: 'lock' (lock) can't be pickled" in badge(unpicklable[2])


def test_an_output_that_cannot_be_pickled_leaves_the_cell_uncached_with_the_reason(unpicklable):
    assert "not cached: 'mine' (lock) can't be pickled" in badge(unpicklable[3])
    assert stream(unpicklable[4]) == "made one\n"  # ran again: nothing was cached
    assert "not cached" in badge(unpicklable[4])
    assert stream(unpicklable[5]) == "lock 1\n"


def test_a_cell_that_never_touched_the_extension_still_works(tmp_path: Path):
    outputs = run_cells([LOAD, "x = 1\nx + 1"], tmp_path)
    assert result(outputs[1]) == "2"


OPTIONS = [
    LOAD,
    "%%task tagged --tags etl,daily --cache-expiration 1h\nv = 1",
    "%%task tagged --tags etl,daily --cache-expiration 1h\nv = 1",
    "%%task tagged --tags etl,daily --refresh\nv = 1",
    "%%task uncached --no-cache\nw = 2",
    "%%task uncached --no-cache\nw = 2",
    "a = 1\nb = 2",
    "%%task overridden --inputs a --outputs c\nc = a + b\nd = 5",
    "b = 3\ndel c, d",
    "%%task overridden --inputs a --outputs c\nc = a + b\nd = 5",
    "print(c, 'd' in dir())",
    "%%task expiring --cache-expiration 1s\nimport time\ne = time.time()",
    "import time\ntime.sleep(1.2)",
    "%%task expiring --cache-expiration 1s\nimport time\ne = time.time()",
]


@pytest.fixture(scope="module")
def options(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("options")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(work / "home"))
        return {"outputs": run_cells(OPTIONS, work, allow_errors=False), "home": work / "home"}


def test_refresh_runs_a_cached_cell_again_and_no_cache_always_runs(options):
    outputs = options["outputs"]
    assert badge(outputs[2]).startswith("⟳ cached")
    assert badge(outputs[3]).startswith("▶ re-ran: --refresh")
    assert badge(outputs[4]).startswith("▶ ran: --no-cache")
    assert badge(outputs[5]).startswith("▶ ran: --no-cache")


def test_inputs_and_outputs_given_by_hand_replace_inference(options):
    outputs = options["outputs"]
    assert badge(outputs[9]).startswith("⟳ cached")  # b is not an input
    assert stream(outputs[10]) == "3 False\n"  # c restored; d is not an output


def test_an_expired_cache_entry_is_a_miss(options):
    assert badge(options["outputs"][13]).startswith(
        "▶ re-ran: no cache entry (cleared or expired)")


def test_tags_are_recorded_on_the_task_run(options):
    tags = query(options["home"], "SELECT DISTINCT tags FROM task_runs WHERE task_name = 'tagged'")
    assert [json.loads(t) for (t,) in tags] == [["daily", "etl"]]


KNOWN = [
    LOAD,
    """class Counted:
    reductions = 0

    def __reduce__(self):
        Counted.reductions += 1
        return (Counted, ())""",
    "%%task make\nobj = Counted()",
    "before = Counted.reductions",
    "%%task read\nflag = obj is not None",
    "print(Counted.reductions - before)",
    "obj.tag = 'changed in place'",
    "before = Counted.reductions",
    "%%task read\nflag = obj is not None",
    "print(Counted.reductions - before)",
]


def test_a_value_a_task_cell_produced_is_not_hashed_again_downstream(tmp_path: Path):
    outputs = run_cells(KNOWN, tmp_path, allow_errors=False)
    assert stream(outputs[5]) == "0\n"
    assert stream(outputs[9]) == "1\n"  # a plain cell mutated it: fingerprinted again


def test_a_cell_can_await_at_top_level_and_the_extension_reloads(tmp_path: Path):
    cell = "%%task waits\nimport asyncio\nawait asyncio.sleep(0.01)\nvalue = 42\nvalue"
    outputs = run_cells([LOAD, cell, "%reload_ext orchestrate_nb", cell], tmp_path,
                        allow_errors=False)
    assert result(outputs[1]) == "42" and badge(outputs[1]).startswith("▶ ran: first run")
    assert result(outputs[3]) == "42" and badge(outputs[3]).startswith("⟳ cached")
