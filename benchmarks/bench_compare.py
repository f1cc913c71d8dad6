"""The same workloads on Prefect 3 and on orchestrate_nb, side by side.

    python benchmarks/bench_compare.py [--prefect-python PATH] [--runs 3] [--ours-runs 5]

Prefect runs from its own virtualenv (benchmarks/setup_prefect_venv.sh) with its default
local setup: each child process gets a fresh PREFECT_HOME, and Prefect starts its ephemeral
API server (bound to 127.0.0.1) on the first flow call and stops it when the process exits.
"Recorded" is the time from the flow call until every task run is visible as Completed
through Prefect's API (or as a row in orchestrate_nb's SQLite run store).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import Engine, fmt, median_of  # noqa: E402

DEFAULT_PREFECT_PYTHON = harness.HERE / ".venv-prefect" / "bin" / "python"


@dataclass
class Config:
    prefect_runs: int = 3
    ours_runs: int = 5
    sequential_n: int = 1000
    mapped_n: int = 1000
    prefect_empty_calls: int = 5  # each is ~1 s on Prefect
    ours_empty_calls: int = 20

    @classmethod
    def quick(cls) -> Config:
        return cls(prefect_runs=1, ours_runs=2, sequential_n=100, mapped_n=100,
                   prefect_empty_calls=2, ours_empty_calls=5)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Prefect 3 vs orchestrate_nb")
    parser.add_argument("--prefect-python", default=str(DEFAULT_PREFECT_PYTHON))
    parser.add_argument("--runs", type=int, help="fresh processes per Prefect figure (3)")
    parser.add_argument("--ours-runs", type=int, help="fresh processes per figure of ours (5)")
    parser.add_argument("--mapped-n", type=int, help="mapped tasks for both engines (1000)")
    parser.add_argument("--quick", action="store_true", help="one small run each (smoke test)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--ours-module", default="orchestrate_nb",
                        help="module for our column (plain_engine exercises the harness alone)")
    return parser.parse_args()


def config_from(args: argparse.Namespace) -> Config:
    config = Config.quick() if args.quick else Config()
    config.prefect_runs = args.runs or config.prefect_runs
    config.ours_runs = args.ours_runs or config.ours_runs
    config.mapped_n = args.mapped_n or config.mapped_n
    return config


def prefect_version(python: str) -> str:
    argv = [python, "-c", "import prefect; print(prefect.__version__)"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


def measure_engine(engine: Engine, runs: int, empty_calls: int, config: Config) -> dict:
    harness.progress(f"{engine.label}: import time")
    api_s, bare_s = harness.import_time(engine, f"from {engine.module} import flow, task", runs)
    return {
        "label": engine.label,
        "import_s": api_s - bare_s,
        "bare_python_s": bare_s,
        "empty": harness.run_children(engine, runs, "empty", calls=empty_calls),
        "sequential": harness.run_children(engine, runs, "sequential", n=config.sequential_n),
        "mapped": harness.run_children(engine, runs, "mapped", n=config.mapped_n),
    }


# --- the table ------------------------------------------------------------------------------

Metric = tuple[str, float | None, float | None, int]  # label, prefect, ours, digits


def ratio(prefect: float | None, ours: float | None) -> str:
    if prefect is None or ours is None or ours <= 0:
        return "n/a"
    return f"{prefect / ours:,.1f}×"


def scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def per_engine(result: dict[str, Any], config: Config) -> dict[str, float | None]:
    seq, mapped, empty = result["sequential"], result["mapped"], result["empty"]
    return {
        "import_ms": result["import_s"] * 1e3,
        "first_call_s": median_of(empty, "first_call_s"),
        "empty_ms": scaled(median_of(empty, "empty_call_s"), 1e3),
        "seq_client_s": median_of(seq, "flow_s"),
        "seq_recorded_s": median_of(seq, "recorded_s"),
        "seq_per_task_ms": scaled(median_of(seq, "recorded_s"), 1e3 / config.sequential_n),
        "map_client_s": median_of(mapped, "flow_s"),
        "map_recorded_s": median_of(mapped, "recorded_s"),
        "rss_mb": scaled(median_of(seq, "maxrss_kb"), 1 / 1024),
        "server_rss_mb": scaled(median_of(seq, "children_rss_kb"), 1 / 1024),
    }


def metrics(prefect: dict[str, Any], ours: dict[str, Any], c: Config) -> list[Metric]:
    p, o = per_engine(prefect, c), per_engine(ours, c)
    s, m = f"{c.sequential_n:,}", f"{c.mapped_n:,}"
    return [
        ("from … import flow, task (ms)", p["import_ms"], o["import_ms"], 0),
        ("first flow call, fresh home (s)", p["first_call_s"], o["first_call_s"], 3),
        ("empty flow call, warm (ms)", p["empty_ms"], o["empty_ms"], 3),
        (f"{s} sequential tasks, flow returns (s)", p["seq_client_s"], o["seq_client_s"], 3),
        (f"{s} sequential tasks, all recorded (s)", p["seq_recorded_s"], o["seq_recorded_s"], 3),
        ("  = per task, recorded (ms)", p["seq_per_task_ms"], o["seq_per_task_ms"], 3),
        (f"{m} mapped tasks, flow returns (s)", p["map_client_s"], o["map_client_s"], 3),
        (f"{m} mapped tasks, all recorded (s)", p["map_recorded_s"], o["map_recorded_s"], 3),
        (f"peak RSS, {s}-task client process (MB)", p["rss_mb"], o["rss_mb"], 0),
        ("peak RSS, server/child processes (MB)", p["server_rss_mb"], o["server_rss_mb"], 0),
    ]


def at_return(results: list[dict[str, Any]]) -> str:
    counts = [r["records_at_return"] for r in results if r.get("records_at_return") is not None]
    return f"{min(counts)}/{results[0]['expected_records']}" if counts else "n/a"


def print_report(prefect: dict, ours: dict, config: Config, version: str) -> None:
    print(f"\nPrefect {version} vs {ours['label']} — {harness.machine_summary()}; medians of "
          f"{config.prefect_runs} (Prefect) / {config.ours_runs} (ours) fresh processes\n")
    rows = [[label, fmt(pv, d), fmt(ov, d), ratio(pv, ov)]
            for label, pv, ov, d in metrics(prefect, ours, config)]
    for key in ("sequential", "mapped"):
        rows.append([f"task runs recorded when the {key} flow returns (min)",
                     at_return(prefect[key]), at_return(ours[key]), ""])
    harness.print_table(["metric", "Prefect", ours["label"], "Prefect/ours"], rows)
    print("\nimport: wall time of `python -c \"from X import flow, task\"` minus `python -c pass`."
          "\nRecorded counts include the 1-task warm-up flow run before each timed flow.")


def main() -> None:
    args = parse_args()
    config = config_from(args)
    load_at_start = harness.load_average()
    version = prefect_version(args.prefect_python)
    ours_engine = Engine(args.ours_module, sys.executable, args.ours_module)
    # abspath, not resolve(): a venv's python is a symlink that must stay inside the venv.
    prefect_engine = Engine("prefect", os.path.abspath(args.prefect_python), "prefect")
    ours = measure_engine(ours_engine, config.ours_runs, config.ours_empty_calls, config)
    prefect = measure_engine(prefect_engine, config.prefect_runs,
                             config.prefect_empty_calls, config)
    print_report(prefect, ours, config, version)
    harness.print_load_note(load_at_start)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"config": asdict(config), "prefect_version": version,
                   "prefect": prefect, "orchestrate_nb": ours}
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
