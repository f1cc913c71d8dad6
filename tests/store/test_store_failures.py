"""A store that cannot record costs a flow one line, never minutes nor a traceback.

Each flow runs in a process of its own (as a user's script would), with the store broken
in one of the ways users meet: nothing listens on the port, the database does not exist,
the disk is full, the file is corrupt. The flow's result must come back, with one line
that says what is wrong (its URL's password masked) and no SQL parameters.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrate_nb.settings import mask_url

FLOW_SCRIPT = """
    import sys
    from orchestrate_nb import flow, get_run_logger, task

    @task
    def step(i: int) -> int:
        get_run_logger().info("step %s of the secret-free kind", i)
        return i * 2

    @flow
    def ten(password: str = "hunter2param", n: int = 10) -> int:
        return sum(step(i) for i in range(n))

    print("result", ten())
"""
GENEROUS_SECONDS = 10.0  # a bound for "seconds, not minutes", not a benchmark


def run_flow_script(env: dict[str, str], flows: int = 1) -> tuple[float, str, str]:
    """Run the 10-task flow ``flows`` times in a fresh process: (seconds, stdout, stderr)."""
    code = textwrap.dedent(FLOW_SCRIPT) + f"\nfor _ in range({flows - 1}): ten()\n"
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env={**os.environ, **env})
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "result 90" in result.stdout
    return elapsed, result.stdout, result.stderr


def store_lines(stderr: str) -> list[str]:
    """The lines of stderr that are not the run loggers' own."""
    return [line for line in stderr.splitlines() if "Flow run '" not in line
            and "Task run '" not in line]


def assert_one_line_at_once(elapsed: float, stderr: str, expected: str) -> str:
    lines = store_lines(stderr)
    assert elapsed < GENEROUS_SECONDS
    assert len(lines) == 1, stderr
    assert expected in lines[0]
    assert "Traceback" not in stderr and "[parameters:" not in stderr
    return lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_flow_against_a_closed_port_returns_at_once_with_one_masked_line():
    url = f"postgresql+psycopg://postgres:hunter2xyz@127.0.0.1:{closed_port()}/test"
    elapsed, _, stderr = run_flow_script({"ORCHESTRATE_NB_DATABASE_URL": url})

    line = assert_one_line_at_once(elapsed, stderr, "run store unreachable at ")
    assert mask_url(url) in line and "this run's history is not being recorded" in line
    assert "hunter2xyz" not in stderr


@pytest.mark.postgres
def test_a_flow_against_a_wrong_database_name_returns_at_once_with_one_line():
    from sqlalchemy.engine import make_url

    base = os.environ.get("ORCHESTRATE_NB_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("needs ORCHESTRATE_NB_TEST_POSTGRES_URL")
    url = make_url(base).set(database="no_such_database_here", password="hunter2xyz")
    elapsed, _, stderr = run_flow_script(
        {"ORCHESTRATE_NB_DATABASE_URL": url.render_as_string(hide_password=False)})

    line = assert_one_line_at_once(elapsed, stderr, "run store unreachable at ")
    assert 'database "no_such_database_here" does not exist' in line
    assert "hunter2xyz" not in stderr


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted afterwards (mounting needs root, as CI has)."""
    mount_point = tmp_path / "small_disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass


def test_a_flow_on_a_full_disk_returns_at_once_with_one_line(full_disk):
    env = {"ORCHESTRATE_NB_HOME": str(full_disk / "home")}
    run_flow_script(env)  # the store exists and works
    fill(full_disk)

    elapsed, _, stderr = run_flow_script(env, flows=3)

    assert_one_line_at_once(elapsed, stderr, f"run store unreachable at sqlite:///{full_disk}")


def corrupt_the_middle(path: Path, size: int = 64 * 1024) -> None:
    with open(path, "r+b") as db:
        middle = os.path.getsize(path) // 2
        db.seek(max(4096, middle - size // 2))
        db.write(os.urandom(size))


def test_a_corrupt_store_is_named_once_and_not_written_to(orchestrate_home):
    env = {"ORCHESTRATE_NB_HOME": str(orchestrate_home)}
    run_flow_script(env, flows=20)  # a store of a few hundred KiB
    path = orchestrate_home / "orchestrate_nb.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    corrupt_the_middle(path)
    corrupted = path.read_bytes()

    elapsed, _, stderr = run_flow_script(env, flows=5)

    line = assert_one_line_at_once(elapsed, stderr, f"run store {path} is corrupt")
    assert "move it aside" in line
    assert "hunter2param" not in stderr  # no bound parameter of any statement
    assert path.read_bytes() == corrupted  # nothing more was written to it
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_only_locks_and_dropped_connections_are_waited_for():
    import psycopg
    from sqlalchemy.exc import DatabaseError, DataError, OperationalError

    from orchestrate_nb.store.failures import Failure, classify

    def wrapped(cls, error, **kwargs):
        return cls("INSERT ...", {}, error, **kwargs)

    kinds = {
        "locked": wrapped(OperationalError, sqlite3.OperationalError("database is locked")),
        "dropped": wrapped(OperationalError, psycopg.OperationalError("server closed the "
                           "connection unexpectedly"), connection_invalidated=True),
        "refused": wrapped(OperationalError, psycopg.OperationalError("connection refused")),
        "full": wrapped(OperationalError, sqlite3.OperationalError("database or disk is full")),
        "corrupt": wrapped(DatabaseError, sqlite3.DatabaseError("database disk image is "
                                                                 "malformed")),
        "bad row": wrapped(DataError, psycopg.DataError("malformed array literal")),
    }
    assert {name: classify(exc) for name, exc in kinds.items()} == {
        "locked": Failure.TRANSIENT, "dropped": Failure.TRANSIENT,
        "refused": Failure.UNAVAILABLE, "full": Failure.UNAVAILABLE,
        "corrupt": Failure.CORRUPT, "bad row": Failure.BAD_DATA}
