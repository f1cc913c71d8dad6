"""What the live run-graph widget costs, measured in a real ipykernel driven the way a
notebook front end drives it (jupyter_client: execute requests, iopub read to idle).

Figures (medians of ``--runs`` interleaved pairs, after one warm-up pair):

- **overhead %** — wall time of a 1,000-task flow call with the widget shown vs the same
  call with ``RunGraphWidget.show_on_flow_call = False``, timed inside the kernel around the
  call (so it includes creating and displaying the widget, every live update and the final
  one with its static SVG). Target ≤ 5 %.
- **frontend messages / s** — iopub messages that carry the graph (comm messages of the
  widget, its display and the final display update), counted by the client for a 10,000-task
  mapped flow; the most in any 1-second window of the kernel's send times, and the mean over
  the run. Target ≤ 10.

Usage: ``python benchmarks/bench_widget.py [--runs 5] [--store] [--json out.json]``.
``--store`` keeps the default SQLite run store on (without it the store is off, which makes
the engine faster and so the widget's share larger: the stricter measurement).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import start_new_kernel

SETUP = """
import time
from IPython import get_ipython
from orchestrate_nb import flow, task
from orchestrate_nb.notebook.graph.live import RunGraphWidget

@task
def inc(x):
    return x + 1

@task
def work(x):
    time.sleep(0.001)
    return x

@task
def light(x):
    end = time.perf_counter() + 0.0001
    while time.perf_counter() < end:
        pass
    return x

@flow
def sequential(n):
    x = 0
    for _ in range(n):
        x = inc(x)
    return x

@flow
def sequential_work(n):
    for i in range(n):
        work(i)

@flow
def sequential_light(n):
    for i in range(n):
        light(i)

@flow
def mapped(n):
    inc.map(range(n))

@flow
def mapped_work(n):
    work.map(range(n))

_settings = RunGraphWidget.for_shell(get_ipython())
_times = []

def timed(flow_fn, n, widget):
    _settings.show_on_flow_call = widget
    started = time.perf_counter()
    flow_fn(n)
    _times.append(time.perf_counter() - started)
"""

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
OVERHEAD_WORKLOADS = [("sequential", 1_000, "1,000 sequential trivial tasks"),
                      ("mapped", 1_000, "1,000 mapped trivial tasks"),
                      ("sequential_light", 1_000, "1,000 sequential tasks of 0.1 ms"),
                      ("sequential_work", 1_000, "1,000 sequential tasks of 1 ms")]
RATE_WORKLOADS = [("mapped", 10_000, "10,000 mapped trivial tasks"),
                  ("mapped_work", 10_000, "10,000 mapped tasks of 1 ms")]


@dataclass
class CellMessages:
    graph_messages: list[dt.datetime] = field(default_factory=list)


class Kernel:
    def __init__(self, store: bool) -> None:
        self.home = tempfile.mkdtemp(prefix="bench-widget-")
        env = {**os.environ, "ORCHESTRATE_NB_HOME": self.home,
               "ORCHESTRATE_NB_STORE": "1" if store else "0",
               "ORCHESTRATE_NB_LOGGING_LEVEL": "WARNING"}
        self.manager, self.client = start_new_kernel(kernel_name="python3", env=env)
        self.widget_comms: set[str] = set()

    def run(self, code: str) -> CellMessages:
        """Execute like a front end; collect the graph's messages until the kernel is idle."""
        msg_id = self.client.execute(code)
        cell = CellMessages()
        while True:
            msg = self.client.get_iopub_msg(timeout=600)
            if msg["parent_header"].get("msg_id") != msg_id and msg["msg_type"] != "comm_msg":
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "error":
                raise RuntimeError("\n".join(content["traceback"]))
            if self._is_graph_message(kind, content):
                cell.graph_messages.append(_date(msg))
        return cell

    def _is_graph_message(self, kind: str, content: dict[str, Any]) -> bool:
        if kind == "comm_open":
            state = content.get("data", {}).get("state", {})
            if state.get("_anywidget_id", "").endswith("RunGraph"):
                self.widget_comms.add(content["comm_id"])
                return True
            return False
        if kind == "comm_msg":
            return content.get("comm_id") in self.widget_comms
        return kind in ("display_data", "update_display_data") and WIDGET_MIME in content.get(
            "data", {})

    def times(self) -> list[float]:
        cell_id = self.client.execute("print(repr(_times)); _times.clear()")
        while True:
            msg = self.client.get_iopub_msg(timeout=60)
            if msg["parent_header"].get("msg_id") != cell_id:
                continue
            if msg["msg_type"] == "stream":
                return list(eval(msg["content"]["text"]))  # a list of floats we printed
            if msg["msg_type"] == "error":
                raise RuntimeError("\n".join(msg["content"]["traceback"]))

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def _date(msg: dict[str, Any]) -> dt.datetime:
    date = msg["header"]["date"]
    return date if isinstance(date, dt.datetime) else dt.datetime.fromisoformat(str(date))


