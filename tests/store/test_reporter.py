"""The store reporter records every event it is given, coalesced but complete."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sqlite3
import threading
import time

import pytest
from polling import wait_for

from orchestrate_nb.core.events import DependencyEdge
from orchestrate_nb.processes import current_process
from orchestrate_nb.store import database as database_module
from orchestrate_nb.store.reporter import StoreReporter
from orchestrate_nb.store.writer import BatchWriter


def test_a_flow_run_is_recorded_with_its_task_runs_edges_and_logs(reporter, synthetic, query):
    run, tasks, events = synthetic.completed_flow("etl", tasks=3)
    for event in events:
        reporter.emit(event)
    reporter.flush()

    (flow_run,) = query("SELECT f.name AS flow, r.* FROM flow_runs r JOIN flows f "
                        "ON f.id = r.flow_id")
    assert (flow_run["flow"], flow_run["name"], flow_run["state_type"]) == (
        "etl", run.name, "COMPLETED")
    task_rows = query("SELECT name, state_type, run_count FROM task_runs WHERE flow_run_id = :f "
                      "ORDER BY created", f=run.id)
    assert task_rows == [{"name": f"step-{i}", "state_type": "COMPLETED", "run_count": 1}
                         for i in range(3)]
    edges = query("SELECT upstream_task_run_id AS up, downstream_task_run_id AS down "
                  "FROM task_run_edges WHERE flow_run_id = :f ORDER BY id", f=run.id)
    assert edges == [{"up": tasks[0].id, "down": tasks[1].id},
                     {"up": tasks[1].id, "down": tasks[2].id}]
    logs = query("SELECT message FROM logs WHERE flow_run_id = :f ORDER BY id", f=run.id)
    assert [row["message"] for row in logs] == [f"step {i} working" for i in range(3)]


def test_parameters_and_tags_are_kept_as_json(reporter, synthetic, database):
    from orchestrate_nb.store.repository import RunRepository

    run = synthetic.flow_run_created(parameters={"n": 3, "cols": ["a", "b"], "when": dt.date(
        2024, 1, 2)}, tags=("nightly", "etl"))
    reporter.emit(run)
    reporter.flush()

    stored = RunRepository(database).get_flow_run(run.id)
    # A value JSON cannot hold (the date) is kept as its text rather than losing the run.
    assert stored.parameters == {"n": 3, "cols": ["a", "b"], "when": "2024-01-02"}
    assert stored.tags == ("nightly", "etl")


def test_the_current_state_is_denormalised_onto_the_run(reporter, synthetic, database):
    from orchestrate_nb.store.repository import RunRepository

    run = synthetic.flow_run_created()
    task = synthetic.task_run_created(run.id)
    first_running = synthetic.task_state(task, "RUNNING")
    events = [run, synthetic.flow_state(run.id, "RUNNING"), task, first_running,
              synthetic.task_state(task, "SCHEDULED", "AwaitingRetry", "boom, retrying"),
              synthetic.task_state(task, "RUNNING", "Retrying"),
              synthetic.task_state(task, "FAILED", message="boom again")]
    for event in events:
        reporter.emit(event)
    reporter.flush()

    repository = RunRepository(database)
    (row,) = repository.list_task_runs(run.id)
    assert (row.state_type, row.state_name, row.state_message) == ("FAILED", "Failed",
                                                                  "boom again")
    assert row.run_count == 2  # two RUNNING transitions: the first try and one retry
    assert row.start_time == first_running.timestamp
    assert row.end_time == events[-1].timestamp
    flow_run = repository.get_flow_run(run.id)
    assert (flow_run.state_type, flow_run.end_time, flow_run.run_count) == ("RUNNING", None, 1)


def test_timestamps_come_back_timezone_aware_in_utc(reporter, synthetic, database):
    from orchestrate_nb.store.repository import RunRepository

    berlin = dt.timezone(dt.timedelta(hours=2))
    created = dt.datetime(2024, 6, 1, 14, 0, tzinfo=berlin)
    reporter.emit(synthetic.flow_run_created(id="tz-run", created=created))
    reporter.flush()

    stored = RunRepository(database).get_flow_run("tz-run").created
    assert stored == created and stored.utcoffset() == dt.timedelta(0)


def test_every_state_is_kept_in_the_history_in_order(reporter, synthetic, query):
    run, tasks, events = synthetic.completed_flow(tasks=2)
    for event in events:
        reporter.emit(event)
    reporter.flush()

    flow_states = query("SELECT type FROM run_states WHERE flow_run_id = :f AND task_run_id "
                        "IS NULL ORDER BY id", f=run.id)
    assert [s["type"] for s in flow_states] == ["PENDING", "RUNNING", "COMPLETED"]
    task_states = query("SELECT type FROM run_states WHERE task_run_id = :t ORDER BY id",
                        t=tasks[0].id)
    assert [s["type"] for s in task_states] == ["PENDING", "RUNNING", "COMPLETED"]


def _snapshot(query):
    runs = query("SELECT id, state_type, state_name, state_message, start_time, end_time, "
                 "run_count, cache_key FROM task_runs ORDER BY id")
    flows = query("SELECT id, state_type, start_time, end_time, run_count FROM flow_runs")
    states = query("SELECT flow_run_id, task_run_id, type, name, message, timestamp "
                   "FROM run_states ORDER BY id")
    return runs, flows, states


def _retrying_flow(synthetic):
    run, _, events = synthetic.completed_flow(tasks=4)
    task = synthetic.task_run_created(run.id, "flaky-0")
    events[-1:-1] = [task, synthetic.task_state(task, "RUNNING"),
                     synthetic.task_state(task, "SCHEDULED", "AwaitingRetry", "boom"),
                     synthetic.task_state(task, "RUNNING", "Retrying"),
                     synthetic.task_state(task, "COMPLETED", "Cached", cache_key="k1")]
    return events


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5, 7])
def test_runs_written_across_batch_boundaries_end_up_as_if_written_in_one_batch(
        batch_size, synthetic, database, query):
    events = _retrying_flow(synthetic)
    writer = BatchWriter(database, current_process())
    writer.write(events)
    in_one_batch = _snapshot(query)

    for table in ("run_states", "task_run_edges", "logs", "task_runs", "flow_runs"):
        with database.write() as conn:
            conn.exec_driver_sql(f"DELETE FROM {table}")
    writer = BatchWriter(database, current_process())
    for start in range(0, len(events), batch_size):
        writer.write(events[start:start + batch_size])

    assert _snapshot(query) == in_one_batch
    runs, _, states = in_one_batch
    assert {r["id"]: r["run_count"] for r in runs}[events[-6].id] == 2
    assert len(states) == 3 + 5 * 3 + 2  # every state, however it was batched


def test_a_bad_event_is_logged_once_and_costs_only_itself(reporter, synthetic, query, caplog):
    run, _, events = synthetic.completed_flow(tasks=2)
    bad = synthetic.task_run_created(run.id, "broken-0", created=None)  # NOT NULL column
    events.insert(3, bad)
    events.insert(5, "not an event")  # type: ignore[arg-type]
    with caplog.at_level(logging.ERROR, logger="orchestrate_nb.store"):
        for event in events:
            reporter.emit(event)  # type: ignore[arg-type]
        reporter.flush()

    assert [r["name"] for r in query("SELECT name FROM task_runs ORDER BY name")] == [
        "step-0", "step-1"]
    assert query("SELECT state_type FROM flow_runs") == [{"state_type": "COMPLETED"}]
    assert reporter.lost_events == 2
    # One traceback, then counts (a writer process sends its records as text).
    assert len([r for r in caplog.records
                if r.exc_info or "Traceback (most recent call last)" in r.getMessage()]) == 1


def test_emit_after_close_does_not_raise(settings, synthetic):
    reporter = StoreReporter(settings)
    reporter.close()
    reporter.emit(synthetic.flow_run_created())
    reporter.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_locked_database_delays_writes_but_loses_nothing(settings, synthetic, query,
                                                           monkeypatch):
    monkeypatch.setattr(database_module, "BUSY_TIMEOUT_SECONDS", 0.05)
    reporter = StoreReporter(settings, retry_window=30)
    locker = sqlite3.connect(settings.home / "orchestrate_nb.db", isolation_level=None,
                             check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")  # another process holding the write lock for 1 s
    threading.Timer(1.0, locker.rollback).start()

    run, _, events = synthetic.completed_flow(tasks=5)
    for event in events:
        reporter.emit(event)
    reporter.flush()
    reporter.close()

    assert len(query("SELECT id FROM task_runs")) == 5
    assert reporter.lost_events == 0


def test_close_writes_everything_emitted_before_it(settings, synthetic, query):
    reporter = StoreReporter(settings, poll_interval=60)
    run, _, events = synthetic.completed_flow(tasks=10)
    for event in events:
        reporter.emit(event)
    reporter.close()
    assert len(query("SELECT id FROM task_runs")) == 10


def test_the_writer_heartbeats_the_runs_it_owns_until_they_finish(settings, synthetic, query):
    reporter = StoreReporter(settings, heartbeat_interval=0.05)
    running = synthetic.flow_run_created(state="RUNNING")
    done, _, events = synthetic.completed_flow()
    for event in [running, *events]:
        reporter.emit(event)
    reporter.flush()
    first = {r["id"]: r["heartbeat"] for r in query("SELECT id, heartbeat FROM flow_runs")}
    time.sleep(0.5)
    later = {r["id"]: r["heartbeat"] for r in query("SELECT id, heartbeat FROM flow_runs")}
    reporter.close()

    assert later[running.id] > first[running.id]
    assert later[done.id] == first[done.id]


def test_the_runtime_finds_the_store_reporter_by_itself(database_url, synthetic, query):
    from orchestrate_nb.engine.reporting import get_reporter

    run, _, events = synthetic.completed_flow(tasks=2)
    for event in events:
        get_reporter().emit(event)
    get_reporter().flush()
    assert query("SELECT id FROM flow_runs") == [{"id": run.id}]


@pytest.mark.slow
def test_a_flow_of_100_000_task_runs_is_recorded_without_losing_one(reporter, synthetic,
                                                                    settings, query):
    run = synthetic.flow_run_created(state="RUNNING")
    reporter.emit(run)
    for index in range(100_000):
        task = synthetic.task_run_created(run.id, f"double-{index}", map_index=index)
        reporter.emit(task)
        reporter.emit(synthetic.task_state(task, "RUNNING"))
        reporter.emit(synthetic.task_state(task, "COMPLETED"))
        if index % 1000 == 0:
            reporter.emit(DependencyEdge(run.id, task.id, task.id, "x"))
    reporter.emit(synthetic.flow_state(run.id, "COMPLETED"))
    reporter.flush()

    (counts,) = query("SELECT count(*) AS runs, sum(run_count) AS running, count(end_time) "
                      "AS ended FROM task_runs WHERE flow_run_id = :f", f=run.id)
    assert counts == {"runs": 100_000, "running": 100_000, "ended": 100_000}
    assert query("SELECT count(*) AS n FROM run_states") == [{"n": 300_002}]
    assert reporter.lost_events == 0
    if settings.is_sqlite:
        assert _sqlite_bytes(settings) / 100_000 < 2048


def _sqlite_bytes(settings) -> int:
    path = settings.home / "orchestrate_nb.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute(
            "PRAGMA page_size").fetchone()[0]


def test_events_emitted_just_before_the_interpreter_exits_are_written(database_url, query):
    import subprocess
    import sys
    import textwrap

    code = """
        import uuid, datetime as dt
        from orchestrate_nb.core.events import FlowRunCreated
        from orchestrate_nb.engine.reporting import get_reporter
        get_reporter().emit(FlowRunCreated("exit-run", "f", "n", {}, (), None, None,
                                           dt.datetime.now(dt.timezone.utc), "COMPLETED",
                                           "Completed"))
    """  # no flush, no close: the reporter's atexit hook writes it
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert query("SELECT id FROM flow_runs") == [{"id": "exit-run"}]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_records_its_own_events(reporter, synthetic, query):
    import multiprocessing

    parent_run = synthetic.flow_run_created(id="parent-run")
    reporter.emit(parent_run)
    reporter.flush()

    def child() -> None:
        reporter.emit(synthetic.flow_run_created(id="child-run"))
        reporter.flush()

    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join(60)
    reporter.flush()

    assert process.exitcode == 0
    rows = query("SELECT id, owner_pid FROM flow_runs ORDER BY id")
    assert rows == [{"id": "child-run", "owner_pid": process.pid},
                    {"id": "parent-run", "owner_pid": os.getpid()}]


def test_an_unreachable_database_is_reported_in_one_line_without_waiting_for_it(
        monkeypatch, synthetic, caplog):
    from orchestrate_nb.settings import load_settings

    monkeypatch.setenv("ORCHESTRATE_NB_DATABASE_URL",
                       "postgresql+psycopg://nobody:sesame@127.0.0.1:1/nothing")
    with caplog.at_level(logging.WARNING, logger="orchestrate_nb.store"):
        reporter = StoreReporter(load_settings())  # a 120 s window for transient errors
        reporter.emit(synthetic.flow_run_created())
        reporter.flush()
        reporter.emit(synthetic.flow_run_created())
        reporter.close()

    assert reporter.lost_events == 2
    (record,) = caplog.records
    assert record.getMessage().startswith(
        "run store unreachable at postgresql+psycopg://nobody:***@127.0.0.1:1/nothing: ")
    assert record.exc_info is None and "sesame" not in caplog.text


def test_a_store_that_comes_back_records_again_and_says_so(tmp_path, monkeypatch, synthetic,
                                                           caplog):
    from orchestrate_nb.settings import load_settings
    from orchestrate_nb.store import sink as sink_module
    from orchestrate_nb.store.repository import open_repository

    monkeypatch.setattr(sink_module, "REOPEN_INTERVAL", 0.0)  # (this process's writer thread)
    blocker = tmp_path / "not-yet"
    blocker.write_text("a file where the store's folder should be")
    monkeypatch.setenv("ORCHESTRATE_NB_DATABASE_URL", f"sqlite:///{blocker}/runs.db")
    lost, kept = synthetic.flow_run_created(), synthetic.flow_run_created()
    with caplog.at_level(logging.WARNING, logger="orchestrate_nb.store"):
        reporter = StoreReporter(load_settings(), writer="thread")
        reporter.emit(lost)
        reporter.flush()
        blocker.unlink()
        reporter.emit(kept)
        reporter.flush()
        reporter.close()

    with open_repository() as repository:
        assert [run.id for run in repository.list_flow_runs()] == [kept.id]
    assert [r.getMessage().split(" at ")[0] for r in caplog.records] == [
        "run store unreachable", "run store"]
    assert "records again (1 event(s) were not recorded)" in caplog.records[1].getMessage()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_flow_returns_after_the_flush_wait_while_the_store_is_locked_and_is_recorded_later(
        settings, query, monkeypatch):
    from orchestrate_nb import flow

    @flow
    def quick() -> int:
        return 1

    monkeypatch.setenv("ORCHESTRATE_NB_FLUSH_WAIT", "0.5")
    query("SELECT 1")  # the store exists
    locker = sqlite3.connect(settings.home / "orchestrate_nb.db", isolation_level=None,
                             check_same_thread=False)
    locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock until we say
    try:
        returned = threading.Event()
        threading.Thread(target=lambda: quick() and returned.set(), daemon=True).start()
        # Returns long before SQLite's 30 s busy timeout lets the writer give up on the lock.
        wait_for(returned.is_set, "the flow call to return while the store is locked", 20)
        assert query("SELECT id FROM flow_runs") == []
    finally:
        locker.rollback()
    wait_for(lambda: query("SELECT state_type FROM flow_runs") == [{"state_type": "COMPLETED"}],
             "the run to be recorded once the lock is released")
