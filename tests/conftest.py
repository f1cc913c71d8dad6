"""Fixtures shared by the store and CLI tests: an isolated home, a database per backend,
and synthetic RunEvents (``synthetic_runs.py``, importable by test subprocesses too).

Every test gets its own ``ORCHESTRATE_NB_HOME`` (nothing touches ``~/.orchestrate_nb``) and
a fresh store reporter. ``database_url`` runs a test on SQLite and on PostgreSQL; the latter
needs ``ORCHESTRATE_NB_TEST_POSTGRES_URL`` and gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from synthetic_runs import SyntheticRuns

from orchestrate_nb.engine import reporting
from orchestrate_nb.settings import load_settings
from orchestrate_nb.store.database import Database, open_database

POSTGRES_URL_ENV = "ORCHESTRATE_NB_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True)
def orchestrate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private home (and so a private SQLite store) for every test."""
    home = tmp_path / "orchestrate_home"
    reporting.flush_and_close_store()
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(home))
    monkeypatch.delenv("ORCHESTRATE_NB_DATABASE_URL", raising=False)
    monkeypatch.delenv("ORCHESTRATE_NB_STORE", raising=False)
    yield home
    reporting.flush_and_close_store()


def _postgres_admin_url(sqlalchemy_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, orchestrate_home: Path,
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The store's URL, set in the environment: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{orchestrate_home / 'orchestrate_nb.db'}"
        return
    base = os.environ.get(POSTGRES_URL_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_ENV} (e.g. "
                    "postgresql+psycopg://postgres@127.0.0.1:5432/test); CI sets it")
    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"onb_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_postgres_admin_url(base), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    rendered = url.render_as_string(hide_password=False)
    monkeypatch.setenv("ORCHESTRATE_NB_DATABASE_URL", rendered)
    try:
        yield rendered
    finally:
        reporting.flush_and_close_store()
        with psycopg.connect(_postgres_admin_url(base), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def synthetic() -> SyntheticRuns:
    return SyntheticRuns()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> Callable[..., CliResult]:
    """``cli("runs", "ls")`` → exit code, stdout, stderr (on a 200-column terminal)."""
    from orchestrate_nb.cli.app import main

    monkeypatch.setenv("COLUMNS", "200")

    def run(*argv: str) -> CliResult:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # argparse's own usage errors
            code = int(exit_.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


Query = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """The configured store (``database_url``'s), opened and migrated."""
    database = open_database(load_settings())
    yield database
    database.dispose()


@pytest.fixture
def query(database: Any) -> Query:
    """``query("SELECT ... WHERE x = :x", x=1)`` → rows as dicts, read through the
    ``database`` fixture of the test's folder."""
    from sqlalchemy import text

    def run(sql: str, **params: Any) -> list[dict[str, Any]]:
        with database.read() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql), params)]

    return run