def measure_overhead(kernel: Kernel, flow: str, n: int, runs: int) -> dict[str, Any]:
    for widget in (True, False):  # warm-up: imports, first widget, caches
        kernel.run(f"timed({flow}, {n}, {widget})")
    kernel.times()
    for _ in range(runs):
        kernel.run(f"timed({flow}, {n}, True)")
        kernel.run(f"timed({flow}, {n}, False)")
    times = kernel.times()
    shown, hidden = statistics.median(times[0::2]), statistics.median(times[1::2])
    return {"with_ms": 1000 * shown, "without_ms": 1000 * hidden,
            "overhead_pct": 100 * (shown - hidden) / hidden}


def max_per_window(stamps: list[dt.datetime], window: float = 1.0) -> int:
    seconds = sorted(s.timestamp() for s in stamps)
    return max((sum(1 for t in seconds if start <= t < start + window) for start in seconds),
               default=0)


def measure_rate(kernel: Kernel, flow: str, n: int, runs: int) -> dict[str, Any]:
    kernel.run(f"timed({flow}, {n}, True)")  # warm-up
    peaks, means, counts = [], [], []
    for _ in range(runs):
        cell = kernel.run(f"timed({flow}, {n}, True)")
        stamps = cell.graph_messages
        span = (max(stamps) - min(stamps)).total_seconds() if len(stamps) > 1 else 0.0
        peaks.append(max_per_window(stamps))
        counts.append(len(stamps))
        means.append(len(stamps) / max(span, 1.0))
    times = kernel.times()[1:]
    return {"flow_s": statistics.median(times), "messages": statistics.median(counts),
            "max_per_s": max(peaks), "mean_per_s": statistics.median(means)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--store", action="store_true", help="keep the SQLite run store on")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    kernel = Kernel(store=args.store)
    results: dict[str, Any] = {"runs": args.runs, "store": args.store, "load_before":
                               os.getloadavg()[0], "overhead": {}, "rate": {}}
    try:
        kernel.run(SETUP)
        print(f"run-graph widget, real ipykernel, store {'on' if args.store else 'off'}, "
              f"medians of {args.runs} interleaved runs")
        print(f"{'workload':<34} {'without':>10} {'with':>10} {'overhead':>9}  target")
        for flow, n, label in OVERHEAD_WORKLOADS:
            r = results["overhead"][label] = measure_overhead(kernel, flow, n, args.runs)
            print(f"{label:<34} {r['without_ms']:>8.1f}ms {r['with_ms']:>8.1f}ms "
                  f"{r['overhead_pct']:>8.1f}%  ≤ 5%")
        print(f"\n{'workload':<34} {'flow':>8} {'messages':>9} {'max/s':>6} {'mean/s':>7}  target")
        for flow, n, label in RATE_WORKLOADS:
            r = results["rate"][label] = measure_rate(kernel, flow, n, args.runs)
            print(f"{label:<34} {r['flow_s']:>7.2f}s {r['messages']:>9.0f} "
                  f"{r['max_per_s']:>6} {r['mean_per_s']:>7.1f}  ≤ 10 / s")
    finally:
        kernel.stop()
    results["load_after"] = os.getloadavg()[0]
    print(f"\nload average (1 min): {results['load_before']:.2f} before, "
          f"{results['load_after']:.2f} after, on {os.cpu_count()} CPUs")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
