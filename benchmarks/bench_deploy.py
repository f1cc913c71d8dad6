"""Deployments: worker overhead over bare papermill, and how soon a due run is picked up.

Prints medians of ``--runs`` measurements (default 5, after one discarded warm-up), with the
baseline measured in the same run, interleaved with ours:

- overhead: the same small notebook (a parameters cell, ``%load_ext orchestrate_nb``, two
  trivial ``%%task`` cells). Baseline: wall time of ``python -m papermill in.ipynb
  out.ipynb -p n 3``. Ours: wall time from launching ``orchestrate-nb deployment run NAME``
  until the run is COMPLETED (the SQLite store polled with ``sqlite3`` every 20 ms), with
  ``orchestrate-nb worker start --run-once`` launched as soon as the trigger returns.
  Target: ≤ 1.10× the baseline.
  This is the cold path: a worker process is started for each run.
- a scheduled run on a long-running ``orchestrate-nb worker start`` (warmed up by one run):
  a run is created due 1 s ahead (``trigger_deployment(now=...)``); pickup latency is its
  ``scheduled_time`` → the RUNNING state's timestamp (``run_states``), and → the PENDING
  claim's (target: ≤ 1 s); its orchestrated wall time is ``scheduled_time`` → COMPLETED,
  against the same bare papermill baseline (target: ≤ 1.10×), and against a second,
  stricter one, interleaved: ``papermill.execute_notebook`` called in this already-warm
  process (no imports counted: a kernel start and the cells).

Everything runs in a temporary ORCHESTRATE_NB_HOME; every process started is stopped.

    python benchmarks/bench_deploy.py [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import (
    SCRUBBED_ENV,
    fmt,
    load_average,
    machine_summary,
    print_load_note,
    print_table,
    progress,
    stop_process_group,
    temp_home,
)

UTC = dt.timezone.utc
POLL_S = 0.02
WAIT_S = 120.0
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
OVERHEAD_TARGET = 1.10
PICKUP_TARGET_S = 1.0
LEAD_S = 1.0  # a pickup run is created due this far ahead
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CELLS = ("%%task load\ndata = list(range(n))", "%%task total\ntotal = sum(data)")


def write_notebook(path: Path) -> Path:
    """A parameters cell, ``%load_ext orchestrate_nb``, two trivial ``%%task`` cells."""
    sources = [("n = 3\n", ["parameters"]), ("%load_ext orchestrate_nb", [])]
    sources += [(cell, []) for cell in CELLS]
    notebook = {
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {"tags": tags},
                   "source": source, "outputs": [], "execution_count": None}
                  for i, (source, tags) in enumerate(sources)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))
    return path


def make_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env["ORCHESTRATE_NB_HOME"] = str(home)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrate_nb.cli.app", *args]


def spawn(argv: list[str], env: dict[str, str], cwd: Path,
          log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def finish(proc: subprocess.Popen[bytes], timeout: float = WAIT_S) -> int:
    """Wait for ``proc``, then stop whatever its session left behind (kernels)."""
    try:
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stop_process_group(proc.pid)


def parse_ts(text: str) -> float:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class Store:
    """Raw ``sqlite3`` reads of the run store (autocommit: each read sees the latest)."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(str(path), timeout=10, isolation_level=None)

    def state(self, run_id: str) -> str | None:
        row = self.conn.execute("SELECT state_type FROM flow_runs WHERE id = ?",
                                (run_id,)).fetchone()
        return row[0] if row else None

    def wait_state(self, run_id: str, wanted: tuple[str, ...]) -> tuple[str, float]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            state = self.state(run_id)
            if state in wanted:
                return state, time.time()
            time.sleep(POLL_S)
        raise RuntimeError(f"run {run_id} not in {wanted} after {WAIT_S:.0f} s")

    def history(self, run_id: str) -> dict[str, float]:
        """The first timestamp of each state the run entered (epoch seconds)."""
        rows = self.conn.execute(
            "SELECT type, timestamp FROM run_states WHERE flow_run_id = ? AND task_run_id "
            "IS NULL ORDER BY id", (run_id,)).fetchall()
        found: dict[str, float] = {}
        for kind, stamp in rows:
            found.setdefault(kind, parse_ts(stamp))
        return found

    def scheduled_time(self, run_id: str) -> float:
        row = self.conn.execute("SELECT scheduled_time FROM flow_runs WHERE id = ?",
                                (run_id,)).fetchone()
        return parse_ts(row[0])

    def latest_run(self) -> str:
        return self.conn.execute("SELECT id FROM flow_runs WHERE deployment_id IS NOT NULL "
                                 "ORDER BY created DESC LIMIT 1").fetchone()[0]

    def close(self) -> None:
        self.conn.close()


