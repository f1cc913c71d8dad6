"""What the run store costs a flow: peak memory, the final flush, per-task overhead (issue 11).

    .venv/bin/python benchmarks/bench_store.py [--runs 3] [--mapped-n 100000] [--seq-n 1000]

Every figure is a median over fresh processes, each in its own temporary ORCHESTRATE_NB_HOME
(PostgreSQL: its own schema of ORCHESTRATE_NB_TEST_POSTGRES_URL, or n/a without it), beside
the same workload with the store off (ORCHESTRATE_NB_STORE=0) measured in the same run, and
with each writer (ORCHESTRATE_NB_STORE_WRITER): the writer process (the default) and the
flow process's own writer thread:

- peak RSS of a process running ``--mapped-n`` mapped tasks, store on minus store off; with
  a writer process, the flow process's peak plus the writer process's own (VmHWM), so the
  store's whole cost is counted;
- the final flush: from the end of the flow's body to the flow call's return;
- per-task overhead of ``--seq-n`` sequential tasks (flow time minus a plain loop, per task),
  store on against off, with every task run checked to be in the database at return; beside
  it the same in CPU time, of the flow's process and of its writer process together, which a
  machine shared with other work disturbs far less than the wall-clock figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness import fmt, load_average, machine_summary, print_load_note, print_table, progress

CHILD = """
import json, resource, sys, time
from orchestrate_nb import flow, task

MODE, N = sys.argv[1], int(sys.argv[2])
marks = {}

@task
def inc(x: int) -> int:
    return x + 1

@flow
def mapped(n: int) -> int:
    total = sum(f.result() for f in inc.map(range(n)))
    marks["body_end"] = time.perf_counter()
    return total

@flow
def sequential(n: int) -> int:
    total = 0
    for i in range(n):
        total += inc(i)
    marks["body_end"] = time.perf_counter()
    return total

def plain(n):
    total = 0
    for i in range(n):
        total += inc.fn(i)
    return total

def recorded():
    from orchestrate_nb.settings import load_settings
    settings = load_settings()
    if not settings.store_enabled:
        return None
    from sqlalchemy import text
    from orchestrate_nb.store.database import create_database
    database = create_database(settings)
    with database.read() as conn:
        count = conn.execute(text("SELECT count(*) FROM task_runs WHERE state_type = 'COMPLETED'"
                                  )).scalar_one()
    database.dispose()
    return count

def writer_pid():
    from orchestrate_nb.engine.reporting import store_reporter
    reporter = store_reporter() if SETTINGS_ON else None
    return getattr(reporter, "writer_pid", None)

def writer_cpu(pid):
    # CPU seconds of the writer process so far (schedstat: nanoseconds on a CPU)
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0]) / 1e9

def writer_peak_kb(pid):
    if pid is None:
        return 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

from orchestrate_nb.settings import load_settings
SETTINGS_ON = load_settings().store_enabled
flow_fn = mapped if MODE == "mapped" else sequential
flow_fn(1)  # warm-up: imports, the store opened and migrated
pid = writer_pid()
baseline, baseline_cpu = time.perf_counter(), time.process_time()
if MODE == "sequential":
    plain(N)
baseline, baseline_cpu = time.perf_counter() - baseline, time.process_time() - baseline_cpu

def timed_flow():
    started, cpu, wcpu = time.perf_counter(), time.process_time(), writer_cpu(pid)
    assert flow_fn(N) == sum(range(1, N + 1))
    returned, cpu = time.perf_counter(), time.process_time() - cpu
    wcpu = writer_cpu(pid) - wcpu
    return {"flow_s": returned - started, "tail_s": returned - marks["body_end"],
            "flow_cpu_s": cpu + wcpu, "writer_cpu_s": wcpu}

