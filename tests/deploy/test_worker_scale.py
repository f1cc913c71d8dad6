"""Four real worker processes execute 400 due runs of a Python flow deployment on PostgreSQL
(100 on SQLite, where writers queue on one lock anyway): every run is executed exactly once
(its flow's side effect happens once), and ends COMPLETED."""

from __future__ import annotations

import datetime as dt
import signal
from collections import Counter
from pathlib import Path

import pytest
from worker_helpers import Query, start_worker, stop, wait_for

from orchestrate_nb.deploy.deployments import deploy_flow
from orchestrate_nb.store import deployments as store
from orchestrate_nb.store.database import Database

pytestmark = pytest.mark.timeout(300)

RUNS = {"postgresql": 400, "sqlite": 100}
WORKERS = 4

FLOW = """
import os
from orchestrate_nb import flow


@flow(name="mark")
def mark(i: int) -> int:
    # one line per execution; O_APPEND writes of a short line never interleave
    fd = os.open({markers!r}, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(fd, f"{{i}} {{os.getpid()}}\\n".encode())
    os.close(fd)
    return i
"""


def test_four_workers_execute_each_run_exactly_once(
        tmp_path: Path, database: Database, query: Query) -> None:
    runs_count = RUNS[database.dialect]
    markers = tmp_path / "executions.txt"
    flow_file = tmp_path / "marking.py"
    flow_file.write_text(FLOW.format(markers=str(markers)))
    deploy_flow(f"{flow_file}:mark", name="mark")
    due = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    with store.write(database) as conn:
        deployment = store.get_deployment(conn, "mark")
        flow_id = store.flow_id(conn, deployment.flow_name)
        store.insert_runs(conn, [store.run_row(deployment, flow_id, due, "Scheduled", due,
                                               {"i": i}) for i in range(runs_count)])

    workers = [start_worker("--limit", "3") for _ in range(WORKERS)]
    try:
        def finished() -> bool:
            rows = query("SELECT count(*) AS n FROM flow_runs WHERE state_type IN "
                         "('COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED')")
            return rows[0]["n"] == runs_count

        wait_for(finished, f"{runs_count} runs to finish", timeout=240)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        codes = [worker.wait(timeout=60) for worker in workers]
        for worker in workers:
            stop(worker)
    assert codes == [0] * WORKERS  # SIGTERM: a graceful stop

    executions = Counter(int(line.split()[0]) for line in markers.read_text().splitlines())
    assert executions == Counter(range(runs_count))  # each run's flow body ran exactly once
    runs = query("SELECT state_type, run_count, owner_pid FROM flow_runs")
    assert Counter(r["state_type"] for r in runs) == {"COMPLETED": runs_count}
    assert {r["run_count"] for r in runs} == {1}
    assert len({r["owner_pid"] for r in runs}) > 1  # the workers shared the work
    running = query("SELECT flow_run_id, count(*) AS n FROM run_states WHERE type = 'RUNNING' "
                    "AND task_run_id IS NULL GROUP BY flow_run_id")
    assert len(running) == runs_count and {r["n"] for r in running} == {1}
    results = query("SELECT count(*) AS n FROM task_runs")  # a flow with no tasks
    assert results == [{"n": 0}]