# --- 1. overhead over bare papermill -------------------------------------------------------


def bare_papermill(notebook: Path, env: dict[str, str], log: Path) -> float:
    out = notebook.with_name("out.ipynb")
    argv = [sys.executable, "-m", "papermill", str(notebook), str(out), "-p", "n", "3",
            "-k", "python3", "--cwd", str(notebook.parent), "--no-progress-bar"]
    began = time.perf_counter()
    code = finish(spawn(argv, env, notebook.parent, log))
    wall = time.perf_counter() - began
    if code != 0:
        raise RuntimeError(f"papermill exited {code}; see {log}")
    return wall


def orchestrated(name: str, store: Store, env: dict[str, str], cwd: Path,
                 log: Path) -> dict[str, float]:
    """Trigger with the CLI, start a --run-once worker, poll until the run's final state."""
    began = time.perf_counter()
    trigger = subprocess.run(cli("deployment", "run", name), env=env, cwd=cwd,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             start_new_session=True, timeout=WAIT_S)
    triggered = time.perf_counter()
    if trigger.returncode != 0:
        raise RuntimeError(f"deployment run exited {trigger.returncode}: {trigger.stderr}")
    worker = spawn(cli("worker", "start", "--run-once"), env, cwd, log)
    try:
        found = UUID.search(trigger.stdout.replace("\n", ""))
        run_id = found.group(0) if found else store.latest_run()
        state, _ = store.wait_state(run_id, FINAL)
        wall = time.perf_counter() - began
    finally:
        code = finish(worker)
    if state != "COMPLETED" or code != 0:
        raise RuntimeError(f"run {run_id} ended {state}, worker exited {code}; see {log}")
    states = store.history(run_id)
    return {
        "wall": wall,
        "trigger_cli": triggered - began,
        "to_claim": states["PENDING"] - states["SCHEDULED"],
        "child_start": states["RUNNING"] - states["PENDING"],
        "papermill": states["COMPLETED"] - states["RUNNING"],
    }


