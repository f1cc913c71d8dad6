"""Alerts: the cost of evaluating them per finished run, and delivery latency.

Targets (issue 14): evaluating alerts per finished run ≤ 1 ms with 1,000 alerts defined;
delivery from the state change to the receiver ≤ 2 s for a flow failure, ≤ the reaper's
interval (the worker's maintenance pass, 1 s) + 2 s for a crash.

Prints medians, each beside its baseline measured in the same run:
- evaluation: reading the run, refreshing the cached alert index (as a worker does: the
  alerts' version is checked at most once a second) and matching, with 1,000 alerts and
  with none (the baseline); and the whole step that also builds the message;
- flow failure: the flow's final state (its end time in the store) to the receiver's
  receipt, for a local flow run sent by the process that ran it;
- crash: a deployment run's owner process killed, to the receiver's receipt, with a worker
  running (its reaper finds the crash, its alert pass sends).

    python benchmarks/bench_alerts.py [--runs 5] [--alerts 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

UTC = dt.timezone.utc


class Receiver:
    def __init__(self) -> None:
        self.received: list[float] = []
        me = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                me.received.append(time.time())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait(self, count: int, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        if len(self.received) < count:
            raise RuntimeError("the receiver got nothing")
        return self.received[count - 1]


def median_us(function: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def failing_flow() -> Any:
    from orchestrate_nb import flow, task

    @task
    def load() -> None:
        raise ValueError("boom")

    @flow
    def bench_alerts_flow(n: int = 1) -> None:
        load()

    return bench_alerts_flow


def evaluation(alert_count: int, repeat: int) -> tuple[float, float, float]:
    """(µs per run with no alerts, with ``alert_count``, whole step with message)."""
    from sqlalchemy import insert

    from orchestrate_nb.alerts.evaluate import AlertIndex, matching_alerts, run_deliveries
    from orchestrate_nb.alerts.facts import read_runs
    from orchestrate_nb.store.handles import shared_database
    from orchestrate_nb.store.orm import Alert

    database = shared_database()
    with database.read() as conn:
        from sqlalchemy import text

        run_id = conn.execute(text("SELECT id FROM flow_runs LIMIT 1")).scalar()
    index = AlertIndex()

    def evaluate() -> None:
        with database.read() as conn:
            matching_alerts(index.refresh(conn), read_runs(conn, [run_id])[0])

    def evaluate_and_write_message() -> None:
        with database.read() as conn:
            run_deliveries(conn, index.refresh(conn), read_runs(conn, [run_id]))

    baseline = median_us(evaluate, repeat)
    now = dt.datetime.now(UTC)
    with database.write() as conn:
        conn.execute(insert(Alert), [{
            "name": f"alert-{i}", "events": ["failed", "crashed"] if i % 2 else ["late"],
            "deployment": None, "flow": f"flow-{i % 97}" if i % 3 else None,
            "tag": f"tag-{i % 13}" if i % 3 == 0 and i else None,
            "no_success_for_seconds": None, "notify": ["slack-webhook/bench"],
            "created": now, "updated": now} for i in range(alert_count)])
    loaded = median_us(evaluate, repeat)
    whole = median_us(evaluate_and_write_message, repeat)
    with database.write() as conn:
        conn.execute(Alert.__table__.delete())
    return baseline, loaded, whole


def flow_failure_latency(receiver: Receiver, runs: int) -> list[float]:
    from sqlalchemy import text

    from orchestrate_nb.alerts import create_alert
    from orchestrate_nb.store.handles import shared_database

    create_alert("bench-failed", ["failed"], notify=["slack-webhook/bench"],
                 flow="bench-alerts-flow")
    flow = failing_flow()
    latencies = []
    for i in range(runs):
        try:
            flow(n=i)
        except ValueError:
            pass
        received = receiver.wait(len(receiver.received) + 1)
        with shared_database().read() as conn:
            end = conn.execute(text("SELECT end_time FROM flow_runs ORDER BY created DESC "
                                    "LIMIT 1")).scalar()
        end_time = end if isinstance(end, dt.datetime) else dt.datetime.fromisoformat(end)
        latencies.append(received - end_time.replace(tzinfo=UTC).timestamp())
    return latencies


def crash_latency(receiver: Receiver, runs: int, workdir: str) -> list[float]:
    from orchestrate_nb.alerts import create_alert
    from orchestrate_nb.deploy.deployments import deploy_notebook, trigger_deployment
    from orchestrate_nb.deploy.worker import Worker
    from orchestrate_nb.processes import ProcessIdentity, _hostname, process_start_token
    from orchestrate_nb.store import claims
    from orchestrate_nb.store.handles import shared_database

    notebook = os.path.join(workdir, "crash.ipynb")
    with open(notebook, "w") as handle:
        handle.write('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    deploy_notebook(notebook, name="crashy")
    create_alert("bench-crashed", ["crashed"], notify=["slack-webhook/bench"],
                 deployment="crashy")
    database = shared_database()
    stop = threading.Event()
    worker = Worker(database, pool="nobody")  # runs maintenance, claims nothing of ours
    thread = threading.Thread(target=worker.run_forever, kwargs={"stop_event": stop},
                              daemon=True)
    thread.start()
    latencies = []
    try:
        for _ in range(runs):
            owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            time.sleep(0.2)
            identity = ProcessIdentity(_hostname(), owner.pid,
                                       process_start_token(owner.pid) or "")
            run_id = trigger_deployment("crashy")
            now = dt.datetime.now(UTC)
            with database.write() as conn:
                claims.set_state(conn, run_id, "RUNNING", "Running", None, now,
                                 only_from=("SCHEDULED",), owner_host=identity.host,
                                 owner_pid=identity.pid, owner_token=identity.token,
                                 heartbeat=now)
            count = len(receiver.received)
            owner.kill()
            killed = time.time()
            owner.wait()
            latencies.append(receiver.wait(count + 1) - killed)
    finally:
        stop.set()
        thread.join(30)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--alerts", type=int, default=1000)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench-alerts-")
    os.environ["ORCHESTRATE_NB_HOME"] = os.path.join(workdir, "home")
    os.environ["ORCHESTRATE_NB_SECRET_KEY_FILE"] = os.path.join(workdir, "secret.key")
    os.environ.pop("ORCHESTRATE_NB_DATABASE_URL", None)
    import logging

    logging.getLogger("orchestrate_nb").setLevel(logging.CRITICAL)
    from orchestrate_nb.blocks import SlackWebhook

    receiver = Receiver()
    SlackWebhook(url=receiver.url).save("bench")
    try:
        failing_flow()()
    except ValueError:
        pass
    baseline, loaded, whole = evaluation(args.alerts, repeat=200)
    print(f"alert evaluation per finished run (median of 200, target ≤ 1000 µs with "
          f"{args.alerts:,} alerts):")
    print(f"  no alerts (baseline)       {baseline:8.0f} µs")
    print(f"  {args.alerts:,} alerts               {loaded:8.0f} µs")
    print(f"  {args.alerts:,} alerts + message     {whole:8.0f} µs")
    failure = flow_failure_latency(receiver, args.runs)
    print(f"flow failure → receiver (median of {args.runs}, target ≤ 2 s): "
          f"{statistics.median(failure):.3f} s (max {max(failure):.3f} s)")
    crash = crash_latency(receiver, max(3, args.runs // 2), workdir)
    print(f"crash (owner killed) → receiver, worker polling every 0.25 s, maintenance every "
          f"1 s (median of {len(crash)}, target ≤ 1 + 2 s): {statistics.median(crash):.3f} s "
          f"(max {max(crash):.3f} s)")


if __name__ == "__main__":
    main()
