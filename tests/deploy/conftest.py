"""Deployment fixtures: notebooks with a parameters cell, the store, raw SQL reads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import deployment_values, write_notebook

from orchestrate_nb.settings import load_settings
from orchestrate_nb.store.database import Database, open_database

Query = Callable[..., list[dict[str, Any]]]

@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    return write_notebook(tmp_path / "etl.ipynb")


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = open_database(load_settings())
    yield database
    database.dispose()


@pytest.fixture
def query(database: Database) -> Query:
    """``query("SELECT ... WHERE x = :x", x=1)`` → rows as dicts."""
    from sqlalchemy import text

    def run(sql: str, **params: Any) -> list[dict[str, Any]]:
        with database.read() as conn:
            return [dict(row._mapping) for row in conn.execute(text(sql), params)]

    return run


@pytest.fixture
def save(database: Database) -> Callable[..., None]:
    """``save(now, name=..., cron=..., ...)``: write a deployment as if deployed at ``now``."""
    from orchestrate_nb.store.deployments import save_deployment, write

    def run(now: Any, **values: Any) -> None:
        with write(database) as conn:
            save_deployment(conn, deployment_values(**values), now)

    return run
