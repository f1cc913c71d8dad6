"""`orchestrate-nb runs show` of one flow run with 100,000 task runs, and `db prune` of it.

Writes one finished flow run of N task runs (a chain: N-1 dependencies, a log line each)
into a fresh SQLite home through the store's batched writer, then times fresh
`orchestrate-nb` processes (wall time and peak RSS, medians):

- `runs show ID` (the default: counts by state, the first 100 task runs);
- `runs show ID --all` (every task run, plain columns past 1,000 rows);
- baseline, same run: `runs show ID --all` drawn as one rich table (what `--all` did before);
- then `db prune` of the run: the space VACUUM gives back.

    .venv/bin/python benchmarks/bench_cli.py [--tasks 100000] [--runs 3] [--baseline-runs 1]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

CHILD = """\
import resource, sys
import orchestrate_nb.cli.format as fmt
if sys.argv[1] == "rich":
    fmt.RICH_ROWS = 10**12  # every row in one rich table, as before plain columns
from orchestrate_nb.cli.app import main
code = main(sys.argv[2:])
sys.stderr.write(f"MAXRSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n")
sys.exit(code)
"""


def write_run(tasks: int) -> str:
    from orchestrate_nb.core.events import (
        DependencyEdge,
        FlowRunCreated,
        LogEmitted,
        RunEvent,
        StateChanged,
        TaskRunCreated,
    )
    from orchestrate_nb.processes import current_process
    from orchestrate_nb.store.database import open_database
    from orchestrate_nb.store.writer import BatchWriter

    clock = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    run_id = str(uuid.uuid4())
    events: list[RunEvent] = [
        FlowRunCreated(id=run_id, flow_name="huge", name="huge-run", parameters={}, tags=(),
                       parent_flow_run_id=None, parent_task_run_id=None, created=clock,
                       state_type="RUNNING", state_name="Running")]
    previous = None
    for index in range(tasks):
        at = clock + dt.timedelta(milliseconds=index)
        task_id = str(uuid.uuid4())
        events += [
            TaskRunCreated(id=task_id, flow_run_id=run_id, task_name="step",
                           task_key="bench.step", name=f"step-{index}", tags=(), map_index=-1,
                           created=at, state_type="RUNNING", state_name="Running"),
            LogEmitted(run_id, task_id, 20, "orchestrate_nb.task_runs", f"step {index}", at),
            StateChanged("task", task_id, run_id, "COMPLETED", "Completed", None, at)]
        if previous is not None:
            events.append(DependencyEdge(run_id, previous, task_id, "x"))
        previous = task_id
    events.append(StateChanged("flow", run_id, run_id, "COMPLETED", "Completed", None,
                               clock + dt.timedelta(milliseconds=tasks)))
    database = open_database()
    writer = BatchWriter(database, current_process())
    for start in range(0, len(events), 20_000):
        writer.write(events[start:start + 20_000])
    database.dispose()
    return run_id


def measure(mode: str, argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one fresh `orchestrate-nb` process."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, mode, *argv], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=True)
    wall = time.perf_counter() - started
    rss = next(line for line in done.stderr.splitlines() if line.startswith("MAXRSS"))
    return wall, int(rss.split()[1]) / 1024


def report(label: str, mode: str, argv: list[str], runs: int) -> None:
    figures = [measure(mode, argv) for _ in range(runs)]
    wall = statistics.median(f[0] for f in figures)
    rss = statistics.median(f[1] for f in figures)
    print(f"{label:<48} {wall:>8.2f} s {rss:>8.0f} MB   (median of {runs})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline-runs", type=int, default=1)
    parser.add_argument("--write-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write_only:
        print(write_run(args.tasks))
        return
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as home:
        os.environ["ORCHESTRATE_NB_HOME"] = home
        os.environ.pop("ORCHESTRATE_NB_DATABASE_URL", None)
        # written by another process: Linux children inherit their parent's peak RSS
        run_id = subprocess.run(
            [sys.executable, __file__, "--write-only", "--tasks", str(args.tasks)],
            capture_output=True, text=True, check=True).stdout.strip()
        print(f"one flow run of {args.tasks:,} task runs ({args.tasks - 1:,} dependencies)")
        report("runs show ID (first 100 + counts)", "plain", ["runs", "show", run_id],
               args.runs)
        report("runs show ID --all (plain columns)", "plain",
               ["runs", "show", run_id, "--all"], args.runs)
        report("baseline: runs show ID --all as one rich table", "rich",
               ["runs", "show", run_id, "--all"], args.baseline_runs)
        database = Path(home) / "orchestrate_nb.db"
        pruned = subprocess.run(
            [sys.executable, "-m", "orchestrate_nb.cli.app", "db", "prune", "--older-than",
             "1m", "--yes"], capture_output=True, text=True, check=True).stdout
        size = database.stat().st_size / 1e6
        print(f"db prune: {pruned.strip().splitlines()[-1]} (database file now {size:.1f} MB)")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
