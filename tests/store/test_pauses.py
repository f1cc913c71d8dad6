"""A paused run is held by a live process: heartbeats keep it, a dead owner crashes it, and
the paused process, ``runs resume`` and its timeout never overwrite each other."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from synthetic_runs import SyntheticRuns

from orchestrate_nb.processes import ProcessIdentity
from orchestrate_nb.store import claims, pauses
from orchestrate_nb.store.database import Database
from orchestrate_nb.store.orm import FlowRun
from orchestrate_nb.store.recovery import recover_crashed_runs
from orchestrate_nb.store.writer import BatchWriter

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
REMOTE = ProcessIdentity("another-host", 4242, "123")


def paused_run(database: Database, synthetic: SyntheticRuns) -> str:
    """A run paused by a process on another host (alive only as long as it heartbeats)."""
    run = synthetic.flow_run_created()
    BatchWriter(database, REMOTE).write([run, synthetic.flow_state(run.id, "RUNNING")])
    with database.write() as conn:
        assert pauses.pause(conn, run.id, "waiting", None, NOW + dt.timedelta(hours=1), NOW)
        conn.execute(update(FlowRun).where(FlowRun.id == run.id).values(heartbeat=NOW))
    return run.id


def state_of(database: Database, run_id: str) -> str:
    with database.read() as conn:
        return claims.states_of(conn, [run_id])[run_id]


def test_a_paused_run_that_heartbeats_is_not_taken_for_crashed(database, synthetic) -> None:
    run_id = paused_run(database, synthetic)
    later = NOW + dt.timedelta(minutes=5)
    with database.write() as conn:  # what a worker does for its runs
        claims.heartbeat(conn, [run_id], later - dt.timedelta(seconds=5))
    assert recover_crashed_runs(database, later).crashed_flow_runs == 0
    assert state_of(database, run_id) == "PAUSED"


def test_a_paused_run_whose_process_stopped_heartbeating_crashes(database, synthetic) -> None:
    run_id = paused_run(database, synthetic)
    report = recover_crashed_runs(database, NOW + dt.timedelta(minutes=5))
    assert report.crashed_flow_runs == 1
    assert state_of(database, run_id) == "CRASHED"


def test_resume_timeout_and_cancel_of_one_pause_exclude_each_other(database, synthetic) -> None:
    run_id = paused_run(database, synthetic)
    with database.write() as conn:
        assert pauses.time_out(conn, run_id, "not resumed within 1 s", NOW)
        assert not pauses.resume(conn, run_id, None, NOW)  # too late: refused, not lost
        assert claims.request_cancel(conn, run_id, NOW) == "CANCELLING"
        assert not pauses.refuse_input(conn, run_id, "input refused", NOW)
    assert state_of(database, run_id) == "CANCELLING"
