"""Deployment fixtures: notebooks with a parameters cell, the store, raw SQL reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import deployment_values, write_notebook

from orchestrate_nb.store.database import Database


@pytest.fixture
def notebook(tmp_path: Path) -> Path:
    return write_notebook(tmp_path / "etl.ipynb")


@pytest.fixture
def save(database: Database) -> Callable[..., None]:
    """``save(now, name=..., cron=..., ...)``: write a deployment as if deployed at ``now``."""
    from orchestrate_nb.store.deployments import save_deployment, write

    def run(now: Any, **values: Any) -> None:
        with write(database) as conn:
            save_deployment(conn, deployment_values(**values), now)

    return run
