"""Load on the standalone server (issue 16): ``orchestrate-nb server start`` over a store of
100,000 flow runs.

    .venv/bin/python benchmarks/bench_server_load.py [--runs 100000] [--clients 50]
        [--seconds 30] [--webhooks 200] [--postgres]

Figures printed (targets in brackets):

1. ``--clients`` concurrent HTTP clients (one asyncio process, httpx, keep-alive) for
   ``--seconds``, each alternating ``GET runs?limit=50`` (a random filter one time in four)
   and ``GET runs/{id}/logs`` of a random run: requests/s, p50 and p99 latency, errors [0];
2. webhook delivery to run created: ``--webhooks`` POSTs to a webhook of a notebook
   deployment, one at a time; the answer is sent after the run's row is committed, so the
   POST's latency is the time to a created run [p99 ≤ 100 ms]; each one is then checked to
   exist in the store;
3. ``GET /metrics`` over the same store, median of 5 scrapes;
4. the server's RSS idle (after its first answers) and the peak while under load, and the
   server's CPU time per request (a figure that does not depend on what else the machine
   runs, unlike requests/s and latency; the load average is printed beside them).

Run on SQLite always, and on PostgreSQL too with ``--postgres`` (needs
ORCHESTRATE_NB_TEST_POSTGRES_URL). Nothing is asserted: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_server import (  # noqa: E402  (a sibling script)
    POSTGRES_ENV,
    bench_env,
    free_port,
    percentile,
    populate,
    postgres_store,
    sqlite_store,
)

NOTEBOOK = {
    "cells": [{"cell_type": "code", "id": "p", "metadata": {"tags": ["parameters"]},
               "source": "n = 3\n", "outputs": [], "execution_count": None},
              {"cell_type": "code", "id": "b", "metadata": {}, "source": "print(n)",
               "outputs": [], "execution_count": None}],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Server:
    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestrate_nb.cli.app", "server", "start", "--port",
             str(self.port), "--token", self.token, "--root-dir", str(root)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        import httpx

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base}/orchestrate/api/meta", timeout=2,
                          headers={"Authorization": f"token {self.token}"})
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("the server did not answer")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


async def load(base: str, token: str, clients: int, seconds: float,
               run_ids: list[str]) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    filters = ["", "&state=FAILED", "&deployment=report-1", "&q=run-4"]
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60,
                                 headers={"Authorization": f"token {token}"}) as client:
        async def one(seed: int) -> None:
            rng = random.Random(seed)
            turn = 0
            while time.monotonic() < deadline:
                if turn % 2 == 0:
                    path = "/orchestrate/api/runs?limit=50" + (
                        rng.choice(filters) if rng.random() < 0.25 else "")
                else:
                    path = f"/orchestrate/api/runs/{rng.choice(run_ids)}/logs"
                turn += 1
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {path}")
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__} {path}")
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(one(seed) for seed in range(clients)))
        elapsed = time.perf_counter() - began
    return {"requests": len(latencies), "rps": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 0.5) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000, "errors": len(errors),
            "first_errors": errors[:3]}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sample_rss(pid: int, stop: threading.Event, peak: list[float]) -> None:
    while not stop.is_set():
        try:
            peak.append(rss_mb(pid))
        except OSError:
            return
        stop.wait(0.25)


def bench_store(label: str, url: str, home: Path, args: argparse.Namespace) -> None:
    import httpx

    print(f"[{label}] load average at start (other processes on this machine): "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    started = time.perf_counter()
    populate(url, home, args.runs)
    print(f"[{label}] {args.runs:,} runs written in {time.perf_counter() - started:.1f} s",
          flush=True)
    env = bench_env(home, url)
    root = home / "root"
    root.mkdir(exist_ok=True)
    (root / "hook.ipynb").write_text(json.dumps(NOTEBOOK))
    cli = [sys.executable, "-m", "orchestrate_nb.cli.app"]
    subprocess.run([*cli, "deploy", str(root / "hook.ipynb"), "--name", "hook"], env=env,
                   check=True, capture_output=True)
    server = Server(env, root)
    try:
        made = subprocess.run([*cli, "deployment", "webhook", "hook", "--map",
                               "n={{body.n}}", "--base-url", server.base], env=env,
                              check=True, capture_output=True, text=True)
        hook_url = made.stdout.strip()
        auth = {"Authorization": f"token {server.token}"}
        with httpx.Client(base_url=server.base, headers=auth, timeout=60) as client:
            pages = client.get("/orchestrate/api/runs", params={"limit": 500}).json()["runs"]
            run_ids = [run["id"] for run in pages]
            for _ in range(3):
                client.get("/orchestrate/api/runs")
            idle = rss_mb(server.process.pid)
            stop, peak = threading.Event(), [idle]
            sampler = threading.Thread(target=sample_rss, args=(server.process.pid, stop, peak))
            sampler.start()
            cpu_before = cpu_seconds(server.process.pid)
            figures = asyncio.run(load(server.base, server.token, args.clients, args.seconds,
                                       run_ids))
            cpu_used = cpu_seconds(server.process.pid) - cpu_before
            stop.set()
            sampler.join()
            print(f"[{label}] {args.clients} clients × {args.seconds:.0f} s: "
                  f"{figures['rps']:.0f} requests/s ({figures['requests']:,}), p50 "
                  f"{figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, errors "
                  f"{figures['errors']} {figures['first_errors'] or ''}", flush=True)
            print(f"[{label}] server CPU per request: "
                  f"{cpu_used / max(1, figures['requests']) * 1000:.1f} ms "
                  f"({cpu_used:.1f} CPU s in {args.seconds:.0f} s: the rest of the wall time "
                  "is waiting for a core on a loaded machine)", flush=True)
            print(f"[{label}] server RSS: idle {idle:.0f} MB, peak under load "
                  f"{max(peak):.0f} MB", flush=True)

            latencies, created = [], []
            # TCP_NODELAY, as webhook senders' HTTP stacks set it: without it, the POST's body
            # segment waits for the server's delayed ACK of the headers (~40 ms, a client
            # artefact, not the server's time)
            nodelay = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP,
                                                           socket.TCP_NODELAY, 1)])
            with httpx.Client(timeout=60, transport=nodelay) as hooks:
                for index in range(args.webhooks):
                    began = time.perf_counter()
                    answer = hooks.post(hook_url, json={"n": index},
                                        headers={"X-Delivery-Id": f"bench-{index}"})
                    latencies.append(time.perf_counter() - began)
                    assert answer.status_code == 201, answer.text
                    created.append(answer.json()["run_id"])
            missing = sum(client.get(f"/orchestrate/api/runs/{run_id}").status_code != 200
                          for run_id in created[-20:])
            print(f"[{label}] webhook → run created ({args.webhooks} deliveries): p50 "
                  f"{percentile(latencies, 0.5) * 1000:.1f} ms, p99 "
                  f"{percentile(latencies, 0.99) * 1000:.1f} ms (target ≤ 100 ms); "
                  f"{missing} of the last 20 runs missing", flush=True)
            scrapes = []
            for _ in range(5):
                began = time.perf_counter()
                client.get("/metrics").raise_for_status()
                scrapes.append(time.perf_counter() - began)
            print(f"[{label}] GET /metrics: median {statistics.median(scrapes) * 1000:.0f} ms",
                  flush=True)
    finally:
        server.stop()
    print(f"[{label}] load average at the end: {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--webhooks", type=int, default=200)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "sqlite"
        home.mkdir()
        os.environ["ORCHESTRATE_NB_HOME"] = str(home)
        with sqlite_store(home) as url:
            bench_store("sqlite", url, home, args)
        if args.postgres:
            base = os.environ.get(POSTGRES_ENV)
            if not base:
                print(f"[postgresql] skipped: set {POSTGRES_ENV}")
                return
            home = Path(folder) / "postgres"
            home.mkdir()
            os.environ["ORCHESTRATE_NB_HOME"] = str(home)
            with postgres_store(base) as url:
                bench_store("postgresql", url, home, args)


if __name__ == "__main__":
    main()
