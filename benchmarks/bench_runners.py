"""Remote task runners against the executors they drive, on the same workload.

    python benchmarks/bench_runners.py [--runs 5] [--tasks 1000] [--store] [--only dask|process]

Each figure is the median over ``--runs`` repetitions of N trivial mapped tasks:

- DaskTaskRunner on a LocalCluster vs ``client.submit`` + ``client.gather`` on an identical
  LocalCluster started in the same repetition (the ratio's target is ≤ 1.2×);
- ProcessPoolTaskRunner vs ``concurrent.futures.ProcessPoolExecutor`` (spawn context: fresh
  interpreters, like the runner's workers; fork is unsafe in a process running threads).

"warm" times the N tasks once workers are up (after one warm-up task); "cold" times the
whole run: pool or cluster start, the N tasks, shutdown. The run store is off unless
``--store`` (then it writes to a temporary ORCHESTRATE_NB_HOME).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from typing import Any

WORKERS = 2  # pool size for both sides: the CI machine has two cores


def inc(x: int) -> int:
    return x + 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--store", action="store_true", help="record runs in a temp store")
    parser.add_argument("--only", choices=["dask", "process"])
    return parser.parse_args()


# -- orchestrate_nb ----------------------------------------------------------------------
def flow_run(runner: Any, n: int) -> tuple[float, float]:
    """(warm, cold) seconds of a flow mapping ``inc`` over ``n`` items on ``runner``."""
    from orchestrate_nb import flow, task

    inc_task = task(inc)
    warm: list[float] = []

    @flow(task_runner=runner)
    def mapped(n: int) -> int:
        inc_task.submit(0).result()  # workers up
        start = time.perf_counter()
        total = sum(inc_task.map(range(n)).result())
        warm.append(time.perf_counter() - start)
        return total

    start = time.perf_counter()
    assert mapped(n) == n * (n + 1) // 2
    return warm[0], time.perf_counter() - start


def flow_run_on_dask(runner_class: Any, cluster_kwargs: dict[str, Any],
                     n: int) -> tuple[float, float]:
    return flow_run(runner_class(cluster_kwargs=cluster_kwargs), n)


# -- the executors directly ----------------------------------------------------------------
def dask_direct(cluster_kwargs: dict[str, Any], n: int) -> tuple[float, float]:
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with LocalCluster(**cluster_kwargs) as cluster, Client(cluster) as client:
        client.submit(inc, 0, pure=False).result()
        warm_start = time.perf_counter()
        futures = [client.submit(inc, i, pure=False) for i in range(n)]
        total = sum(client.gather(futures))
        warm = time.perf_counter() - warm_start
        del futures
    assert total == n * (n + 1) // 2
    return warm, time.perf_counter() - start


def process_direct(n: int) -> tuple[float, float]:
    start = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
        pool.submit(inc, 0).result()
        warm_start = time.perf_counter()
        futures = [pool.submit(inc, i) for i in range(n)]
        total = sum(f.result() for f in futures)
        warm = time.perf_counter() - warm_start
    assert total == n * (n + 1) // 2
    return warm, time.perf_counter() - start


# -- reporting -------------------------------------------------------------------------------
def compare(label: str, ours: Callable[[], tuple[float, float]],
            theirs: Callable[[], tuple[float, float]], runs: int, n: int) -> None:
    samples: dict[str, list[tuple[float, float]]] = {"ours": [], "theirs": []}
    for i in range(runs):
        # alternate the order so neither side always runs on a warmer machine
        order = [("ours", ours), ("theirs", theirs)]
        for name, fn in order if i % 2 == 0 else order[::-1]:
            samples[name].append(fn())
        print(f"  {label}: run {i + 1}/{runs} done", file=sys.stderr)
    for j, phase in enumerate(("warm", "cold")):
        mine = statistics.median(s[j] for s in samples["ours"])
        base = statistics.median(s[j] for s in samples["theirs"])
        print(f"{label:<34} {phase:<5} ours {mine:7.3f} s  direct {base:7.3f} s  "
              f"ratio {mine / base:5.2f}x  ({n / mine:,.0f} tasks/s)")


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-runners-") as home:
        os.environ["ORCHESTRATE_NB_HOME"] = home
        measure(args)


def measure(args: argparse.Namespace) -> None:
    os.environ["ORCHESTRATE_NB_STORE"] = "1" if args.store else "0"
    os.environ.setdefault("ORCHESTRATE_NB_LOGGING_LEVEL", "WARNING")
    from orchestrate_nb.task_runners import (
        DaskTaskRunner,
        ProcessPoolTaskRunner,
        ThreadPoolTaskRunner,
    )

    n, runs = args.tasks, args.runs
    print(f"{n} trivial mapped tasks, median of {runs} runs, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, store {'on' if args.store else 'off'}")
    engine = statistics.median(flow_run(ThreadPoolTaskRunner(), n)[0] for _ in range(runs))
    print(f"{'orchestration alone (ThreadPool)':<34} warm  {engine:7.3f} s  "
          f"({engine / n * 1e6:.0f} µs per task run, in-process)")
    if args.only in (None, "dask"):
        clusters: list[tuple[str, dict[str, Any]]] = [
            ("Dask LocalCluster (processes)", {"n_workers": WORKERS, "threads_per_worker": 1}),
            ("Dask LocalCluster (threads)", {"processes": False, "n_workers": 1,
                                             "threads_per_worker": WORKERS})]
        for label, kwargs in clusters:
            kw = {**kwargs, "dashboard_address": None}
            compare(label, partial(flow_run_on_dask, DaskTaskRunner, kw, n),
                    partial(dask_direct, kw, n), runs, n)
    if args.only in (None, "process"):
        compare("ProcessPool vs ProcessPoolExecutor",
                lambda: flow_run(ProcessPoolTaskRunner(WORKERS), n),
                lambda: process_direct(n), runs, n)


if __name__ == "__main__":
    main()
