"""Core figures of orchestrate_nb against plain Python and the targets.

    python benchmarks/bench_core.py [--runs 5] [--quick] [--json PATH]

Every figure is the median over `--runs` fresh interpreters (each in a temporary
ORCHESTRATE_NB_HOME, so the default SQLite run store is created and persisted per run),
with its plain-Python baseline measured in the same child process. The 100,000-task
record-loss check runs `--lost-runs` times (default 1): it is a count, not a timing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dbstats  # noqa: E402
import harness  # noqa: E402
from harness import Engine, fmt, median_of  # noqa: E402

KB = 1024


@dataclass
class Config:
    runs: int = 5
    sequential_n: int = 1000
    mapped_n: int = 10_000
    empty_calls: int = 20
    lost_n: int = 100_000
    lost_workload: str = "mapped"
    lost_runs: int = 1

    @classmethod
    def quick(cls) -> Config:
        return cls(runs=2, sequential_n=200, mapped_n=1000, empty_calls=5, lost_n=5000)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="orchestrate_nb core benchmarks")
    parser.add_argument("--runs", type=int, help="fresh processes per figure (default 5)")
    parser.add_argument("--quick", action="store_true", help="fewer runs, smaller workloads")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--lost-workload", choices=["mapped", "sequential"])
    parser.add_argument("--lost-runs", type=int)
    parser.add_argument("--engine", default="orchestrate_nb",
                        help="module to benchmark (plain_engine exercises the harness alone)")
    return parser.parse_args()


def config_from(args: argparse.Namespace) -> Config:
    config = Config.quick() if args.quick else Config()
    config.runs = args.runs or config.runs
    config.lost_workload = args.lost_workload or config.lost_workload
    config.lost_runs = args.lost_runs or config.lost_runs
    return config


# --- measurements -------------------------------------------------------------------------


def measure_import(ours: Engine, config: Config) -> dict[str, float]:
    harness.progress("import time")
    plain, bare = harness.import_time(ours, f"import {ours.module}", config.runs)
    api, _ = harness.import_time(ours, f"from {ours.module} import flow, task", config.runs)
    return {"import_s": plain - bare, "api_import_s": api - bare, "bare_python_s": bare}


def sequential_run(engine: Engine, n: int) -> dict[str, Any]:
    """One 1,000-task child; also the size its run history took on disk."""
    with harness.temp_home() as home:
        result = harness.run_child(engine, home, "sequential", n=n)
        path = dbstats.db_path(home / "orchestrate_nb")
        if path.exists():
            result["db_bytes"] = dbstats.checkpointed_size(path)
            result["db"] = dbstats.summarize(path)
    return result


def measure_sequential(ours: Engine, config: Config) -> dict[str, Any]:
    runs, empties = [], []
    for i in range(config.runs):
        runs.append(sequential_run(ours, config.sequential_n))
        empties.append(sequential_run(ours, 0))  # same flow runs, no timed tasks: DB floor
        harness.progress(f"sequential run {i + 1}/{config.runs} done")
    per_task_db = [(r["db_bytes"] - e["db_bytes"]) / config.sequential_n
                   for r, e in zip(runs, empties, strict=True) if "db_bytes" in r and "db_bytes" in e]
    overhead = [(r["flow_s"] - r["baseline_s"]) / config.sequential_n for r in runs]
    return {
        "runs": runs,
        "overhead_s_per_task": statistics.median(overhead),
        "baseline_s_per_task": median_of(runs, "baseline_s") / config.sequential_n,
        "db_bytes_per_task": statistics.median(per_task_db) if per_task_db else None,
        "maxrss_kb": median_of(runs, "maxrss_kb"),
    }


def measure_lost(ours: Engine, config: Config) -> list[dict[str, Any]]:
    results = []
    for _ in range(config.lost_runs):
        harness.progress(f"{config.lost_n:,} {config.lost_workload} tasks (record-loss check)")
        with harness.temp_home() as home:
            result = harness.run_child(ours, home, config.lost_workload, n=config.lost_n)
            result["db"] = dbstats.summarize(dbstats.db_path(home / "orchestrate_nb"))
        result["lost"] = result["expected_records"] - result["db"]["task_runs"]
        results.append(result)
    return results


def measure_all(ours: Engine, plain: Engine, config: Config) -> dict[str, Any]:
    n = config.sequential_n
    return {
        "config": asdict(config),
        "machine": harness.machine_summary(),
        "import": measure_import(ours, config),
        "empty": harness.run_children(ours, config.runs, "empty", calls=config.empty_calls),
        "sequential": measure_sequential(ours, config),
        "plain_sequential": harness.run_children(plain, config.runs, "sequential", n=n),
        "mapped": harness.run_children(ours, config.runs, "mapped", n=config.mapped_n),
        "lost": measure_lost(ours, config),
    }


# --- the table ------------------------------------------------------------------------------


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "?"
    return "ok" if value <= limit else "MISSED"


def timing_rows(r: dict[str, Any], c: Config) -> list[list[str]]:
    seq, imp = r["sequential"], r["import"]
    per_task_us = seq["overhead_s_per_task"] * 1e6
    mapped_s, empty_ms = median_of(r["mapped"], "flow_s"), median_of(r["empty"], "empty_call_s")
    empty_ms = None if empty_ms is None else empty_ms * 1e3
    return [
        [f"overhead per task, {c.sequential_n:,} sequential (µs)", fmt(per_task_us),
         f"plain loop {fmt(seq['baseline_s_per_task'] * 1e6, 3)} µs/call", "≤ 50",
         verdict(per_task_us, 50)],
        [f"{c.mapped_n:,} mapped tasks (s)", fmt(mapped_s, 3),
         f"thread pool {fmt(median_of(r['mapped'], 'baseline_s'), 3)} s", "≤ 1",
         verdict(mapped_s, 1)],
        ["empty flow call, warm (ms)", fmt(empty_ms, 3),
         f"plain call {fmt(median_of(r['empty'], 'baseline_s') * 1e6, 2)} µs", "≤ 1",
         verdict(empty_ms, 1)],
        ["first flow call, fresh home (ms)",
         fmt(median_of(r["empty"], "first_call_s") * 1e3), "", "", ""],
        ["import orchestrate_nb (ms)", fmt(imp["import_s"] * 1e3),
         f"python -c pass {fmt(imp['bare_python_s'] * 1e3)} ms", "≤ 150",
         verdict(imp["import_s"] * 1e3, 150)],
        ["from orchestrate_nb import flow, task (ms)", fmt(imp["api_import_s"] * 1e3),
         "", "", ""],
    ]


def records_note(results: list[dict[str, Any]]) -> str:
    at_return = [r["records_at_return"] for r in results if r.get("records_at_return") is not None]
    expected = results[0]["expected_records"]
    return f"{min(at_return)}/{expected} (min over runs)" if at_return else "n/a"


def storage_rows(r: dict[str, Any], c: Config) -> list[list[str]]:
    seq = r["sequential"]
    db_per_task, rss = seq["db_bytes_per_task"], seq["maxrss_kb"]
    plain_rss = median_of(r["plain_sequential"], "maxrss_kb")
    mapped_rss = median_of(r["mapped"], "maxrss_kb")
    rows = [
        [f"records in DB when the {c.sequential_n:,}-task flow returns",
         records_note(seq["runs"]), "", "all", ""],
        ["DB bytes per task run (incl. WAL)", fmt(db_per_task, 0), "", "≤ 2,048",
         verdict(db_per_task, 2 * KB)],
        [f"peak RSS, {c.sequential_n:,}-task process (MB)", fmt(rss / KB if rss else None),
         f"same workload, plain_engine {fmt(plain_rss / KB if plain_rss else None)} MB", "", ""],
        [f"peak RSS, {c.mapped_n:,}-mapped process (MB)",
         fmt(mapped_rss / KB if mapped_rss else None), "", "", ""],
    ]
    return rows + [lost_row(lost, c) for lost in r["lost"]]


def lost_row(lost: dict[str, Any], c: Config) -> list[str]:
    db = lost["db"]
    detail = (f"{db['task_runs']:,}/{lost['expected_records']:,} rows in "
              f"{db['task_table']}, flow {fmt(lost['flow_s'], 1)} s, "
              f"peak RSS {fmt(lost['maxrss_kb'] / KB, 0)} MB")
    return [f"lost records, {c.lost_n:,} {c.lost_workload} tasks", str(lost["lost"]), detail,
            "0", "ok" if lost["lost"] == 0 and lost["result_ok"] else "MISSED"]


def print_report(results: dict[str, Any], config: Config) -> None:
    print(f"\norchestrate_nb core benchmarks — {results['machine']}, "
          f"medians of {config.runs} fresh processes\n")
    rows = timing_rows(results, config) + storage_rows(results, config)
    harness.print_table(["metric", "ours", "baseline", "target", ""], rows)
    checked = results["sequential"]["runs"] + results["mapped"] + results["lost"]
    bad = [r for r in checked if not r["result_ok"]]
    if bad:
        print(f"\nWRONG RESULTS returned by {len(bad)} flow call(s)")
    for lost in results["lost"]:
        print(f"\nrecord-loss run: task runs by state {lost['db']['task_runs_by_state']}, "
              f"flow runs {lost['db']['flow_runs']}")
    print("\nimport: wall time of `python -c STATEMENT` minus `python -c pass` (medians).")


def main() -> None:
    args = parse_args()
    config = config_from(args)
    load_at_start = harness.load_average()
    ours = Engine(args.engine, sys.executable, args.engine)
    plain = Engine("plain_engine", sys.executable, "plain_engine")
    results = measure_all(ours, plain, config)
    print_report(results, config)
    harness.print_load_note(load_at_start)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
