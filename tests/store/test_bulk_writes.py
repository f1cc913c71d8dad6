"""Many rows go to the database in few statements (``store/bulk.py``): multi-row statements of
fixed sizes on SQLite, COPY through temporary tables on PostgreSQL. Whatever the size of a
batch and however a run's states are spread over batches, what is recorded is the same."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import select

from orchestrate_nb.processes import current_process
from orchestrate_nb.store.orm import RunState
from orchestrate_nb.store.writer import BatchWriter

POSTGRES_URL_ENV = "ORCHESTRATE_NB_TEST_POSTGRES_URL"
# Around the statement sizes (powers of two up to 256 rows): one less, exactly, one more.
SIZES = [1, 255, 256, 257, 700]


def _mapped_flow(synthetic, tasks: int):
    """A flow of ``tasks`` task runs in three phases (created, running, finished), each a
    batch of its own: the second and third change runs created in an earlier batch."""
    run = synthetic.flow_run_created("mapped")
    created = [synthetic.task_run_created(run.id, f"inc-{i}", map_index=i) for i in range(tasks)]
    running = [synthetic.task_state(t, "RUNNING") for t in created]
    finished = []
    for i, t in enumerate(created):
        if i % 3 == 0:  # a retry: two RUNNING entries, the start time is the first one's
            finished += [synthetic.task_state(t, "SCHEDULED", "AwaitingRetry", "boom\x00"),
                         synthetic.task_state(t, "RUNNING", "Retrying")]
        finished.append(synthetic.task_state(t, "COMPLETED", "Cached" if i % 2 else None,
                                             cache_key=f"k{i}" if i % 2 else None))
    phases = [[run, synthetic.flow_state(run.id, "RUNNING"), *created], running,
              [*finished, synthetic.flow_state(run.id, "COMPLETED")]]
    return run, created, phases


def _snapshot(query):
    runs = query("SELECT id, flow_run_id, name, map_index, created, state_type, state_name, "
                 "state_message, start_time, end_time, run_count, cache_key FROM task_runs "
                 "ORDER BY id")
    states = query("SELECT flow_run_id, task_run_id, type, name, message, timestamp "
                   "FROM run_states ORDER BY id")
    return runs, states


def _empty(database) -> None:
    for table in ("run_states", "task_runs", "flow_runs"):
        with database.write() as conn:
            conn.exec_driver_sql(f"DELETE FROM {table}")


@pytest.mark.parametrize("tasks", SIZES)
def test_runs_spread_over_batches_of_any_size_are_recorded_as_from_one_batch(
        tasks, synthetic, database, query):
    run, created, phases = _mapped_flow(synthetic, tasks)
    writer = BatchWriter(database, current_process())
    writer.write([event for phase in phases for event in phase])
    in_one_batch = _snapshot(query)
    _empty(database)

    writer = BatchWriter(database, current_process())
    for phase in phases:  # on one connection: a temporary table left full would show
        writer.write(phase)

    assert _snapshot(query) == in_one_batch
    runs, states = in_one_batch
    assert writer.lost_events == 0
    assert len(runs) == tasks
    by_index = {r["map_index"]: r for r in runs}
    assert [by_index[i]["run_count"] for i in range(min(tasks, 4))] == [2, 1, 1, 2][:tasks]
    assert by_index[0]["state_type"] == "COMPLETED" and by_index[0]["end_time"] is not None
    first_running = next(s["timestamp"] for s in states
                         if s["task_run_id"] == created[0].id and s["type"] == "RUNNING")
    assert by_index[0]["start_time"] == first_running
    assert [by_index[i]["cache_key"] for i in range(min(tasks, 2))] == [None, "k1"][:tasks]
    assert len(states) == 3 + tasks * 3 + (tasks + 2) // 3 * 2
    with database.read() as conn:  # read back through the column's type: NUL-safe text
        messages = conn.execute(select(RunState.message).where(RunState.message.is_not(None)))
        assert set(messages.scalars()) == ({"boom\x00"} if tasks else set())


@pytest.mark.parametrize("tasks", [1, 300])
def test_a_replayed_batch_of_new_runs_is_skipped_not_duplicated_nor_lost(tasks, synthetic,
                                                                        database, query):
    run, created, phases = _mapped_flow(synthetic, tasks)
    writer = BatchWriter(database, current_process())
    writer.write(phases[0])
    writer.write(phases[0][2:])  # the task runs again: a commit whose acknowledgement was lost
    writer.write(phases[1])
    writer.write(phases[2])

    assert writer.lost_events == 0
    runs = query("SELECT state_type, count(*) AS n FROM task_runs GROUP BY state_type")
    assert runs == [{"state_type": "COMPLETED", "n": tasks}]


@pytest.fixture
def role_without_temporary_tables(orchestrate_home, monkeypatch):
    """A PostgreSQL database of its own whose role may not create temporary tables."""
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        pytest.skip(f"needs {POSTGRES_URL_ENV}")
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"onb_notemp_{uuid.uuid4().hex[:10]}"
    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN')
        conn.execute(f'CREATE DATABASE "{name}"')
        conn.execute(f'REVOKE TEMPORARY ON DATABASE "{name}" FROM PUBLIC')
        conn.execute(f'GRANT CONNECT ON DATABASE "{name}" TO "{name}"')
    with psycopg.connect(make_url(admin).set(database=name).render_as_string(
            hide_password=False), autocommit=True) as conn:
        conn.execute(f'GRANT USAGE, CREATE ON SCHEMA public TO "{name}"')
    url = make_url(base).set(username=name, password=None, database=name)
    monkeypatch.setenv("ORCHESTRATE_NB_DATABASE_URL", url.render_as_string(hide_password=False))
    try:
        yield
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{name}"')


@pytest.mark.postgres
def test_a_postgres_role_that_may_not_create_temporary_tables_still_records_everything(
        role_without_temporary_tables, synthetic):
    from sqlalchemy import text

    from orchestrate_nb.settings import load_settings
    from orchestrate_nb.store.database import open_database

    database = open_database(load_settings())
    try:
        with database.read() as conn:
            assert conn.execute(text("SELECT has_database_privilege(current_database(), "
                                     "'TEMPORARY')")).scalar() is False
        run, created, phases = _mapped_flow(synthetic, 300)
        writer = BatchWriter(database, current_process())
        for phase in phases:
            writer.write(phase)
        writer.write(phases[0][2:])  # replayed: skipped

        assert writer.lost_events == 0
        with database.read() as conn:
            runs = conn.execute(text("SELECT state_type, count(*), sum(run_count) FROM task_runs "
                                     "GROUP BY state_type")).all()
        assert [tuple(r) for r in runs] == [("COMPLETED", 300, 300 + 100)]
    finally:
        database.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_batch_retried_after_its_transaction_failed_finds_its_temporary_tables(
        synthetic, database, query, monkeypatch):
    """A temporary table is created on a connection's first batch only; if that batch's
    transaction rolls back (a deadlock, retried), the table went with it and is made again."""
    from psycopg import errors
    from sqlalchemy.exc import OperationalError

    from orchestrate_nb.store import bulk

    copy, failed = bulk._copy, []

    def deadlock_once(conn, sql, values):
        copy(conn, sql, values)
        if not failed:
            failed.append(sql)
            raise OperationalError(sql, None, errors.DeadlockDetected("deadlock detected"))

    monkeypatch.setattr(bulk, "_copy", deadlock_once)
    run, created, phases = _mapped_flow(synthetic, 20)
    writer = BatchWriter(database, current_process())
    for phase in phases:
        writer.write(phase)

    assert failed, "the first COPY did not fail"
    assert writer.lost_events == 0
    runs, _ = _snapshot(query)
    assert [r["state_type"] for r in runs] == ["COMPLETED"] * 20
