"""``orchestrate-nb runs`` and ``orchestrate-nb db`` against a store of synthetic runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestrate_nb.core.events import LogEmitted
from orchestrate_nb.store.schema import HEAD_REVISION


def test_runs_ls_lists_flow_runs_newest_first(cli, store):
    first, _ = store.add_flow("etl", name="first-run")
    second, _ = store.add_flow("report", name="second-run")

    result = cli("runs", "ls")

    assert result.code == 0
    assert result.out.index("second-run") < result.out.index("first-run")
    assert first.id[:8] in result.out and "Completed" in result.out


def test_runs_ls_filters_by_state_flow_age_and_count(cli, store):
    store.add_flow("etl", name="old-run", days_ago=3)
    store.add_flow("etl", name="failed-run", final="FAILED")
    store.add_flow("report", name="report-run")

    def names(*options: str) -> set[str]:
        out = cli("runs", "ls", *options).out
        return {n for n in ("old-run", "failed-run", "report-run") if n in out}

    assert names("--state", "failed") == {"failed-run"}
    assert names("--state", "completed,FAILED") == {"old-run", "failed-run", "report-run"}
    assert names("--flow", "etl") == {"old-run", "failed-run"}
    assert names("--since", "1d") == {"failed-run", "report-run"}
    assert names("--limit", "1") == {"report-run"}
    assert "No flow runs found." in cli("runs", "ls", "--state", "crashed").out


def test_runs_show_shows_the_run_its_task_runs_and_their_dependencies(cli, store):
    run, tasks = store.add_flow("etl", tasks=3, name="nightly-etl", parameters={"n": 42})

    result = cli("runs", "show", run.id[:6])

    assert result.code == 0
    assert "nightly-etl" in result.out and run.id in result.out
    assert '{"n": 42}' in result.out
    assert "3 task runs: 3 Completed" in result.out
    for task in tasks:
        assert task.name in result.out
    assert "2 dependencies" in result.out
    assert "step-0 → step-1 (x)" in result.out


def test_runs_logs_prints_the_log_lines_in_order(cli, store):
    run, _ = store.add_flow(tasks=3)

    result = cli("runs", "logs", run.id)

    lines = result.out.splitlines()
    assert [line.split(" | ")[-1] for line in lines] == [f"step {i} working" for i in range(3)]
    assert "INFO" in lines[0] and "step-0 |" in lines[0]


def test_runs_logs_follow_prints_new_lines_until_the_run_finishes(cli, store):
    synthetic = store.synthetic
    run = synthetic.flow_run_created(state="RUNNING")
    store.writer.write([run, synthetic.log(run.id, "first line")])

    def finish_later() -> None:
        time.sleep(0.8)
        store.writer.write([synthetic.log(run.id, "second line")])
        time.sleep(0.8)
        store.writer.write([synthetic.log(run.id, "last line"),
                            synthetic.flow_state(run.id, "COMPLETED")])

    writer = threading.Thread(target=finish_later)
    writer.start()
    result = cli("runs", "logs", run.id, "--follow")
    writer.join()

    assert result.code == 0
    assert [line.split(" | ")[-1] for line in result.out.splitlines()] == [
        "first line", "second line", "last line"]


def test_log_messages_are_printed_verbatim(cli, store):
    run = store.synthetic.flow_run_created()
    message = "[bold]not markup[/bold] {braces} and\nsecond line"
    store.writer.write([run, LogEmitted(run.id, None, 40, "user", message, store.synthetic.tick())])
    out = cli("runs", "logs", run.id).out
    assert "[bold]not markup[/bold] {braces} and\nsecond line" in out
    assert "ERROR" in out


@pytest.mark.parametrize("argv, message", [
    (["runs", "ls", "--since", "3 fortnights"], "Error: invalid duration '3 fortnights'"),
    (["runs", "ls", "--state", "sleeping"], "Error: unknown state 'sleeping'"),
    (["runs", "show", "nope"], "Error: no flow run matches 'nope'"),
    (["runs", "logs", "nope"], "Error: no flow run matches 'nope'"),
    (["db", "prune", "--older-than", "soon"], "Error: invalid duration 'soon'"),
    (["runs", "ls", "--limit", "0"], "Error: invalid --limit '0': give a whole number"),
    (["runs", "ls", "--limit", "-1"], "Error: invalid --limit '-1': give a whole number"),
    (["runs", "ls", "--limit", "99999999999999999999"],
     "Error: invalid --limit '99999999999999999999': at most 2,147,483,647 rows"),
    (["runs", "show", "nope", "--limit", "0"], "Error: invalid --limit '0'"),
    (["runs", "ls", "--since", "99999999999d"],
     "Error: invalid duration '99999999999d': at most 36500d"),
    (["db", "prune", "--older-than", "99999999999d", "--yes"],
     "Error: invalid duration '99999999999d': at most 36500d"),
    (["concurrency-limit", "create", "X", "99999999999999999999999"],
     "Error: invalid limit '99999999999999999999999': at most 2,147,483,647 slots"),
])
def test_a_user_mistake_is_one_line_on_stderr_and_exit_code_1(cli, store, argv, message):
    result = cli(*argv)
    assert result.code == 1
    assert result.err.startswith(message)
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_a_refused_value_writes_nothing(cli, store):
    store.add_flow("etl", name="kept-run", days_ago=3)
    assert cli("db", "prune", "--older-than", "99999999999d", "--yes").code == 1
    assert cli("concurrency-limit", "create", "X", "99999999999999999999999").code == 1
    assert "kept-run" in cli("runs", "ls", "--all").out
    assert "No concurrency limits" in cli("concurrency-limit", "ls").out


def test_a_store_that_cannot_be_opened_is_one_line_too(cli, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_NB_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    result = cli("runs", "ls")
    assert result.code == 1
    assert result.err.startswith("Error: cannot open the run store")
    assert result.err.count("\n") == 1


def test_the_installed_command_reports_mistakes_without_a_traceback(store):
    command = Path(sys.executable).with_name("orchestrate-nb")
    result = subprocess.run([str(command), "runs", "show", "nope"], capture_output=True,
                            text=True, env=os.environ.copy(), timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "Error: no flow run matches 'nope'\n")


def test_a_usage_error_is_argparse_s_exit_code_2(cli):
    result = cli("runs", "frobnicate")
    assert result.code == 2
    assert "invalid choice: 'frobnicate'" in result.err
    assert "Traceback" not in result.err


def test_db_upgrade_can_run_any_number_of_times(cli):
    first = cli("db", "upgrade")
    again = cli("db", "upgrade")
    assert (first.code, again.code) == (0, 0)
    assert f"from empty to revision {HEAD_REVISION}" in first.out
    assert f"is up to date (schema revision {HEAD_REVISION})" in again.out


def test_db_prune_removes_only_runs_older_than_the_cutoff(cli, store):
    old, _ = store.add_flow(name="ancient-run", days_ago=40)
    store.add_flow(name="recent-run", days_ago=2)

    dry = cli("db", "prune", "--older-than", "30d", "--dry-run")
    assert "1 flow run(s) and 3 task run(s)" in dry.out
    assert "ancient-run" in cli("runs", "ls").out

    result = cli("db", "prune", "--older-than", "30d", "--yes")

    assert result.code == 0
    assert "Pruned 1 flow run(s), 3 task run(s) and 3 log line(s) older than 30d." in result.out
    listing = cli("runs", "ls").out
    assert "ancient-run" not in listing and "recent-run" in listing
    assert cli("runs", "show", old.id).code == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # PostgreSQL reuses
def test_db_prune_gives_the_freed_space_back_to_the_disk(cli, store, orchestrate_home):  # rows
    store.add_flow("etl", tasks=2000, days_ago=40)
    store.add_flow("etl", name="recent-run")
    files = [orchestrate_home / "orchestrate_nb.db", orchestrate_home / "orchestrate_nb.db-wal"]

    def size_on_disk() -> int:
        return sum(file.stat().st_size for file in files if file.exists())

    before = size_on_disk()
    result = cli("db", "prune", "--older-than", "30d", "--yes")

    assert result.code == 0 and "Freed " in result.out
    assert size_on_disk() < before / 2
    assert "recent-run" in cli("runs", "ls").out


def test_db_prune_that_cannot_vacuum_still_succeeds_and_says_why(cli, store, monkeypatch):
    from orchestrate_nb.errors import StoreError
    from orchestrate_nb.store import maintenance

    def locked(database):  # type: ignore[no-untyped-def]
        raise StoreError("run store VACUUM failed: database is locked")

    monkeypatch.setattr(maintenance, "reclaim_space", locked)
    store.add_flow("etl", days_ago=40)
    result = cli("db", "prune", "--older-than", "30d", "--yes")
    assert result.code == 0 and "Pruned 1 flow run(s)" in result.out
    assert "Disk space not reclaimed now: run store VACUUM failed: database is locked" in result.out


def test_runs_logs_says_so_when_a_run_logged_nothing(cli, store):
    run = store.synthetic.flow_run_created(state="COMPLETED")
    store.writer.write([run])
    assert cli("runs", "logs", run.id).out == "No log lines.\n"


def test_runs_show_of_a_big_flow_shows_the_first_task_runs_and_counts_them_all(cli, store):
    run, _ = store.add_flow(tasks=30)

    result = cli("runs", "show", run.id, "--limit", "10")

    assert "30 task runs: 30 Completed" in result.out
    assert "│ step-9 " in result.out and "│ step-10 " not in result.out
    assert "… and 20 more task runs (--all shows all)" in result.out
    assert "29 dependencies" in result.out and "… and 19 more dependencies" in result.out
    assert "│ step-29 " in cli("runs", "show", run.id, "--all").out


def test_runs_show_all_lists_every_task_run_of_a_huge_flow_in_plain_columns(cli, store):
    run, _ = store.add_flow(tasks=1500)

    result = cli("runs", "show", run.id, "--all")

    lines = result.out.splitlines()
    assert "1,500 task runs: 1,500 Completed" in result.out
    assert sum(line.startswith("step-") for line in lines) == 1500
    assert "step-1499  Completed" in result.out
    assert "1,499 dependencies" in result.out and "  step-1498 → step-1499 (x)" in lines
    assert "more task runs" not in result.out


def test_cancelling_a_run_no_worker_holds_is_refused_and_changes_nothing(cli, store):
    run = store.synthetic.flow_run_created(state="RUNNING")  # e.g. a flow called in a script
    store.writer.write([run])
    result = cli("runs", "cancel", run.id[:8])
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1
    assert "was not started by a worker" in result.err and "interrupt" in result.err
    shown = cli("runs", "show", run.id)
    assert "Running" in shown.out and "Cancelling" not in shown.out
