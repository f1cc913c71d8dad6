"""The home is its owner's only: 0700 folders and 0600 files, whatever the umask says."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from worker_helpers import run_worker_once, write_task_notebook

from orchestrate_nb.deploy.deployments import deploy_notebook, trigger_deployment
from orchestrate_nb.store.database import Database

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask (workers started by the test inherit it)."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_folder_and_file_in_the_home_is_private_under_umask_022(
        umask_022: None, orchestrate_home: Path, tmp_path: Path, database: Database) -> None:
    notebook = write_task_notebook(tmp_path / "etl.ipynb", "%%task load\ndata = list(range(n))")
    deploy_notebook(notebook, name="etl")
    run_id = trigger_deployment("etl")
    run_worker_once()

    database.dispose()  # its connections still hold the WAL files the worker removed
    with database.read() as conn:  # a fresh connection: the WAL and shm files exist
        conn.exec_driver_sql("SELECT count(*) FROM flow_runs")
        names = {path.relative_to(orchestrate_home).as_posix()
                 for path in orchestrate_home.rglob("*")}
        modes = {name: oct(mode(orchestrate_home / name)) for name in names}
    expected = {"orchestrate_nb.db", "orchestrate_nb.db.lock", f"runs/{run_id}.ipynb",
                f"runs/{run_id}.log", "results"}
    assert expected <= names
    assert {"orchestrate_nb.db-wal", "orchestrate_nb.db-shm"} <= names
    assert any(name.startswith("results/") for name in names)  # the cell's cached outputs
    private = {name: oct(0o700 if (orchestrate_home / name).is_dir() else 0o600)
               for name in names}
    assert (oct(mode(orchestrate_home)), modes) == (oct(0o700), private)
