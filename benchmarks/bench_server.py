"""The server extension's costs (issue 13): list latency, event-loop stalls, start time.

    .venv/bin/python benchmarks/bench_server.py [--runs 100000] [--requests 60] [--starts 5]

Figures printed (targets in brackets):

1. ``GET /orchestrate/api/runs`` p50/p95 over HTTP, against a real Jupyter server process,
   with ``--runs`` flow runs in the store, unfiltered and filtered, on SQLite and (when
   ORCHESTRATE_NB_TEST_POSTGRES_URL is set) PostgreSQL [p95 ≤ 50 ms];
2. the longest event-loop stall in a Jupyter server, measured by a loop-lag probe (a
   coroutine that sleeps 5 ms and records how late it wakes) while 4 worker-like processes
   run flows that write to the store and a client process calls our API; beside the same
   probe while the client calls Jupyter's own ``/api/status`` (the baseline) [≤ 20 ms];
3. the time from starting ``jupyter server`` to its first answer, with and without the
   extension, alternating, median of ``--starts`` each [extension adds ≤ 100 ms].

Nothing here is asserted: it prints figures (medians; baselines measured in the same run).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
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
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

UTC = dt.timezone.utc
POSTGRES_ENV = "ORCHESTRATE_NB_TEST_POSTGRES_URL"
ENABLE = '--ServerApp.jpserver_extensions={"orchestrate_nb.server": True}'
DISABLE = '--ServerApp.jpserver_extensions={"orchestrate_nb.server": False}'

WRITER = """
import sys, time
from orchestrate_nb import flow, task, get_run_logger

@task
def step(i: int) -> int:
    get_run_logger().info("step %d", i)
    return i

@flow
def busy_writer(n: int) -> int:
    return sum(f.result() for f in step.map(range(n)))

deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    busy_writer(20)
"""

CLIENT = """
import json, sys, time, urllib.request
base, token, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
paths = json.loads(sys.argv[4])
deadline = time.monotonic() + duration
count = 0
while time.monotonic() < deadline:
    for path in paths:
        request = urllib.request.Request(base + path, headers={"Authorization": "token " + token})
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        count += 1
print(json.dumps({"requests": count}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- stores --------------------------------------------------------------------------------
@contextmanager
def sqlite_store(home: Path) -> Iterator[str]:
    yield f"sqlite:///{home / 'orchestrate_nb.db'}"


@contextmanager
def postgres_store(base: str) -> Iterator[str]:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"onb_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def populate(url: str, home: Path, count: int) -> dict[str, Any]:
    """``count`` flow runs (10% notebook sessions, 30% of deployments, 5% tagged), a few
    task runs each for one run in ten, written in bulk."""
    from sqlalchemy import insert, select

    from orchestrate_nb.settings import Settings, load_settings
    from orchestrate_nb.store.database import open_database
    from orchestrate_nb.store.deployments import save_deployment
    from orchestrate_nb.store.orm import Deployment, Flow, FlowRun, RunState, TaskRun

    settings = Settings(**{**load_settings().__dict__, "home": home, "database_url": url})
    database = open_database(settings)
    rng = random.Random(13)
    now = dt.datetime.now(UTC)
    states = (["COMPLETED"] * 80 + ["FAILED"] * 12 + ["CRASHED"] * 3 + ["CANCELLED"] * 3
              + ["RUNNING"] * 1 + ["PAUSED"] * 1)
    with database.write() as conn:
        for index in range(5):
            save_deployment(conn, {
                "name": f"report-{index}", "kind": "notebook",
                "entrypoint": f"/nb/report-{index}.ipynb", "flow_name": f"report-{index}",
                "parameters": {"n": index}, "pool": "default", "schedule_kind": "cron",
                "cron": "0 7 * * 1-5", "interval_seconds": None, "rrule": None,
                "timezone": "UTC", "anchor": None, "paused": False, "catchup": "latest",
                "retries": 0, "retry_delay_seconds": 0.0, "timeout_seconds": None,
                "tags": None}, now)
        for index in range(20):
            if conn.execute(select(Flow.id).where(Flow.name == f"flow-{index}")).first() is None:
                conn.execute(insert(Flow).values(name=f"flow-{index}", created=now))
        flows = dict(conn.execute(select(Flow.name, Flow.id)).all())
        deployments = list(conn.execute(select(Deployment.id, Deployment.flow_name)).all())
    sample: dict[str, Any] = {}
    batch = 5000
    for start in range(0, count, batch):
        runs, states_rows, tasks = [], [], []
        for index in range(start, min(start + batch, count)):
            created = now - dt.timedelta(seconds=(count - index) * 2)
            run_id = str(uuid.UUID(int=rng.getrandbits(128)))
            state = rng.choice(states)
            deployment = deployments[index % 5] if index % 10 < 3 else None
            session = index % 10 == 9
            flow_name = deployment.flow_name if deployment else (
                "analysis.ipynb" if session else f"flow-{index % 20}")
            if flow_name not in flows:
                flows[flow_name] = _flow_id(database, flow_name, now)
            tags = ["notebook-session"] if session else (["nightly"] if index % 20 == 0 else None)
            end = created + dt.timedelta(seconds=30) if state not in ("RUNNING", "PAUSED") else None
            runs.append({
                "id": run_id, "flow_id": flows[flow_name], "name": f"run-{index}",
                "tags": tags, "created": created, "state_type": state,
                "state_name": state.title(), "state_message": None, "start_time": created,
                "end_time": end, "run_count": 1, "parameters": {"n": index},
                "deployment_id": deployment.id if deployment else None,
                "pool": "default" if deployment else None, "attempt": 0})
            states_rows.append({"flow_run_id": run_id, "task_run_id": None, "type": state,
                                "name": state.title(), "message": None, "timestamp": created})
            if index % 10 == 0:
                for t in range(3):
                    tasks.append({"id": str(uuid.UUID(int=rng.getrandbits(128))),
                                  "flow_run_id": run_id, "task_name": f"step{t}",
                                  "task_key": f"bench.step{t}", "name": f"step{t}-0",
                                  "map_index": -1, "tags": None, "created": created,
                                  "state_type": "COMPLETED", "state_name": "Completed",
                                  "state_message": None, "start_time": created,
                                  "end_time": created, "run_count": 1})
            if index == count // 2:
                sample["middle"] = (created, run_id)
        with database.write() as conn:
            conn.execute(insert(FlowRun), runs)
            conn.execute(insert(RunState), states_rows)
            if tasks:
                conn.execute(insert(TaskRun), tasks)
    if database.dialect == "postgresql":
        with database.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    else:
        with database.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    database.dispose()
    return sample


def _flow_id(database: Any, name: str, now: dt.datetime) -> int:
    from sqlalchemy import insert, select

    from orchestrate_nb.store.orm import Flow

    with database.write() as conn:
        found = conn.execute(select(Flow.id).where(Flow.name == name)).scalar()
        if found is None:
            found = conn.execute(insert(Flow).values(name=name, created=now)
                                 .returning(Flow.id)).scalar_one()
    return int(found)


# -- a Jupyter server process ------------------------------------------------------------
class ServerProcess:
    def __init__(self, env: dict[str, str], root: Path, extension: bool = True) -> None:
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}/"
        argv = [sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1",
                f"--port={self.port}", f"--ServerApp.token={self.token}",
                f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
                ENABLE if extension else DISABLE]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_ready(self, path: str = "api/status", timeout: float = 60) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                self.get(path, timeout=1)
                return time.perf_counter() - self.started
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("jupyter server exited") from None
                time.sleep(0.005)
        raise RuntimeError("jupyter server did not answer in time")

    def get(self, path: str, timeout: float = 30) -> Any:
        request = urllib.request.Request(self.base + path,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def bench_env(home: Path, url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(ORCHESTRATE_NB_HOME=str(home), ORCHESTRATE_NB_DATABASE_URL=url,
               JUPYTER_RUNTIME_DIR=str(home / "runtime"))
    return env


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def list_latency(url: str, home: Path, count: int, requests: int) -> list[tuple[str, float, float]]:
    sample = populate(url, home, count)
    from orchestrate_nb.server.services import encode_cursor

    middle = encode_cursor(*sample["middle"])
    queries = {
        "unfiltered (first page)": {},
        "state=FAILED": {"state": "FAILED"},
        "state=PAUSED (rare)": {"state": "PAUSED"},
        "flow=flow-7": {"flow": "flow-7"},
        "deployment=report-2": {"deployment": "report-2"},
        "tag=nightly": {"tag": "nightly"},
        "q=run-4242": {"q": "run-4242"},
        "kind=sessions": {"kind": "sessions"},
        "page at 50,000 (before=)": {"before": middle},
        "since 1 day, limit 500": {"since": (dt.datetime.now(UTC) - dt.timedelta(days=1))
                                    .isoformat(), "limit": "500"},
    }
    server = ServerProcess(bench_env(home, url), home)
    try:
        server.wait_ready("orchestrate/api/meta")
        results = []
        for label, params in queries.items():
            path = "orchestrate/api/runs?" + urllib.parse.urlencode(params)
            server.get(path)  # warm
            timings = []
            for _ in range(requests):
                started = time.perf_counter()
                server.get(path)
                timings.append((time.perf_counter() - started) * 1000)
            results.append((label, statistics.median(timings), percentile(timings, 0.95)))
        return results
    finally:
        server.stop()


# -- event-loop stalls --------------------------------------------------------------------
def loop_stalls(url: str, home: Path, seconds: float) -> dict[str, dict[str, float]]:
    """Runs a Jupyter server in this process with a loop-lag probe; writers and the client
    are other processes. Two phases: the client calls /api/status, then our API."""
    os.environ.update(bench_env(home, url))
    from jupyter_server.serverapp import ServerApp

    port, token = free_port(), secrets.token_hex(16)
    app = ServerApp()
    app.initialize(argv=["--no-browser", "--ip=127.0.0.1", f"--port={port}",
                         f"--ServerApp.token={token}", f"--ServerApp.root_dir={home}",
                         "--ServerApp.allow_root=True", ENABLE])
    lags: dict[str, list[float]] = {}
    phase = {"name": "warm-up"}
    on_loop = _time_our_loop_work()
    results: dict[str, dict[str, float]] = {}

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(0.005)
            lags.setdefault(phase["name"], []).append((loop.time() - started - 0.005) * 1000)

    def drive() -> None:
        base = f"http://127.0.0.1:{port}/"
        try:
            _wait_http(base + "orchestrate/api/meta", token)
            seed = _get(base + "orchestrate/api/runs?kind=all&limit=1", token)
            run_id = seed["runs"][0]["id"] if seed["runs"] else "none"
            ours = [f"orchestrate/api/runs?limit={n}" for n in (50, 200)] + [
                "orchestrate/api/runs?state=COMPLETED", "orchestrate/api/status",
                "orchestrate/api/changes?cursor=0", "orchestrate/api/deployments",
                "orchestrate/api/workers", f"orchestrate/api/runs/{run_id}",
                f"orchestrate/api/runs/{run_id}/logs"]
            writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(seconds * 2 + 10)],
                                        env=dict(os.environ), stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL) for _ in range(4)]
            try:
                time.sleep(3)  # the writers are writing
                first_calls = "first calls (imports)"
                phase["name"] = first_calls
                for path in ours:
                    _get(base + path, token)
                results[first_calls] = _figures(len(ours), lags.get(first_calls, [0.0]))
                phase["name"] = "between"
                for name, paths in (("baseline: /api/status", ["api/status"]),
                                    ("our API", ours)):
                    phase["name"] = name
                    client = subprocess.run(
                        [sys.executable, "-c", CLIENT, base, token, str(seconds),
                         json.dumps(paths)], capture_output=True, text=True, timeout=600)
                    count = json.loads(client.stdout)["requests"]
                    phase["name"] = "between"
                    results[name] = _figures(count, lags.get(name, [0.0]))
            finally:
                for writer in writers:
                    writer.terminate()
                for writer in writers:
                    writer.wait()
        finally:
            app.io_loop.add_callback(app.stop)

    threading.Thread(target=drive, daemon=True).start()
    app.io_loop.add_callback(lambda: asyncio.ensure_future(probe()))
    app.start()
    results["our handlers' work on the loop (send)"] = _figures(len(on_loop), on_loop or [0.0])
    return results


