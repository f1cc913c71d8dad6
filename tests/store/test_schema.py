"""The schema is created and upgraded by the package's Alembic migrations, on first use."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import inspect, text

from orchestrate_nb.errors import StoreError
from orchestrate_nb.store.database import create_database, open_database
from orchestrate_nb.store.orm import Base, include_name
from orchestrate_nb.store.repository import upgrade_store
from orchestrate_nb.store.schema import HEAD_REVISION, alembic_config, current_revision

TABLES = {"alembic_version", "flows", "flow_runs", "task_runs", "run_states", "task_run_edges",
          "logs"}


def run_python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=os.environ.copy())


def test_the_schema_is_created_by_the_migrations_on_first_use(settings):
    database = open_database(settings)
    try:
        with database.read() as conn:
            assert set(inspect(conn).get_table_names()) >= TABLES
        assert current_revision(database) == HEAD_REVISION
    finally:
        database.dispose()


def test_the_head_revision_constant_names_the_newest_migration():
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION


def test_the_models_and_the_migrations_describe_the_same_schema(database):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "include_name": include_name})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrading_twice_changes_nothing_the_second_time(settings):
    assert upgrade_store(settings)[:2] == (None, HEAD_REVISION)
    assert upgrade_store(settings)[:2] == (HEAD_REVISION, HEAD_REVISION)


def test_a_database_from_a_newer_orchestrate_nb_is_refused_with_a_clear_error(database,
                                                                              settings):
    with database.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="revision '9999'.*upgrade orchestrate_nb"):
        open_database(settings)


def test_a_bad_database_url_is_a_store_error(monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_NB_DATABASE_URL", "nosuchdb://x")
    from orchestrate_nb.settings import load_settings

    with pytest.raises(StoreError, match="nosuchdb"):
        create_database(load_settings())


def test_opening_a_current_database_does_not_load_alembic(database):
    result = run_python("""
        import sys
        from orchestrate_nb.store.database import open_database
        open_database().dispose()
        print("alembic" in sys.modules)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_importing_orchestrate_nb_its_runtime_or_the_reporter_does_not_load_sqlalchemy():
    result = run_python("""
        import sys
        import orchestrate_nb, orchestrate_nb.engine.reporting, orchestrate_nb.store.reporter
        from orchestrate_nb import flow, task
        print(sorted(m for m in sys.modules if m.startswith(("sqlalchemy", "alembic"))))
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_processes_opening_a_fresh_database_at_the_same_moment_all_succeed(settings):
    go = time.time() + 2.0
    code = f"""
        import time, uuid, datetime as dt
        time.sleep(max(0.0, {go} - time.time()))
        from orchestrate_nb.core.events import FlowRunCreated
        from orchestrate_nb.settings import load_settings
        from orchestrate_nb.store.reporter import create_store_reporter
        reporter = create_store_reporter(load_settings())
        reporter.emit(FlowRunCreated(str(uuid.uuid4()), "race", "r", {{}}, (), None, None,
                                     dt.datetime.now(dt.timezone.utc), "COMPLETED", "Completed"))
        reporter.close()
        assert reporter.lost_events == 0
    """
    processes = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], text=True,
                                  stderr=subprocess.PIPE, env=os.environ.copy())
                 for _ in range(4)]
    errors = [process.communicate(timeout=120)[1] for process in processes]

    assert [p.returncode for p in processes] == [0, 0, 0, 0], errors
    assert not any("Error" in stderr for stderr in errors), errors
    database = open_database(settings)
    try:
        with database.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM flow_runs")).scalar() == 4
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert [v for (v,) in versions] == [HEAD_REVISION]
    finally:
        database.dispose()