# The first large flow after the store opened (the writer's statements not yet prepared,
# the first finished run's alerts looked up), then the same again: what every later one costs.
first = timed_flow()
figures = timed_flow() if MODE == "sequential" else first
print(json.dumps({
    **figures, "first": first, "baseline_s": baseline, "baseline_cpu_s": baseline_cpu,
    "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + writer_peak_kb(pid),
    "writer_maxrss_kb": writer_peak_kb(pid),
    "recorded": recorded(), "expected": 1 + N * (2 if MODE == "sequential" else 1),
}))
"""


@contextmanager
def sqlite_store(home: Path) -> Iterator[dict[str, str]]:
    yield {}


@contextmanager
def postgres_store(home: Path) -> Iterator[dict[str, str]]:
    base = os.environ.get("ORCHESTRATE_NB_TEST_POSTGRES_URL")
    if not base:
        raise LookupError("needs ORCHESTRATE_NB_TEST_POSTGRES_URL")
    import psycopg
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    dsn = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield {"ORCHESTRATE_NB_DATABASE_URL": url.render_as_string(hide_password=False)}
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@contextmanager
def store_off(home: Path) -> Iterator[dict[str, str]]:
    yield {"ORCHESTRATE_NB_STORE": "0"}


STORES = {"off": store_off, "sqlite": sqlite_store, "postgresql": postgres_store}
# What is measured: the store off, then each backend with each writer.
CONFIGS = {"off": ("off", None),
           "sqlite": ("sqlite", "process"), "sqlite, writer thread": ("sqlite", "thread"),
           "postgresql": ("postgresql", "process"),
           "postgresql, writer thread": ("postgresql", "thread")}


def run_child(config: str, mode: str, n: int) -> dict[str, Any]:
    store, writer = CONFIGS[config]
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp, STORES[store](Path(tmp)) as env:
        child_env = {k: v for k, v in os.environ.items() if k != "ORCHESTRATE_NB_DATABASE_URL"}
        child_env |= {"ORCHESTRATE_NB_HOME": tmp, "ORCHESTRATE_NB_LOGGING_LEVEL": "WARNING", **env}
        if writer is not None:
            child_env["ORCHESTRATE_NB_STORE_WRITER"] = writer
        # Run from the temp folder: a checkout on sys.path would shadow PYTHONPATH's code.
        result = subprocess.run([sys.executable, "-c", CHILD, mode, str(n)], capture_output=True,
                                text=True, env=child_env, cwd=tmp, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"{config} {mode} child failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.splitlines()[-1])


def measure(stores: list[str], mode: str, n: int, runs: int) -> dict[str, list[dict[str, Any]]]:
    """Runs interleaved (off, sqlite, postgresql, off, ...) so load drifts hit all alike."""
    results: dict[str, list[dict[str, Any]]] = {store: [] for store in stores}
    for i in range(runs):
        for store in stores:
            try:
                results[store].append(run_child(store, mode, n))
            except LookupError:
                pass
        progress(f"{mode} {n:,}: run {i + 1}/{runs} done")
    return results


def median(results: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in results if r.get(key) is not None]
    return statistics.median(values) if values else None


def all_recorded(results: list[dict[str, Any]]) -> str:
    if not results:
        return "n/a"
    return "yes" if all(r["recorded"] == r["expected"] for r in results) else "NO: " + ", ".join(
        f"{r['recorded']}/{r['expected']}" for r in results)


def mapped_rows(results: dict[str, list[dict[str, Any]]], n: int) -> list[list[str]]:
    off_rss = median(results["off"], "maxrss_kb") or 0
    rows = [[f"{n:,} mapped, store off", fmt(off_rss / 1024), "", "",
             fmt(median(results["off"], "tail_s"), 3), ""]]
    for store in list(CONFIGS)[1:]:
        rss = median(results[store], "maxrss_kb")
        over = None if rss is None else (rss - off_rss) / 1024
        rows.append([f"{n:,} mapped, {store}", fmt(None if rss is None else rss / 1024),
                     fmt(over), "≤ 50", fmt(median(results[store], "tail_s"), 3),
                     all_recorded(results[store])])
    return rows


def sequential_rows(results: dict[str, list[dict[str, Any]]], n: int) -> list[list[str]]:
    def per_task_us(store: str, clock: str = "", first: bool = False) -> float | None:
        values = [((r["first"] if first else r)[f"flow{clock}_s"] - r[f"baseline{clock}_s"])
                  / n * 1e6 for r in results[store] if f"flow{clock}_s" in r]
        return statistics.median(values) if values else None

    def ratio(on: float | None, off: float | None) -> float | None:
        return None if on is None or not off else on / off

    off, off_cpu, off_first = (per_task_us("off"), per_task_us("off", "_cpu"),
                               per_task_us("off", first=True))
    rows = [[f"{n:,} sequential, store off", fmt(off), "", "", fmt(off_cpu), "", fmt(off_first),
             "", ""]]
    for store in list(CONFIGS)[1:]:
        on, on_cpu, on_first = (per_task_us(store), per_task_us(store, "_cpu"),
                                per_task_us(store, first=True))
        rows.append([f"{n:,} sequential, {store}", fmt(on), fmt(ratio(on, off), 2), "≤ 1.5",
                     fmt(on_cpu), fmt(ratio(on_cpu, off_cpu), 2), fmt(on_first),
                     fmt(ratio(on_first, off_first), 2), all_recorded(results[store])])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mapped-n", type=int, default=100_000)
    parser.add_argument("--seq-n", type=int, default=1000)
    parser.add_argument("--seq-runs", type=int, help="runs of the sequential figure (--runs × 3)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    load_at_start = load_average()
    stores = list(CONFIGS)
    mapped = measure(stores, "mapped", args.mapped_n, args.runs)
    sequential = measure(stores, "sequential", args.seq_n, args.seq_runs or args.runs * 3)
    print(f"\nrun store costs — {machine_summary()}, medians of {args.runs} fresh processes\n")
    print_table(["workload", "peak RSS MB", "over store off MB", "target", "final flush s",
                 "all recorded"], mapped_rows(mapped, args.mapped_n))
    print()
    print_table(["workload", "µs per task", "× store off", "target", "CPU µs per task",
                 "CPU × off", "first flow µs", "first × off", "all recorded"],
                sequential_rows(sequential, args.seq_n))
    print("\nfinal flush: the end of the flow body to the flow call's return (target ≤ 2 s);")
    print("µs per task: (flow time − plain loop of the same task functions) / tasks, of the")
    print("second flow of that size in its process (first flow: the first, right after the")
    print("store opened: statements prepared, alerts looked up); CPU: the")
    print("same in CPU time of the flow's process (all its threads) and its writer process.")
    print("peak RSS: with a writer process, the flow process's peak plus the writer's.")
    print_load_note(load_at_start)
    if args.json:
        args.json.write_text(json.dumps({"mapped": mapped, "sequential": sequential}, indent=2))


if __name__ == "__main__":
    main()
