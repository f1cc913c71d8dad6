"""Workers execute deployments' runs in real subprocesses: notebooks (papermill, with the
``%%task`` cells recorded as the run's task runs) and Python flows; failures; cancel."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from worker_helpers import (
    Query,
    first,
    run_worker_once,
    start_worker,
    stop,
    wait_for,
    write_task_notebook,
)

from orchestrate_nb.deploy.deployments import deploy_flow, deploy_notebook, trigger_deployment
from orchestrate_nb.store.database import Database

pytestmark = pytest.mark.timeout(120)


def run_row(query: Query, run_id: str) -> dict[str, object]:
    return query("SELECT * FROM flow_runs WHERE id = :id", id=run_id)[0]


def test_a_notebook_run_completes_with_its_cells_as_task_runs(
        tmp_path: Path, database: Database, query: Query) -> None:
    notebook = write_task_notebook(tmp_path / "etl.ipynb", "%%task load\ndata = list(range(n))",
                                   "%%task total\ntotal = sum(data)\nprint('total', total)",
                                   "print('plain cell', n)")
    deploy_notebook(notebook, name="etl", parameters={"n": 4})
    run_id = trigger_deployment("etl", {"n": 5})
    run_worker_once()
    run = run_row(query, run_id)
    assert (run["state_type"], run["attempt"]) == ("COMPLETED", 0)
    tasks = query("SELECT task_name, state_type FROM task_runs WHERE flow_run_id = :id "
                  "ORDER BY task_name", id=run_id)
    assert tasks == [{"task_name": "load", "state_type": "COMPLETED"},
                     {"task_name": "total", "state_type": "COMPLETED"}]
    assert len(query("SELECT id FROM flow_runs")) == 1  # the kernel adopted the run
    executed = json.loads(Path(str(run["executed_notebook"])).read_text())
    injected = [c for c in executed["cells"]
                if "injected-parameters" in c["metadata"].get("tags", [])]
    assert "n = 5" in "".join(injected[0]["source"])
    outputs = "".join("".join(o.get("text", "")) for c in executed["cells"]
                      for o in c.get("outputs", []))
    assert "total 10" in outputs
    logs = query("SELECT t.task_name, l.message FROM logs l LEFT JOIN task_runs t "
                 "ON t.id = l.task_run_id WHERE l.flow_run_id = :id", id=run_id)
    printed = [(r["task_name"], r["message"]) for r in logs
               if r["message"] in ("total 10", "plain cell 5")]
    # printed lines are log lines: a plain cell's of the run (our papermill engine), a
    # %%task cell's of its task run, once
    assert sorted(printed, key=lambda r: r[1]) == [(None, "plain cell 5"), ("total", "total 10")]
    history = [r["type"] for r in query(
        "SELECT type FROM run_states WHERE flow_run_id = :id AND task_run_id IS NULL "
        "ORDER BY id", id=run_id)]
    assert history == ["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]


def test_a_failing_notebook_fails_with_the_exception(
        tmp_path: Path, database: Database, query: Query) -> None:
    notebook = write_task_notebook(tmp_path / "bad.ipynb", "raise ValueError(f'bad n {n}')")
    deploy_notebook(notebook, name="bad")
    run_id = trigger_deployment("bad")
    run_worker_once(completes=False)
    run = run_row(query, run_id)
    assert run["state_type"] == "FAILED"
    assert run["state_message"] == "ValueError: bad n 3"
    assert Path(str(run["executed_notebook"])).is_file()


FLOW_FILE = """
from orchestrate_nb import flow, task

@task
def double(x: int) -> int:
    return 2 * x

@flow
def pipeline(n: int = 1) -> int:
    return double(n) + double(n + 1)
