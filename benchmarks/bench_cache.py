"""Cache figures: a small cache hit, restoring a large numpy result, fingerprinting.

    python benchmarks/bench_cache.py [--runs 5] [--quick]

Every figure is the median of ``--runs`` runs, with its baseline measured in the same run:

- a cache hit with small inputs, end to end through the engine (µs per call), against a
  plain function call, the same task uncached, and ``joblib.Memory`` when joblib is
  installed (it is not a dependency);
- restoring a 100 MB float64 result (the store's read, and a whole cached task call)
  against a bare ``pickle.load`` of the same array from a file (protocol 5, page cache warm);
- fingerprinting a 1 GB float64 array (GB/s) against hashing the same bytes with xxh3.

Runs in a temporary ORCHESTRATE_NB_HOME with the run store off (ORCHESTRATE_NB_STORE=0),
so the figures are the cache's own and not the SQLite writer's.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HOME = tempfile.mkdtemp(prefix="onb-bench-cache-")
os.environ["ORCHESTRATE_NB_HOME"] = HOME
os.environ["ORCHESTRATE_NB_STORE"] = "0"
os.environ.pop("ORCHESTRATE_NB_RESULTS_URL", None)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import logging  # noqa: E402

import numpy as np  # noqa: E402
import xxhash  # noqa: E402

from orchestrate_nb import task  # noqa: E402
from orchestrate_nb.cache_policies import INPUTS  # noqa: E402
from orchestrate_nb.engine.caching import TaskRunCache  # noqa: E402
from orchestrate_nb.results import fingerprint  # noqa: E402
from orchestrate_nb.results.store import default_store  # noqa: E402


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def per_call_us(fn: Callable[[], Any], calls: int) -> Callable[[], float]:
    def measure() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - start) / calls * 1e6
    return measure


def once_ms(fn: Callable[[], Any]) -> Callable[[], float]:
    def measure() -> float:
        gc.collect()
        start = time.perf_counter()
        value = fn()
        elapsed = time.perf_counter() - start
        del value
        return elapsed * 1e3
    return measure


def small_hit(runs: int, calls: int) -> None:
    def add(x: int, y: int) -> int:
        return x + y

    cached = task(cache_policy=INPUTS)(add)
    plain = task(add)
    cached(1, 2)
    plain(1, 2)
    assert cached(1, 2, return_state=True).name == "Cached"
    rows = [("plain function call", median_of(runs, per_call_us(lambda: add(1, 2), calls))),
            ("task call, uncached", median_of(runs, per_call_us(lambda: plain(1, 2), calls))),
            ("task call, cache hit", median_of(runs, per_call_us(lambda: cached(1, 2), calls)))]
    try:
        import joblib
    except ImportError:
        rows.append(("joblib.Memory hit", float("nan")))
    else:
        memory = joblib.Memory(tempfile.mkdtemp(prefix="onb-joblib-"), verbose=0)
        hit = memory.cache(add)
        hit(1, 2)
        rows.append(("joblib.Memory hit", median_of(runs, per_call_us(lambda: hit(1, 2),
                                                                      calls // 4))))
    print("\nCache hit, small inputs (µs per call, median of runs; target <= 30 µs)")
    for label, value in rows:
        print(f"  {label:28s} {value:9.2f}")


def large_restore(runs: int, megabytes: int) -> None:
    array = np.random.default_rng(0).random(megabytes * 1024 * 1024 // 8)

    @task(cache_policy=INPUTS)
    def produce(n: int) -> np.ndarray:
        return array

    produce(megabytes)
    state = produce(megabytes, return_state=True)
    assert state.name == "Cached"
    store, key = default_store(), state.details["cache_key"]
    baseline = Path(HOME) / "bare.pkl"
    with open(baseline, "wb") as f:
        pickle.dump(array, f, protocol=pickle.HIGHEST_PROTOCOL)

    def bare_load() -> Any:
        with open(baseline, "rb") as f:
            return pickle.load(f)

    bare = median_of(runs, once_ms(bare_load))
    read = median_of(runs, once_ms(lambda: store.read(key)))
    hit = median_of(runs, once_ms(lambda: produce(megabytes)))
    assert np.array_equal(store.read(key)[1], array)
    print(f"\nRestoring a {megabytes} MB float64 result (ms, median; target <= 1.3x bare)")
    print(f"  {'bare pickle.load':28s} {bare:9.2f}")
    print(f"  {'result store read':28s} {read:9.2f}   {read / bare:5.2f}x")
    print(f"  {'cached task call':28s} {hit:9.2f}   {hit / bare:5.2f}x")


def fingerprint_speed(runs: int, megabytes: int) -> None:
    array = np.random.default_rng(1).random(megabytes * 1024 * 1024 // 8)
    gigabytes = array.nbytes / 1e9

    def rate(fn: Callable[[], Any]) -> Callable[[], float]:
        def measure() -> float:
            start = time.perf_counter()
            fn()
            return gigabytes / (time.perf_counter() - start)
        return measure

    ours = median_of(runs, rate(lambda: fingerprint(array)))
    raw = median_of(runs, rate(lambda: xxhash.xxh3_128(memoryview(array)).hexdigest()))
    strided = array[::2]
    half = median_of(runs, rate(lambda: fingerprint(strided))) / 2  # half the bytes
    print(f"\nFingerprinting a {array.nbytes / 2**30:.2f} GiB float64 array "
          "(GB/s, median; target >= 2 GB/s)")
    print(f"  {'fingerprint()':28s} {ours:9.2f}")
    print(f"  {'raw xxh3_128 of the buffer':28s} {raw:9.2f}")
    print(f"  {'fingerprint(), strided view':28s} {half:9.2f}")


def cache_key_cost(runs: int, calls: int) -> None:
    @task(cache_policy=INPUTS)
    def add(x: int, y: int) -> int:
        return x + y

    from orchestrate_nb.core.states import Pending
    from orchestrate_nb.engine.records import TaskRun

    run = TaskRun("id", "add-0", "add", add.task_key, None, (), -1, {}, Pending())
    params = {"x": 1, "y": 2}
    add(1, 2)
    cache = TaskRunCache(add, run, params, None)
    rows = [("key (TaskRunCache init)", median_of(
                runs, per_call_us(lambda: TaskRunCache(add, run, params, None), calls))),
            ("lookup (open, read, load)", median_of(runs, per_call_us(cache.lookup, calls)))]
    print("\nWhere a small hit's time goes (µs, median)")
    for label, value in rows:
        print(f"  {label:28s} {value:9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer calls")
    args = parser.parse_args()
    logging.getLogger("orchestrate_nb").setLevel(logging.WARNING)
    calls = 2000 if args.quick else 20000
    print(f"bench_cache: {args.runs} runs per figure, home {HOME}")
    small_hit(args.runs, calls)
    cache_key_cost(args.runs, calls)
    large_restore(args.runs, 10 if args.quick else 100)
    fingerprint_speed(args.runs, 64 if args.quick else 1024)


if __name__ == "__main__":
    main()
