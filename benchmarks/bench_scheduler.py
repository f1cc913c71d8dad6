"""Scheduler pass over 10,000 cron deployments on SQLite (target: ≤ 1 s per pass).

Prints medians of ``--runs`` passes (default 5), each at a fake-clock instant:
- empty: a pass over a store with no deployments (the floor);
- quiet: 10,000 deployments whose next runs are already created (the usual pass);
- all due: 10,000 every-minute deployments, each pass one minute later, so every
  deployment gets its next run created (the worst case: 10,000 runs written per pass).

    python benchmarks/bench_scheduler.py [--runs 5] [--deployments 10000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable

UTC = dt.timezone.utc
START = dt.datetime(2024, 5, 1, 0, 0, 30, tzinfo=UTC)


def bulk_load(database: object, count: int) -> None:
    from sqlalchemy import insert

    from orchestrate_nb.store.orm import Deployment, Flow

    rows = [{
        "id": str(uuid.uuid4()), "name": f"deployment-{i}", "kind": "notebook",
        "entrypoint": f"/notebooks/nb{i}.ipynb", "flow_name": "bench", "parameters": None,
        "pool": "default", "schedule_kind": "cron", "cron": "* * * * *",
        "interval_seconds": None, "rrule": None, "timezone": "Europe/Berlin", "anchor": None,
        "paused": False, "catchup": "latest", "retries": 0, "retry_delay_seconds": 0.0,
        "timeout_seconds": None, "tags": None, "created": START, "updated": START,
        "last_slot": START,
    } for i in range(count)]
    with database.write() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(Flow).values(name="bench", created=START))
        conn.execute(insert(Deployment), rows)


def timed(runs: int, one_pass: Callable[[int], int]) -> tuple[float, int]:
    times, created = [], 0
    for index in range(runs):
        began = time.perf_counter()
        created = one_pass(index)
        times.append(time.perf_counter() - began)
    return statistics.median(times), created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--deployments", type=int, default=10_000)
    args = parser.parse_args()
    os.environ["ORCHESTRATE_NB_HOME"] = tempfile.mkdtemp(prefix="bench-scheduler-")
    from orchestrate_nb.deploy.scheduler import schedule_due_runs
    from orchestrate_nb.store.database import open_database

    database = open_database()
    minute = dt.timedelta(minutes=1)
    empty, _ = timed(args.runs, lambda i: schedule_due_runs(database, START + i * minute))
    bulk_load(database, args.deployments)
    schedule_due_runs(database, START)  # first pass: every deployment's next run
    due, created = timed(args.runs,
                         lambda i: schedule_due_runs(database, START + (i + 1) * minute))
    last = START + args.runs * minute
    quiet, _ = timed(args.runs, lambda i: schedule_due_runs(database, last + i * dt.timedelta(
        seconds=1)))
    n = args.deployments
    print(f"scheduler pass, SQLite, median of {args.runs} (target ≤ 1 s over 10,000):")
    print(f"  empty store:                   {empty * 1000:8.1f} ms")
    print(f"  {n:,} deployments, none due:  {quiet * 1000:8.1f} ms")
    print(f"  {n:,} deployments, all due:   {due * 1000:8.1f} ms  ({created:,} runs created "
          "per pass)")
    database.dispose()


if __name__ == "__main__":
    main()
