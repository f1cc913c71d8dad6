"""A deployed Python flow that pauses on a worker: resumed with input from the CLI it
completes with that input; cancelled while paused, its worker stops it."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from worker_helpers import Query, first, start_worker, stop, wait_for

from orchestrate_nb.deploy.deployments import deploy_flow, trigger_deployment
from orchestrate_nb.store.database import Database

pytestmark = pytest.mark.timeout(180)

RELEASE_FLOW = """
from pydantic import BaseModel
from orchestrate_nb import flow, get_run_logger, pause_flow_run

class Release(BaseModel):
    approved: bool
    note: str = ""

@flow
def release(version: str = "1.0") -> str:
    answer = pause_flow_run(wait_for_input=Release, timeout=300, poll_interval=0.1)
    get_run_logger().info("release %s approved=%s: %s", version, answer.approved, answer.note)
    return answer.note
"""


@pytest.fixture
def worker(tmp_path: Path, database: Database) -> Iterator[subprocess.Popen[bytes]]:
    (tmp_path / "release.py").write_text(RELEASE_FLOW)
    deploy_flow(f"{tmp_path / 'release.py'}:release", name="release")
    process = start_worker()
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        assert process.wait(timeout=60) == 0
    finally:
        stop(process)


def in_state(query: Query, run_id: str, state_type: str) -> Any:
    return first(query("SELECT id FROM flow_runs WHERE id = :id AND state_type = :state",
                       id=run_id, state=state_type))


def test_a_deployed_flow_paused_on_a_worker_completes_with_the_input_it_is_resumed_with(
        worker: Any, query: Query, cli: Any) -> None:
    run_id = trigger_deployment("release", {"version": "2.1"})
    wait_for(lambda: in_state(query, run_id, "PAUSED"), "the run to pause on the worker")
    result = cli("runs", "resume", run_id, "-p", "approved=true", "-p", "note=ship it",
                 "--watch")  # returns when the run has ended
    assert result.code == 0, result.err
    watched = result.out.splitlines()
    assert watched[0] == f"{run_id}: Resumed" and watched[-1].startswith("Completed in ")
    assert any(line.endswith("| release 2.1 approved=True: ship it") for line in watched)
    assert in_state(query, run_id, "COMPLETED")
    logs = [r["message"] for r in query("SELECT message FROM logs WHERE flow_run_id = :id",
                                        id=run_id)]
    assert "release 2.1 approved=True: ship it" in logs
    assert any("Resume with: orchestrate-nb runs resume" in line for line in logs)
    states = query("SELECT type, name FROM run_states WHERE flow_run_id = :id AND "
                   "task_run_id IS NULL ORDER BY id", id=run_id)
    assert [(s["type"], s["name"]) for s in states] == [
        ("SCHEDULED", "Scheduled"), ("PENDING", "Pending"), ("RUNNING", "Running"),
        ("PAUSED", "Paused"), ("RUNNING", "Resumed"), ("COMPLETED", "Completed")]
    assert len(query("SELECT id FROM flow_runs")) == 1  # the flow adopted the claimed run


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cancelling_a_deployed_flow_while_paused_stops_it(
        worker: Any, query: Query, cli: Any) -> None:
    run_id = trigger_deployment("release")
    wait_for(lambda: in_state(query, run_id, "PAUSED"), "the run to pause on the worker")
    result = cli("runs", "cancel", run_id)
    assert (result.code, result.out.strip()) == (0, f"{run_id}: Cancelling")
    wait_for(lambda: in_state(query, run_id, "CANCELLED"), "the run to end Cancelled")
