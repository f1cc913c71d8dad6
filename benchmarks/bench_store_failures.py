"""How long a 10-task flow takes to return when its run store cannot record (issue 11).

Each figure is the median, over fresh processes, of the flow call's wall time (measured in
the child around the call), beside the same flow on a healthy SQLite store measured in the
same run; and the number of lines the process printed besides its run loggers' own.
Scenarios that need what the machine lacks (PostgreSQL, root for a tmpfs) are shown n/a.

    .venv/bin/python benchmarks/bench_store_failures.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from harness import fmt, load_average, machine_summary, print_load_note, print_table, progress

FLOW = """
import json, sys, time
from orchestrate_nb import flow, task

@task
def step(i: int) -> int:
    return i * 2

@flow
def ten() -> int:
    return sum(step(i) for i in range(10))

started = time.perf_counter()
ten()
print(json.dumps({"seconds": time.perf_counter() - started}))
"""
TARGET_SECONDS = 10.0
Scenario = Callable[[Path], Iterator[dict[str, str]]]


def run_flow(env: dict[str, str]) -> tuple[float, int]:
    """One fresh process: (the flow call's seconds, lines printed besides the run loggers')."""
    # Run from the temp folder: ``-c`` puts the working directory first on sys.path, and a
    # checkout there would shadow the orchestrate_nb that PYTHONPATH names.
    result = subprocess.run([sys.executable, "-c", FLOW], capture_output=True, text=True,
                            env={**os.environ, **env}, timeout=900, check=True,
                            cwd=tempfile.gettempdir())
    other = [line for line in result.stderr.splitlines()
             if "Flow run '" not in line and "Task run '" not in line]
    return json.loads(result.stdout.splitlines()[-1])["seconds"], len(other)


@contextmanager
def healthy(home: Path) -> Iterator[dict[str, str]]:
    yield {"ORCHESTRATE_NB_HOME": str(home)}


@contextmanager
def closed_port(home: Path) -> Iterator[dict[str, str]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield {"ORCHESTRATE_NB_HOME": str(home),
           "ORCHESTRATE_NB_DATABASE_URL": f"postgresql+psycopg://u:pw@127.0.0.1:{port}/x"}


@contextmanager
def wrong_database(home: Path) -> Iterator[dict[str, str]]:
    from sqlalchemy.engine import make_url

    base = os.environ.get("ORCHESTRATE_NB_TEST_POSTGRES_URL")
    if not base:
        raise LookupError("needs ORCHESTRATE_NB_TEST_POSTGRES_URL")
    url = make_url(base).set(database="no_such_database_here")
    yield {"ORCHESTRATE_NB_HOME": str(home),
           "ORCHESTRATE_NB_DATABASE_URL": url.render_as_string(hide_password=False)}


@contextmanager
def full_disk(home: Path) -> Iterator[dict[str, str]]:
    mount = home / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        raise LookupError("needs root to mount a tmpfs")
    try:
        env = {"ORCHESTRATE_NB_HOME": str(mount / "home")}
        run_flow(env)  # the store exists, then the disk fills up
        with open(mount / "filler", "wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        yield env
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@contextmanager
def corrupt_file(home: Path) -> Iterator[dict[str, str]]:
    env = {"ORCHESTRATE_NB_HOME": str(home)}
    for _ in range(10):
        run_flow(env)
    path = home / "orchestrate_nb.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(path, "r+b") as db:
        db.seek(max(4096, path.stat().st_size // 2 - 32768))
        db.write(os.urandom(65536))
    yield env


SCENARIOS: list[tuple[str, Scenario]] = [
    ("healthy SQLite store (baseline)", healthy), ("PostgreSQL: closed port", closed_port),
    ("PostgreSQL: wrong database name", wrong_database), ("SQLite on a full disk", full_disk),
    ("SQLite file with 64 KiB of garbage", corrupt_file),
]


def measure(scenario: Scenario, runs: int) -> tuple[float | None, int | None, str]:
    seconds, lines = [], []
    try:
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="bench-home-") as tmp, \
                    scenario(Path(tmp)) as env:
                took, printed = run_flow(env)
            seconds.append(took)
            lines.append(printed)
    except LookupError as missing:
        return None, None, str(missing)
    return statistics.median(seconds), max(lines), ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    load = load_average()
    rows = []
    for label, scenario in SCENARIOS:
        progress(label)
        seconds, lines, note = measure(scenario, args.runs)
        verdict = "" if seconds is None else ("ok" if seconds <= TARGET_SECONDS else "MISSED")
        rows.append([label, fmt(seconds, 3), "n/a" if lines is None else str(lines),
                     f"≤ {TARGET_SECONDS:.0f} s", verdict or note])
    print(f"\nflow call of 10 tasks with a broken run store — {machine_summary()}, "
          f"medians of {args.runs} fresh processes\n")
    print_table(["store", "flow call (s)", "other lines (max)", "target", ""], rows)
    print()
    print_load_note(load)


if __name__ == "__main__":
    main()
