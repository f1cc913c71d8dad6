"""ProcessPoolTaskRunner: task functions run in worker processes, recorded like local runs."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time

import pytest

from orchestrate_nb import flow, get_run_logger, task
from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner


def _pipeline(runner):  # type: ignore[no-untyped-def]
    @task
    def pid_plus(x):
        return os.getpid() + 0 * x

    @task
    def collect(pids, offset):
        return sorted(set(pids)), offset

    @flow(task_runner=runner)
    def pipeline():
        pids = list(pid_plus.map([1, 2, 3, 4]))  # PrefectFutureList is not resolved yet
        return collect.submit(pids, offset=pid_plus.submit(0)).result()

    return pipeline


def test_tasks_run_in_other_processes_and_are_recorded_like_local_runs(events):
    pids, _ = _pipeline(ProcessPoolTaskRunner(max_workers=2))()
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    remote_shape = events.shape()

    events.events.clear()
    _pipeline(ThreadPoolTaskRunner())()
    assert remote_shape == events.shape()
    assert ("pid_plus-0", 0, ["Running", "Completed"]) in remote_shape[0]
    assert ("pid_plus-4", "collect-0", "offset") in remote_shape[1]


def test_a_task_that_fails_in_a_worker_is_retried(events, tmp_path):
    attempts = tmp_path / "attempts"

    @task(retries=2)
    def flaky():
        with open(attempts, "a") as f:
            f.write("x")
        if attempts.read_text() != "xx":
            raise ConnectionError("not yet")
        return os.getpid()

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def f():
        return flaky.submit().result()

    assert f() != os.getpid()
    assert events.states_of(events.task_run("flaky-0").id) == [
        "Running", "AwaitingRetry", "Retrying", "Completed"]


class InputRejected(Exception):
    pass


def test_a_remote_exception_is_raised_with_its_type_message_and_remote_traceback(events):
    @task
    def check(value):
        raise InputRejected(f"value {value} is out of range")

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def f():
        return check.submit(42).result()

    with pytest.raises(InputRejected, match="value 42 is out of range") as caught:
        f()
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "Remote traceback (process" in notes and "in check" in notes
    assert events.final_state_of(events.task_run("check-0").id) == "Failed"


def test_an_exception_class_defined_in_the_caller_comes_back_as_itself(events):
    class NotebookError(Exception):
        pass

    @task
    def fail():
        raise NotebookError("defined in a cell")

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def f():
        return fail.submit().result()

    with pytest.raises(NotebookError, match="defined in a cell"):
        f()


def test_run_logger_lines_and_prints_in_a_worker_reach_the_run_log(events):
    @task(log_prints=True)
    def chatty(x):
        get_run_logger().warning("checking %s", x)
        print("printed in pid", os.getpid())
        return x

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def f():
        return chatty.submit(7).result()

    assert f() == 7
    run_id = events.task_run("chatty-0").id
    lines = [(log.level, log.message) for log in events.logs() if log.task_run_id == run_id]
    assert (30, "checking 7") in lines
    assert any(level == 20 and message.startswith("printed in pid ") and
               message != f"printed in pid {os.getpid()}" for level, message in lines)


def test_closures_and_lambdas_defined_in_the_caller_run_remotely(events):
    factor = 3
    triple = task(name="triple")(lambda x: x * factor)

    def make_adder(n):
        return lambda x: x + n

    @task
    def apply(fn, x):
        return fn(x), os.getpid()

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=2))
    def f():
        return triple.submit(5).result(), apply.submit(make_adder(10), 1).result()

    tripled, (added, pid) = f()
    assert (tripled, added) == (15, 11) and pid != os.getpid()


def test_a_task_over_its_timeout_ends_timed_out_promptly_and_the_pool_carries_on(events):
    @task(timeout_seconds=0.5)
    def stuck():
        time.sleep(60)

    @task
    def after():
        return "still working"

    start = time.monotonic()

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def g():
        future = stuck.submit()
        future.wait()
        return future.state.name, after.submit().result()

    assert g() == ("TimedOut", "still working")
    assert time.monotonic() - start < 10


def test_an_async_task_runs_in_a_worker(events):
    @task
    async def fetch(x):
        await asyncio.sleep(0.01)
        return x * 2, os.getpid()

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def f():
        return fetch.submit(21).result()

    value, pid = f()
    assert value == 42 and pid != os.getpid()


def test_an_argument_that_cannot_travel_fails_the_task_saying_why(events):
    @task
    def use(lock):
        return lock

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def f():
        future = use.submit(threading.Lock())
        future.wait()
        with pytest.raises(OrchestrateError, match="its arguments cannot be sent to another process"):
            future.result()
        return future.state.name

    assert f() == "Failed"


@pytest.mark.skipif(sys.platform == "win32", reason="os._exit semantics")
def test_a_worker_that_dies_fails_only_its_own_task(events):
    @task
    def die():
        os._exit(3)

    @task
    def fine(x):
        return x

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def f():
        dead = die.submit()
        dead.wait()
        return dead.state, fine.map([1, 2]).result()

    state, values = f()
    assert state.name == "Failed" and "exited (code 3)" in state.message
    assert values == [1, 2]


def test_large_arguments_and_results_travel_both_ways(events):
    @task
    def grow(blob):
        return blob * 2

    @flow(task_runner=ProcessPoolTaskRunner(max_workers=1))
    def f():
        return grow.map([bytes([i]) * 300_000 for i in range(4)]).result()

    assert [len(b) for b in f()] == [600_000] * 4


def test_max_workers_must_be_positive():
    with pytest.raises(ValueError, match="at least 1"):
        ProcessPoolTaskRunner(max_workers=0)
