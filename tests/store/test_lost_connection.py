"""A PostgreSQL connection lost in the middle of a batch: the batch is written again on a
new connection, and psycopg's note about the pipeline it was in never reaches the user."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import event

from orchestrate_nb.processes import current_process
from orchestrate_nb.store.writer import BatchWriter


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_connection_lost_during_a_batch_is_retried_without_psycopg_noise(
        database, synthetic, query, caplog, capfd):
    runs = [synthetic.flow_run_created(), synthetic.flow_run_created()]
    writer = BatchWriter(database, current_process())
    writer.write(runs)
    killed: list[int] = []

    def lose_the_connection(conn, cursor, statement, parameters, context, executemany):
        if executemany and statement.startswith("UPDATE flow_runs") and not killed:
            killed.append(conn.connection.dbapi_connection.info.backend_pid)
            with database.engine.connect() as other:  # a second connection kills the first
                other.exec_driver_sql(f"SELECT pg_terminate_backend({killed[0]})")

    event.listen(database.engine, "before_cursor_execute", lose_the_connection)
    caplog.set_level(logging.WARNING, logger="psycopg")
    writer.write([synthetic.flow_state(run.id, "COMPLETED") for run in runs])

    assert killed  # the batch met a lost connection...
    states = query("SELECT state_type FROM flow_runs")
    assert [row["state_type"] for row in states] == ["COMPLETED"] * 2  # ...and was rewritten
    assert writer.lost_events == 0
    assert "error ignored terminating" not in caplog.text
    assert "Pipeline" not in capfd.readouterr().err


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_connection_lost_before_the_copy_of_history_rows_is_retried(database, synthetic, query,
                                                                     caplog):
    runs = [synthetic.flow_run_created(), synthetic.flow_run_created()]
    writer = BatchWriter(database, current_process())
    writer.write(runs)
    killed: list[int] = []

    def lose_the_connection(conn, cursor, statement, parameters, context, executemany):
        # The states are copied next, by COPY: it meets a connection the server ended.
        if statement.startswith("UPDATE flow_runs") and not killed:
            killed.append(conn.connection.dbapi_connection.info.backend_pid)
            with database.engine.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({killed[0]})")

    event.listen(database.engine, "after_cursor_execute", lose_the_connection)
    writer.write([synthetic.flow_state(run.id, "COMPLETED") for run in runs])

    assert killed
    assert [row["state_type"] for row in query("SELECT state_type FROM flow_runs")] == [
        "COMPLETED"] * 2
    assert query("SELECT count(*) AS n FROM run_states") == [{"n": 4}]  # once each, no more
    assert writer.lost_events == 0
    # A retried lost connection, not "could not record" (what bad data is told as).
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