def _time_our_loop_work() -> list[float]:
    """Time what our handlers do on the event loop thread itself once the store call and
    the serialisation (on the thread pool) are done: send the answer."""
    from orchestrate_nb.server import handlers

    spans: list[float] = []
    original = handlers.OrchestrateHandler.finish

    def timed_finish(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spans.append((time.perf_counter() - started) * 1000)

    handlers.OrchestrateHandler.finish = timed_finish  # type: ignore[method-assign]
    return spans


def _figures(requests: int, values: list[float]) -> dict[str, float]:
    return {"requests": requests, "max": max(values), "p99": percentile(values, 0.99),
            "p50": statistics.median(values)}


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait_http(url: str, token: str) -> None:
    for _ in range(600):
        try:
            _get(url, token)
            return
        except OSError:
            time.sleep(0.05)


EXTENSION_SHARE = """
import json, sys, time
import jupyter_server.serverapp
from jupyter_server.serverapp import ServerApp

spent = {"wall": 0.0, "cpu": 0.0}

def timed(function):
    def run(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent["wall"] += time.perf_counter() - wall
            spent["cpu"] += time.process_time() - cpu
    return run

wall, cpu = time.perf_counter(), time.process_time()
import orchestrate_nb.server.app as app_module
spent["wall"] += time.perf_counter() - wall
spent["cpu"] += time.process_time() - cpu
App = app_module.OrchestrateApp
App._link_jupyter_server_extension = timed(App._link_jupyter_server_extension)
App._load_jupyter_server_extension = classmethod(timed(App._load_jupyter_server_extension.__func__))
app = ServerApp()
app.initialize(argv=sys.argv[1:])
print(json.dumps({k: v * 1000 for k, v in spent.items()}))
"""


def extension_share(home: Path, url: str, starts: int) -> tuple[float, float]:
    """(wall, CPU) ms our extension takes of a server's start: importing it, linking and
    loading it (median over fresh processes; CPU time is what the machine's load does not
    inflate)."""
    env = bench_env(home, url)
    walls, cpus = [], []
    for _ in range(starts):
        argv = [sys.executable, "-c", EXTENSION_SHARE, "--no-browser", "--ip=127.0.0.1",
                f"--port={free_port()}", f"--ServerApp.root_dir={home}",
                "--ServerApp.allow_root=True", ENABLE]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        walls.append(figures["wall"])
        cpus.append(figures["cpu"])
    return statistics.median(walls), statistics.median(cpus)


# -- start time ---------------------------------------------------------------------------
def start_times(home: Path, url: str, starts: int) -> tuple[float, float]:
    env = bench_env(home, url)
    with_ext, without = [], []
    for _ in range(starts):
        for extension, bucket in ((True, with_ext), (False, without)):
            server = ServerProcess(env, home, extension)
            try:
                bucket.append(server.wait_ready())
            finally:
                server.stop()
    return statistics.median(with_ext) * 1000, statistics.median(without) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--stall-seconds", type=float, default=15.0)
    parser.add_argument("--list-only", action="store_true",
                        help="measure the runs-list latency only (skip start time and stalls)")
    args = parser.parse_args()
    backends = [("SQLite", None)]
    if os.environ.get(POSTGRES_ENV):
        backends.append(("PostgreSQL", os.environ[POSTGRES_ENV]))
    print(f"# bench_server: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}, "
          f"{args.runs:,} flow runs", flush=True)

    print("\n## GET /orchestrate/api/runs over HTTP (ms; target p95 <= 50)")
    for label, base in backends:
        with tempfile.TemporaryDirectory() as folder:
            home = Path(folder)
            store = sqlite_store(home) if base is None else postgres_store(base)
            with store as url:
                started = time.perf_counter()
                rows = list_latency(url, home, args.runs, args.requests)
                print(f"\n{label} ({time.perf_counter() - started:.0f} s incl. populating)")
                print(f"{'query':32} {'p50':>8} {'p95':>8}")
                for name, p50, p95 in rows:
                    print(f"{name:32} {p50:8.1f} {p95:8.1f}", flush=True)
    if args.list_only:
        return

    print("\n## Jupyter server start to first answer (ms, median of "
          f"{args.starts}; target: extension adds <= 100)")
    with tempfile.TemporaryDirectory() as folder, sqlite_store(Path(folder)) as url:
        populate(url, Path(folder), 1000)
        with_ext, without = start_times(Path(folder), url, args.starts)
        share_wall, share_cpu = extension_share(Path(folder), url, args.starts)
    print(f"with the extension {with_ext:.0f}, without {without:.0f}, "
          f"added {with_ext - without:+.0f}", flush=True)
    print(f"the extension's own part (import, link, load): {share_wall:.1f} ms wall, "
          f"{share_cpu:.1f} ms CPU", flush=True)

    print(f"\n## event-loop lag while 4 processes write ({args.stall_seconds:.0f} s a phase; "
          "target: max <= 20 ms caused by our handlers)")
    with tempfile.TemporaryDirectory() as folder, sqlite_store(Path(folder)) as url:
        populate(url, Path(folder), min(args.runs, 100_000))
        results = loop_stalls(url, Path(folder), args.stall_seconds)
    print(f"{'client calls':26} {'requests':>9} {'p50':>7} {'p99':>7} {'max':>7}")
    for name, figures in results.items():
        print(f"{name:26} {figures['requests']:9.0f} {figures['p50']:7.2f} "
              f"{figures['p99']:7.2f} {figures['max']:7.2f}")


if __name__ == "__main__":
    main()
