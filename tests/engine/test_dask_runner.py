"""DaskTaskRunner: task functions run on Dask workers, recorded like local runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from orchestrate_nb import flow, get_run_logger, task
from orchestrate_nb.task_runners import DaskTaskRunner, ThreadPoolTaskRunner

distributed = pytest.importorskip("distributed")
# Dask moves a server to a free port, with a warning, when a test's neighbour holds 8787.
pytestmark = pytest.mark.filterwarnings("ignore:Port .* is already in use")

# A LocalCluster of worker threads in this process: starts in milliseconds. Calls still
# travel pickled, as they would to worker processes.
THREADS = {"processes": False, "n_workers": 1, "threads_per_worker": 2,
           "dashboard_address": None}


def threads_runner() -> DaskTaskRunner:
    return DaskTaskRunner(cluster_kwargs=THREADS)


@pytest.fixture(scope="module")
def running_cluster() -> Iterator[str]:
    """A cluster started by the test itself, reachable over TCP: its scheduler address."""
    with distributed.LocalCluster(protocol="tcp", **THREADS) as cluster:
        yield cluster.scheduler_address


def _where_pipeline(runner):  # type: ignore[no-untyped-def]
    on_dask = runner is not None

    @task
    def worker_of(x):
        return distributed.get_worker().address if on_dask else None

    @task
    def count(addresses, extra):
        return len(addresses) + 0 * len(extra or "")

    @flow(task_runner=runner or ThreadPoolTaskRunner())
    def pipeline():
        addresses = list(worker_of.map([1, 2, 3]))
        return worker_of.submit(0).result(), count.submit(addresses, worker_of.submit(9)).result()

    return pipeline


def test_tasks_run_on_dask_workers_and_are_recorded_like_local_runs(events):
    address, n = _where_pipeline(threads_runner())()
    assert address.startswith("inproc://") and n == 3
    remote_shape = events.shape()

    events.events.clear()
    _where_pipeline(None)()
    assert remote_shape == events.shape()
    assert ("worker_of-1", 1, ["Running", "Completed"]) in remote_shape[0]


def test_the_default_runner_starts_a_local_cluster_of_worker_processes(events):
    @task
    def where():
        return os.getpid(), distributed.get_worker().address

    @flow(task_runner=DaskTaskRunner())
    def f():
        return where.submit().result()

    pid, address = f()
    assert pid != os.getpid() and address.startswith("tcp://")


def _listening_on_every_interface() -> list[str]:
    """Sockets this process and its children listen on for any machine (0.0.0.0, ::)."""
    import psutil

    me = psutil.Process()
    pids = {me.pid} | {child.pid for child in me.children(recursive=True)}
    return [f"{c.laddr.ip}:{c.laddr.port}" for c in psutil.net_connections("inet")
            if c.status == psutil.CONN_LISTEN and c.pid in pids
            and c.laddr.ip in ("0.0.0.0", "::", "")]


def test_a_dask_flow_listens_on_this_machine_only_dashboard_included(events):
    @task
    def probe():
        return 1

    @flow(task_runner=DaskTaskRunner())
    def f():
        probe.submit().result()  # the cluster is up
        return _listening_on_every_interface()

    assert f() == []


def test_a_failure_on_a_worker_is_retried_then_raised_with_its_type_and_message(
        events, tmp_path):
    attempts = tmp_path / "attempts"

    @task(retries=1)
    def always_bad():
        with open(attempts, "a") as f:
            f.write("x")
        raise KeyError("no such column: price")

    @flow(task_runner=threads_runner())
    def f():
        return always_bad.submit().result()

    with pytest.raises(KeyError, match="no such column: price"):
        f()
    assert attempts.read_text() == "xx"
    assert events.states_of(events.task_run("always_bad-0").id) == [
        "Running", "AwaitingRetry", "Retrying", "Failed"]


def test_a_map_of_a_hundred_runs_on_dask_and_records_every_run(events):
    @task
    def square(x):
        return x * x

    @flow(task_runner=threads_runner())
    def f():
        return square.map(range(100)).result()

    assert f() == [x * x for x in range(100)]
    runs = events.task_runs()
    assert sorted(r.map_index for r in runs) == list(range(100))
    assert {events.final_state_of(r.id) for r in runs} == {"Completed"}


def test_logs_and_prints_on_a_worker_reach_the_run_log_once(events):
    @task(log_prints=True)
    def chatty():
        get_run_logger().info("from the worker")
        print("printed on the worker")

    @flow(task_runner=threads_runner())
    def f():
        chatty.submit().wait()

    f()
    run_id = events.task_run("chatty-0").id
    messages = [log.message for log in events.logs() if log.task_run_id == run_id]
    assert messages.count("from the worker") == 1
    assert messages.count("printed on the worker") == 1


def test_a_task_over_its_timeout_ends_timed_out_promptly(events):
    @task(timeout_seconds=0.5)
    def slow():
        for _ in range(600):  # Python code: the worker's copy of the timeout interrupts it
            time.sleep(0.05)

    @flow(task_runner=threads_runner())
    def f():
        future = slow.submit()
        future.wait()
        return future.state.name

    start = time.monotonic()
    assert f() == "TimedOut"
    assert time.monotonic() - start < 10


def test_an_async_task_runs_on_a_worker(events):
    @task
    async def double(x):
        await asyncio.sleep(0.01)
        return 2 * x, distributed.get_worker().address

    @flow(task_runner=threads_runner())
    def f():
        return double.submit(21).result()

    value, address = f()
    assert value == 42 and address.startswith("inproc://")


def test_a_runner_given_an_address_uses_that_cluster_and_leaves_it_running(
        events, running_cluster):
    @task
    def scheduler_of():
        return distributed.get_worker().scheduler.address

    @flow(task_runner=DaskTaskRunner(address=running_cluster))
    def f():
        return scheduler_of.submit().result()

    assert f() == running_cluster
    assert f() == running_cluster  # still there for the next flow run


def test_a_runner_given_a_cluster_object_uses_it(events):
    @task
    def where():
        return distributed.get_worker().scheduler.address

    with distributed.LocalCluster(protocol="tcp", **THREADS) as cluster:
        @flow(task_runner=DaskTaskRunner(cluster))
        def f():
            return where.submit().result()

        assert f() == cluster.scheduler_address
        assert cluster.status.name == "running"


def test_an_unreachable_scheduler_fails_the_task_runs(events):
    @task
    def never():
        return 1

    @flow(task_runner=DaskTaskRunner(address="tcp://127.0.0.1:9",
                                     client_kwargs={"timeout": "1s"}))
    def f():
        future = never.submit()
        future.wait()
        return future.state.name

    assert f() == "Failed"


def test_an_address_and_a_cluster_to_start_are_refused_together():
    with pytest.raises(ValueError, match="not both"):
        DaskTaskRunner(address="tcp://127.0.0.1:8786", cluster_kwargs={"n_workers": 2})


def test_importing_the_runner_does_not_import_distributed():
    code = ("import sys; from orchestrate_nb.task_runners import DaskTaskRunner; "
            "DaskTaskRunner(); print('distributed' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
