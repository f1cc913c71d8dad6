"""Runs left unfinished by a dead process are marked CRASHED when the store is opened."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from orchestrate_nb.processes import ProcessIdentity, current_process
from orchestrate_nb.store.recovery import recover_crashed_runs
from orchestrate_nb.store.repository import RunRepository, open_repository
from orchestrate_nb.store.writer import BatchWriter

TESTS = Path(__file__).resolve().parents[1]

EMIT_AND_HANG = """
    import sys, time
    sys.path.insert(0, {tests!r})
    from synthetic_runs import SyntheticRuns
    from orchestrate_nb.settings import load_settings
    from orchestrate_nb.store.reporter import create_store_reporter

    runs = SyntheticRuns()
    flow_run = runs.flow_run_created(state="RUNNING")
    done = runs.task_run_created(flow_run.id, "done-0")
    busy = runs.task_run_created(flow_run.id, "busy-0")
    waiting = runs.task_run_created(flow_run.id, "waiting-0")
    alone = runs.task_run_created(None, "alone-0")
    reporter = create_store_reporter(load_settings())
    for event in [flow_run, done, runs.task_state(done, "RUNNING"),
                  runs.task_state(done, "COMPLETED"), busy, runs.task_state(busy, "RUNNING"),
                  waiting, alone, runs.task_state(alone, "RUNNING")]:
        reporter.emit(event)
    reporter.flush()
    print(flow_run.id, alone.id, flush=True)
    time.sleep(600)
"""


def test_runs_of_a_killed_process_are_marked_crashed_when_the_store_is_opened(database_url):
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(EMIT_AND_HANG.format(tests=str(TESTS)))],
        stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    flow_run_id, alone_id = process.stdout.readline().split()  # type: ignore[union-attr]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    with open_repository() as repository:
        flow_run = repository.get_flow_run(flow_run_id)
        states = {t.name: t.state_type for t in repository.list_task_runs(flow_run_id)}
        history = repository.state_history(flow_run_id)
        alone = repository.state_history(None, alone_id)

    assert flow_run.state_type == "CRASHED"
    assert flow_run.end_time is not None
    assert flow_run.state_message == (
        f"process {process.pid} on host {current_process().host} exited without finishing "
        "the run")
    assert states == {"done-0": "COMPLETED", "busy-0": "CRASHED", "waiting-0": "CRASHED"}
    assert [s.type for s in history][-1] == "CRASHED"
    assert [s.type for s in alone] == ["PENDING", "RUNNING", "CRASHED"]


def _write_run_owned_by(database, synthetic, owner: ProcessIdentity, state: str = "RUNNING"):
    run = synthetic.flow_run_created(state=state)
    BatchWriter(database, owner).write([run])
    return run


def _state_of(database, run_id: str) -> str:
    return RunRepository(database).get_flow_run(run_id).state_type


def test_runs_of_a_living_process_are_left_alone(database, synthetic):
    run = _write_run_owned_by(database, synthetic, current_process())
    assert recover_crashed_runs(database).crashed_flow_runs == 0
    assert _state_of(database, run.id) == "RUNNING"


def test_a_recycled_pid_does_not_keep_a_dead_run_alive(database, synthetic):
    me = current_process()
    run = _write_run_owned_by(database, synthetic, me._replace(token="started-another-day"))
    recover_crashed_runs(database)
    assert _state_of(database, run.id) == "CRASHED"


def test_a_run_on_another_host_crashes_only_when_its_heartbeat_is_stale(database, synthetic):
    run = _write_run_owned_by(database, synthetic, ProcessIdentity("elsewhere", 1, "1"))
    now = dt.datetime.now(dt.timezone.utc)

    recover_crashed_runs(database, now=now + dt.timedelta(seconds=20))
    assert _state_of(database, run.id) == "RUNNING"
    recover_crashed_runs(database, now=now + dt.timedelta(minutes=2))
    assert _state_of(database, run.id) == "CRASHED"


def test_scheduled_and_finished_runs_are_not_crashed(database, synthetic):
    dead = ProcessIdentity(current_process().host, 2**22 + 7, "1")  # no such pid
    scheduled = _write_run_owned_by(database, synthetic, dead, state="SCHEDULED")
    completed = _write_run_owned_by(database, synthetic, dead, state="COMPLETED")
    pending = _write_run_owned_by(database, synthetic, dead, state="PENDING")

    report = recover_crashed_runs(database)

    assert report.crashed_flow_runs == 1
    assert [_state_of(database, r.id) for r in (scheduled, completed, pending)] == [
        "SCHEDULED", "COMPLETED", "CRASHED"]


def test_recovering_twice_appends_one_crashed_state(database, synthetic):
    dead = ProcessIdentity(current_process().host, 2**22 + 7, "1")
    run = _write_run_owned_by(database, synthetic, dead)
    recover_crashed_runs(database)
    recover_crashed_runs(database)
    assert [s.type for s in RunRepository(database).state_history(run.id)] == [
        "RUNNING", "CRASHED"]
