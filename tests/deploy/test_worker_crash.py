"""A worker killed mid-run: the next worker's reaper marks the run Crashed and runs its retry.
Many workers claiming at once: each run is claimed exactly once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from worker_helpers import (
    Query,
    first,
    run_worker_once,
    start_worker,
    wait_for,
    write_task_notebook,
)

from orchestrate_nb.deploy.deployments import deploy_notebook, trigger_deployment
from orchestrate_nb.store import deployments as store
from orchestrate_nb.store.database import Database

pytestmark = pytest.mark.timeout(120)

SLEEP_ON_FIRST_ATTEMPT = """%%task work
import os, time
if not os.path.exists('first-attempt'):
    open('first-attempt', 'w').close()
    time.sleep(120)
done = n
"""


def test_a_killed_workers_run_crashes_and_its_retry_completes(
        tmp_path: Path, database: Database, query: Query) -> None:
    notebook = write_task_notebook(tmp_path / "flaky.ipynb", SLEEP_ON_FIRST_ATTEMPT)
    deploy_notebook(notebook, name="flaky", retries=1)
    run_id = trigger_deployment("flaky")
    worker = start_worker()
    try:
        wait_for(lambda: (tmp_path / "first-attempt").exists(), "the first attempt to start")
        assert query("SELECT state_type FROM flow_runs WHERE id = :id",
                     id=run_id)[0]["state_type"] == "RUNNING"
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=60)
    run_worker_once()  # reaps the run, and executes its retry
    runs = query("SELECT id, state_type, attempt, state_message FROM flow_runs ORDER BY attempt")
    assert [(r["state_type"], r["attempt"]) for r in runs] == [("CRASHED", 0), ("COMPLETED", 1)]
    assert runs[0]["id"] == run_id and "exited without finishing" in runs[0]["state_message"]
    retry_tasks = query("SELECT state_type FROM task_runs WHERE flow_run_id = :id",
                        id=runs[1]["id"])
    assert retry_tasks == [{"state_type": "COMPLETED"}]


CLAIMER = """
import datetime as dt, sys
from orchestrate_nb.store.claims import claim_next_run
from orchestrate_nb.store.database import open_database
from orchestrate_nb.processes import current_process

database = open_database()
now = dt.datetime.now(dt.timezone.utc)
claimed = []
while True:
    with database.write() as conn:
        run = claim_next_run(conn, "default", current_process(), now)
    if run is None:
        break
    claimed.append(run.id)
print(" ".join(claimed))
"""


def test_concurrent_claimers_take_each_run_exactly_once(
        tmp_path: Path, database: Database, query: Query) -> None:
    deploy_notebook(write_task_notebook(tmp_path / "many.ipynb", "x = 1"), name="many")
    due = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    for _ in range(4):  # 400 due runs, inserted in 4 transactions
        with store.write(database) as conn:
            deployment = store.get_deployment(conn, "many")
            flow = store.flow_id(conn, deployment.flow_name)
            store.insert_runs(conn, [store.run_row(deployment, flow, due, "Scheduled", due)
                                     for _ in range(100)])
    claimers = [subprocess.Popen([sys.executable, "-c", CLAIMER], stdout=subprocess.PIPE)
                for _ in range(4)]
    outputs = [c.communicate(timeout=90)[0].decode().split() for c in claimers]
    assert all(c.returncode == 0 for c in claimers)
    claimed = [run_id for output in outputs for run_id in output]
    assert len(claimed) == len(set(claimed)) == 400
    rows = query("SELECT state_type, owner_pid FROM flow_runs")
    assert Counter(r["state_type"] for r in rows) == {"PENDING": 400}
    assert Counter(r["owner_pid"] for r in rows) == Counter(
        {c.pid: len(o) for c, o in zip(claimers, outputs, strict=True) if o})
    pending = query("SELECT flow_run_id, count(*) AS n FROM run_states WHERE type = 'PENDING' "
                    "GROUP BY flow_run_id")
    assert len(pending) == 400 and {r["n"] for r in pending} == {1}


SLEEPY_FLOW = """
import time
from orchestrate_nb import flow

@flow
def sleepy(seconds: float = 0.0) -> float:
    time.sleep(seconds)
    return seconds
"""


def zygote_of(worker: subprocess.Popen[bytes]) -> int | None:
    """The pid of the worker's zygote (the child running orchestrate_nb.deploy.zygote)."""
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == worker.pid and \
                b"orchestrate_nb.deploy.zygote" in cmdline:
            return int(entry.name)
    return None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_killed_zygote_crashes_its_runs_and_the_worker_goes_on_with_a_new_one(
        tmp_path: Path, database: Database, query: Query) -> None:
    (tmp_path / "sleepy.py").write_text(SLEEPY_FLOW)
    from orchestrate_nb.deploy.deployments import deploy_flow

    deploy_flow(f"{tmp_path / 'sleepy.py'}:sleepy", name="sleepy")
    slow = trigger_deployment("sleepy", {"seconds": 120})
    worker = start_worker()
    try:
        wait_for(lambda: query("SELECT 1 FROM flow_runs WHERE id = :id AND state_type = "
                               "'RUNNING'", id=slow), "the slow run to start")
        zygote = wait_for(lambda: zygote_of(worker), "the worker's zygote")
        os.kill(zygote, signal.SIGKILL)
        crashed = wait_for(lambda: first(query(
            "SELECT state_type, state_message FROM flow_runs WHERE id = :id AND state_type "
            "= 'CRASHED'", id=slow)), "the run of the killed zygote to crash")
        assert "exited with code -9" in crashed["state_message"]
        quick = trigger_deployment("sleepy", {"seconds": 0})
        wait_for(lambda: query("SELECT 1 FROM flow_runs WHERE id = :id AND state_type = "
                               "'COMPLETED'", id=quick), "the next run to complete")
        assert zygote_of(worker) not in (None, zygote)  # a new zygote forked it
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