"""


def test_a_python_flow_run_adopts_the_claimed_run(
        tmp_path: Path, database: Database, query: Query) -> None:
    (tmp_path / "pipe.py").write_text(FLOW_FILE)
    deploy_flow(f"{tmp_path / 'pipe.py'}:pipeline", name="pipe")
    run_id = trigger_deployment("pipe", {"n": 2})
    run_worker_once()
    assert run_row(query, run_id)["state_type"] == "COMPLETED"
    assert len(query("SELECT id FROM flow_runs")) == 1
    tasks = query("SELECT state_type FROM task_runs WHERE flow_run_id = :id", id=run_id)
    assert [t["state_type"] for t in tasks] == ["COMPLETED", "COMPLETED"]
    history = [r["type"] for r in query(
        "SELECT type FROM run_states WHERE flow_run_id = :id AND task_run_id IS NULL "
        "ORDER BY id", id=run_id)]
    assert history == ["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]


def test_cancelling_a_running_notebook_stops_it(
        tmp_path: Path, database: Database, query: Query, cli: object) -> None:
    notebook = write_task_notebook(tmp_path / "slow.ipynb",
                                   "import time\nopen('started', 'w').close()\ntime.sleep(120)")
    deploy_notebook(notebook, name="slow")
    run_id = trigger_deployment("slow")
    worker = start_worker()
    try:
        wait_for(lambda: (tmp_path / "started").exists(), "the notebook's cell to start")
        assert run_row(query, run_id)["state_type"] == "RUNNING"
        result = cli("runs", "cancel", run_id[:8])  # type: ignore[operator]
        assert result.code == 0 and "Cancelling" in result.out
        wait_for(lambda: first(query("SELECT id FROM flow_runs WHERE id = :id AND "
                                     "state_type = 'CANCELLED'", id=run_id)), "Cancelled")
        again = cli("runs", "cancel", run_id)  # type: ignore[operator]
        assert again.code == 1 and "already finished" in again.err
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            assert worker.wait(timeout=60) == 0
        finally:
            stop(worker)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_run_past_its_timeout_is_stopped_and_fails(
        tmp_path: Path, database: Database, query: Query) -> None:
    notebook = write_task_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(120)")
    deploy_notebook(notebook, name="slow", timeout_seconds=1)
    run_id = trigger_deployment("slow")
    run_worker_once(completes=False)
    run = run_row(query, run_id)
    assert (run["state_type"], run["state_name"]) == ("FAILED", "TimedOut")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deployment_run_watch_follows_the_run_until_the_end(
        tmp_path: Path, database: Database, cli: Any) -> None:
    deploy_notebook(write_task_notebook(tmp_path / "etl.ipynb",
                                        "%%task double\nx = 2 * n\nprint(f'x is {x}')"),
                    name="etl")
    worker = start_worker()
    try:
        result = cli("deployment", "run", "etl", "-p", "n=2", "--watch")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            assert worker.wait(timeout=60) == 0
        finally:
            stop(worker)
    assert result.code == 0, result.err
    lines = result.out.splitlines()  # (how many states it saw depends on polling)
    assert lines[0].startswith("Created run ") and "Completed" in lines
    assert any(line.endswith("| x is 4") for line in lines)  # the cell's output, live
    assert lines[-1].startswith("Completed in ") and lines[-1].endswith(
        " · 1 task run: 1 Completed")  # the summary: duration, task runs by state
    failing = cli("deployment", "run", "nope", "--watch")
    assert failing.code == 1 and failing.err.startswith("Error: no deployment named 'nope'")


def test_a_stored_schedule_that_cannot_fire_does_not_stop_a_worker(
        tmp_path: Path, database: Database, query: Query, save: Any) -> None:
    import datetime as dt

    # stored by a deploy_notebook() of an older version (today's refuses it)
    save(dt.datetime.now(dt.timezone.utc), name="impossible", cron="0 0 31 2 *")
    notebook = write_task_notebook(tmp_path / "etl.ipynb", "%%task load\ndata = list(range(n))")
    deploy_notebook(notebook, name="etl")
    run_id = trigger_deployment("etl")
    run_worker_once()
    assert run_row(query, run_id)["state_type"] == "COMPLETED"