def measure_overhead(home: Path, runs: int) -> tuple[list[float], list[dict[str, float]]]:
    env, work = make_env(home), home / "work"
    work.mkdir(parents=True)
    notebook = write_notebook(work / "in.ipynb")
    subprocess.run(cli("deploy", str(notebook), "--name", "bench-nb"), env=env, cwd=work,
                   check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    store = Store(home / "orchestrate_nb.db")
    bare, ours = [], []
    try:
        for i in range(runs + 1):  # the first pair is a discarded warm-up
            one_bare = bare_papermill(notebook, env, home / "papermill.log")
            one_ours = orchestrated("bench-nb", store, env, work, home / "worker.log")
            if i:
                bare.append(one_bare)
                ours.append(one_ours)
            progress(f"overhead {'warm-up' if not i else f'{i}/{runs}'}: papermill "
                     f"{one_bare:.2f} s, ours {one_ours['wall']:.2f} s")
    finally:
        store.close()
    return bare, ours


# --- 2. pickup latency ---------------------------------------------------------------------


def measure_pickup(home: Path, runs: int) -> list[dict[str, float]]:
    os.environ["ORCHESTRATE_NB_HOME"] = str(home)
    for key in SCRUBBED_ENV:
        os.environ.pop(key, None)
    from orchestrate_nb.deploy.deployments import deploy_notebook, trigger_deployment

    env, work = make_env(home), home / "work"
    work.mkdir(parents=True)
    notebook = write_notebook(work / "in.ipynb")
    deploy_notebook(notebook, name="bench-pickup")
    store = Store(home / "orchestrate_nb.db")
    worker = spawn(cli("worker", "start"), env, work, home / "worker.log")
    results = []
    try:
        for i in range(runs + 1):  # the first run warms the worker up (discarded)
            due = dt.datetime.now(UTC) + dt.timedelta(seconds=LEAD_S)
            run_id = trigger_deployment("bench-pickup", now=due)
            if time.time() >= due.timestamp():
                raise RuntimeError("creating the run took longer than its lead time")
            state, _ = store.wait_state(run_id, FINAL)
            if state != "COMPLETED":
                raise RuntimeError(f"run {run_id} ended {state}; see {home / 'worker.log'}")
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited {worker.returncode}")
            states, scheduled = store.history(run_id), store.scheduled_time(run_id)
            one = {"to_pending": states["PENDING"] - scheduled,
                   "to_running": states["RUNNING"] - scheduled,
                   "to_completed": states["COMPLETED"] - scheduled,
                   "warm_papermill": warm_papermill(notebook)}
            if i:
                results.append(one)
            progress(f"scheduled {'warm-up' if not i else f'{i}/{runs}'}: claimed "
                     f"{one['to_pending']:.3f} s, running {one['to_running']:.3f} s, "
                     f"completed {one['to_completed']:.3f} s after due")
    finally:
        store.close()
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
        finish(worker, timeout=60)
    return results


def warm_papermill(notebook: Path) -> float:
    """The second baseline: ``papermill.execute_notebook`` in this (warm) process, so
    papermill's imports are not counted: a kernel start and the cells."""
    import papermill

    began = time.perf_counter()
    papermill.execute_notebook(str(notebook), str(notebook.with_name("warm.ipynb")),
                               parameters={"n": 3}, kernel_name="python3",
                               cwd=str(notebook.parent), progress_bar=False)
    return time.perf_counter() - began


# --- report --------------------------------------------------------------------------------


def verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    load_before = load_average()
    print(machine_summary())
    with temp_home() as home:
        bare, ours = measure_overhead(home / "overhead", args.runs)
        pickup = measure_pickup(home / "pickup", args.runs)

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    base, wall = statistics.median(bare), med(ours, "wall")
    ratio = wall / base
    pending, running = med(pickup, "to_pending"), med(pickup, "to_running")
    served = med(pickup, "to_completed")
    warm = med(pickup, "warm_papermill")
    print(f"\nMedians of {args.runs} runs (after one warm-up each), baselines interleaved.")
    print_table(
        ["metric", "ours", "baseline", "target", "ok?"],
        [["scheduled run, running worker: due → COMPLETED", fmt(served, 2, " s"),
          fmt(base, 2, " s"), "", ""],
         ["  overhead ratio vs bare papermill", fmt(served / base, 2, "×"), "1.00×",
          f"≤ {OVERHEAD_TARGET:.2f}×", verdict(served / base, OVERHEAD_TARGET)],
         ["  vs papermill.execute_notebook in a warm process", fmt(served / warm, 2, "×"),
          fmt(warm, 2, " s"), "", ""],
         ["cold: `deployment run` + `worker start --run-once` → COMPLETED",
          fmt(wall, 2, " s"), fmt(base, 2, " s"), "", ""],
         ["  overhead ratio vs bare papermill", fmt(ratio, 2, "×"), "1.00×",
          f"≤ {OVERHEAD_TARGET:.2f}×", verdict(ratio, OVERHEAD_TARGET)],
         ["pickup: scheduled_time → RUNNING", fmt(running, 3, " s"), "—",
          f"≤ {PICKUP_TARGET_S:.0f} s", verdict(running, PICKUP_TARGET_S)],
         ["pickup: scheduled_time → PENDING claim", fmt(pending, 3, " s"), "—",
          f"≤ {PICKUP_TARGET_S:.0f} s", verdict(pending, PICKUP_TARGET_S)]])
    print("\nWhere the orchestrated run's time goes (medians; run_states timestamps; the CLI "
          "step overlaps the next, as SCHEDULED is written before the CLI exits):")
    print_table(
        ["step (cold path)", "median"],
        [["`deployment run` CLI process (launch → exit)", fmt(med(ours, "trigger_cli"), 3, " s")],
         ["SCHEDULED → PENDING (worker start + claim)", fmt(med(ours, "to_claim"), 3, " s")],
         ["PENDING → RUNNING (run process start)", fmt(med(ours, "child_start"), 3, " s")],
         ["RUNNING → COMPLETED (papermill in the child)", fmt(med(ours, "papermill"), 3, " s")],
         ["bare papermill subprocess (baseline)", fmt(base, 3, " s")]])
    print()
    print_load_note(load_before)


if __name__ == "__main__":
    main()
