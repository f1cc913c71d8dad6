"""One measurement in a fresh interpreter; the parent scripts start this as a subprocess.

    BENCH_ENGINE=orchestrate_nb python run_workload.py --workload sequential --n 1000 \
        --out result.json

Workloads:
  empty       import, first flow call (fresh home), then `--calls` timed empty flow calls
  sequential  warm-up flow, plain-Python loop baseline, then `sequential_flow(n)`
  mapped      warm-up flow, thread-pool baseline, then `mapped_flow(n)`

After a timed flow returns, the task runs that reached the run history are counted (SQLite
read directly for orchestrate_nb, the REST API's count for Prefect) and polled until all are
there: `recorded_s` is the time from the flow call to the last record being visible.
Results go to `--out` as JSON, because engines print to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dbstats  # noqa: E402

Counter = Callable[[], int]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=["empty", "sequential", "mapped"], required=True)
    parser.add_argument("--n", type=int, default=1000, help="task runs in the timed flow")
    parser.add_argument("--warmup-n", type=int, default=1, help="task runs in the warm-up flow")
    parser.add_argument("--calls", type=int, default=20, help="timed empty flow calls")
    parser.add_argument("--record-timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, required=True)
    return parser.parse_args()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


# --- counting recorded task runs ------------------------------------------------------


def prefect_counter() -> Counter:
    """Completed task runs known to Prefect's server (every flow run in this fresh home)."""
    from prefect.client.orchestration import get_client

    client = get_client(sync_client=True)
    client.__enter__()
    body = {"task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}
    return lambda: int(client.request("POST", "/task_runs/count", json=body).json())


def orchestrate_counter() -> Counter | None:
    """Rows in the SQLite run store; None when the store is disabled (ORCHESTRATE_NB_STORE=0)."""
    from orchestrate_nb.settings import load_settings

    settings = load_settings()
    if not settings.store_enabled:
        return None
    path = dbstats.db_path(settings.home)
    return lambda: dbstats.count_task_runs(path)


def make_counter(engine: str) -> Counter | None:
    factories: dict[str, Callable[[], Counter | None]] = {
        "prefect": prefect_counter, "orchestrate_nb": orchestrate_counter}
    factory = factories.get(engine)
    return factory() if factory else None


def wait_recorded(counter: Counter, expected: int, timeout: float) -> tuple[int, float | None]:
    """Poll until `expected` task runs are recorded; (count at return, seconds or None)."""
    start = time.perf_counter()
    at_return = counter()
    count = at_return
    interval = 0.01
    while count < expected:
        if time.perf_counter() - start > timeout:
            return at_return, None
        time.sleep(interval)
        interval = min(interval * 2, 0.25)
        count = counter()
    return at_return, time.perf_counter() - start


# --- workloads --------------------------------------------------------------------------


def run_empty(wl: ModuleType, args: argparse.Namespace) -> dict[str, Any]:
    first_s, _ = timed(wl.empty_flow)
    calls = [timed(wl.empty_flow)[0] for _ in range(args.calls)]
    baseline = [timed(wl.plain_empty)[0] for _ in range(args.calls)]
    return {
        "first_call_s": first_s,
        "empty_call_s": statistics.median(calls),
        "baseline_s": statistics.median(baseline),
    }


def plain_loop(wl: ModuleType, n: int) -> int:
    total = 0
    for i in range(n):
        total += wl.plain_inc(i)
    return total


def thread_pool_map(wl: ModuleType, n: int) -> int:
    with ThreadPoolExecutor() as pool:
        futures = [pool.submit(wl.plain_inc, i) for i in range(n)]
        return sum(f.result() for f in futures)


def run_tasks(wl: ModuleType, args: argparse.Namespace, flow_fn: Any, base: Any) -> dict:
    warmup_s, _ = timed(lambda: flow_fn(args.warmup_n))
    baseline_s, _ = timed(lambda: base(wl, args.n))
    counter = make_counter(wl.ENGINE)
    flow_s, total = timed(lambda: flow_fn(args.n))
    result: dict[str, Any] = {"warmup_s": warmup_s, "baseline_s": baseline_s, "flow_s": flow_s}
    result["result_ok"] = total == wl.expected_total(args.n)
    result["expected_records"] = args.warmup_n + args.n
    if counter is None:
        return result | {"recorded_s": flow_s, "records_at_return": None}
    at_return, waited = wait_recorded(counter, args.warmup_n + args.n, args.record_timeout)
    result["records_at_return"] = at_return
    result["recorded_s"] = None if waited is None else flow_s + waited
    return result


def run_workload(wl: ModuleType, args: argparse.Namespace) -> dict[str, Any]:
    if args.workload == "empty":
        return run_empty(wl, args)
    if args.workload == "sequential":
        return run_tasks(wl, args, wl.sequential_flow, plain_loop)
    return run_tasks(wl, args, wl.mapped_flow, thread_pool_map)


# --- memory -----------------------------------------------------------------------------


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _peak_rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    line = next((ln for ln in status.splitlines() if ln.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


def descendants_peak_rss_kb() -> int:
    """Summed peak RSS of live descendant processes (e.g. Prefect's ephemeral server)."""
    pids = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]
    parents = {pid: _parent_pid(pid) for pid in pids}
    family, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - family
        family |= frontier
    return sum(_peak_rss_kb(pid) for pid in family)


def main() -> None:
    args = parse_args()
    import_s, wl = timed(lambda: __import__("workloads"))
    result = {"engine": wl.ENGINE, "workload": args.workload, "n": args.n, "import_s": import_s}
    result |= run_workload(wl, args)
    result["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["children_rss_kb"] = descendants_peak_rss_kb()
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
