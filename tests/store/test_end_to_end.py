"""Real flows recorded by the real engine: in the database as soon as the call returns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from orchestrate_nb import flow, get_run_logger, task
from orchestrate_nb.store.repository import open_repository


@task
def add(x: int, y: int = 0) -> int:
    get_run_logger().info("adding %s and %s", x, y)
    return x + y


@flow(name="arithmetic")
def arithmetic(n: int) -> int:
    get_run_logger().info("starting with %s", n)
    a = add.submit(n, 1)
    b = add.submit(a, 10)
    return b.result()


def test_a_flow_call_returns_with_its_runs_edges_and_logs_in_the_database(database_url):
    assert arithmetic(1) == 12  # no flush: the engine flushes when the call returns

    with open_repository() as repository:
        (run,) = repository.list_flow_runs()
        task_runs = repository.list_task_runs(run.id)
        edges = repository.list_edges(run.id)
        logs = [line.message for line in repository.list_logs(run.id)]
        history = [s.type for s in repository.state_history(run.id)]

    assert (run.flow_name, run.state_type, run.parameters) == ("arithmetic", "COMPLETED",
                                                               {"n": 1})
    assert [(t.name, t.state_type, t.run_count) for t in task_runs] == [
        ("add-0", "COMPLETED", 1), ("add-1", "COMPLETED", 1)]
    assert [(e.upstream_name, e.downstream_name, e.input_name) for e in edges] == [
        ("add-0", "add-1", "x")]
    assert {"starting with 1", "adding 1 and 1", "adding 2 and 10"} <= set(logs)
    assert history[-2:] == ["RUNNING", "COMPLETED"]


def test_a_failed_flow_is_recorded_failed_with_its_message(database_url):
    @task
    def explode() -> None:
        raise ValueError("kaboom")

    @flow(name="doomed")
    def doomed() -> None:
        explode()

    try:
        doomed()
    except ValueError:
        pass
    with open_repository() as repository:
        (run,) = repository.list_flow_runs()
        (task_run,) = repository.list_task_runs(run.id)
    assert (run.state_type, task_run.state_type) == ("FAILED", "FAILED")
    assert "kaboom" in (task_run.state_message or "")


KILLED_MID_FLOW = """
    import time
    from orchestrate_nb import flow, task

    @task
    def quick(x):
        return x

    @task
    def slow(x):
        time.sleep(600)

    @flow(name="interrupted")
    def interrupted():
        quick(1)
        slow(2)

    interrupted()
"""


def test_a_flow_whose_process_is_killed_is_crashed_with_its_running_task(database_url):
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(KILLED_MID_FLOW)],
                               env=os.environ.copy())
    try:
        _wait_for_running_task(process)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    with open_repository() as repository:
        (run,) = repository.list_flow_runs()
        states = {t.name: t.state_type for t in repository.list_task_runs(run.id)}
    assert run.state_type == "CRASHED"
    assert f"process {process.pid}" in (run.state_message or "")
    assert states == {"quick-0": "COMPLETED", "slow-0": "CRASHED"}


def _wait_for_running_task(process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """The writer thread commits within its poll interval; wait until ``slow`` is RUNNING."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with open_repository(recover=False) as repository:
                for run in repository.list_flow_runs():
                    if any(t.name == "slow-0" and t.state_type == "RUNNING"
                           for t in repository.list_task_runs(run.id)):
                        return
        except Exception:  # the child may still be creating the database
            pass
        time.sleep(0.1)
    raise AssertionError("the flow never got to run its slow task")
