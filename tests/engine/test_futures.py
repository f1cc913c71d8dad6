"""Futures, mapping, dependencies and the flow's final state."""

from __future__ import annotations

import threading
import time

import pytest

from orchestrate_nb import allow_failure, as_completed, flow, task, unmapped, wait
from orchestrate_nb.errors import MappingLengthMismatch, MappingMissingIterable, OrchestrateError
from orchestrate_nb.task_runners import ThreadPoolTaskRunner


@task
def add(x, y=0):
    return x + y


@task
def fail(message="boom"):
    raise ValueError(message)


def test_submit_returns_a_future_whose_result_is_the_value(events):
    @flow
    def f():
        fut = add.submit(1, 2)
        return fut.result(), fut.state.name

    assert f() == (3, "Completed")


def test_a_future_passed_to_a_task_is_resolved_and_records_an_edge(events):
    @flow
    def f():
        a = add.submit(1, 1)
        b = add.submit(a, 10)
        return b.result()

    assert f() == 12
    (edge,) = events.edges()
    assert (edge.upstream_task_run_id, edge.downstream_task_run_id, edge.input_name) == (
        events.task_run("add-0").id, events.task_run("add-1").id, "x")


def test_a_result_value_passed_to_a_task_records_an_edge_too(events):
    @task
    def make():
        return [1, 2, 3]

    @task
    def total(values):
        return sum(values)

    @flow
    def f():
        data = make()
        return total(data)

    assert f() == 6
    (edge,) = events.edges()
    assert edge.upstream_task_run_id == events.task_run("make-0").id
    assert edge.downstream_task_run_id == events.task_run("total-0").id


def test_futures_inside_a_list_are_resolved_and_each_records_an_edge(events):
    @task
    def total(values):
        return sum(values)

    @flow
    def f():
        parts = [add.submit(i) for i in range(4)]
        return total(parts)

    assert f() == 6
    assert len(events.edges()) == 4


def test_map_runs_once_per_element_and_keeps_unmapped_arguments_whole(events):
    @flow
    def f():
        return add.map([1, 2, 3], unmapped(100)).result()

    assert f() == [101, 102, 103]
    runs = events.task_runs()
    assert sorted(r.map_index for r in runs) == [0, 1, 2]


def test_map_over_a_future_maps_over_its_result(events):
    @task
    def numbers():
        return [1, 2, 3]

    @flow
    def f():
        return add.map(numbers.submit(), 1).result()

    assert f() == [2, 3, 4]


def test_map_with_iterables_of_different_lengths_is_refused(events):
    @flow
    def f():
        add.map([1, 2], [1, 2, 3])

    with pytest.raises(MappingLengthMismatch, match=r"differ in length \(x=2, y=3\)"):
        f()


def test_map_without_any_iterable_is_refused(events):
    @flow
    def f():
        add.map(1, 2)

    with pytest.raises(MappingMissingIterable, match="at least one iterable"):
        f()


def test_submit_outside_a_flow_is_a_clear_error(events):
    with pytest.raises(OrchestrateError, match="need a running flow"):
        add.submit(1)


def test_wait_and_as_completed_work_on_futures(events):
    @task
    def sleepy(seconds):
        time.sleep(seconds)
        return seconds

    @flow
    def f():
        futs = [sleepy.submit(s) for s in (0.2, 0.0, 0.1)]
        order = [fut.result() for fut in as_completed(futs)]
        done, not_done = wait(futs)
        return order, len(done), len(not_done)

    order, done, not_done = f()
    assert order == [0.0, 0.1, 0.2]
    assert (done, not_done) == (3, 0)


def test_a_downstream_task_of_a_failed_one_does_not_run(events):
    ran = []

    @task
    def after(x):
        ran.append(x)

    @flow
    def f():
        after.submit(fail.submit())

    with pytest.raises(ValueError, match="boom"):
        f()
    assert ran == []
    downstream = events.task_run("after-0")
    assert events.final_state_of(downstream.id) == "NotReady"


def test_allow_failure_lets_the_downstream_run_with_the_exception(events):
    @task
    def report(x):
        return f"upstream said: {x}"

    @flow
    def f():
        bad = fail.submit("disk full")
        return report.submit(allow_failure(bad)).result()

    assert f() == "upstream said: disk full"
    assert events.final_state_of(events.task_run("fail-0").id) == "Failed"
    assert events.final_state_of(events.task_run("report-0").id) == "Completed"


def test_wait_for_orders_runs_and_records_an_edge(events):
    order = []

    @task
    def step(name, delay=0.0):
        time.sleep(delay)
        order.append(name)

    @flow
    def f():
        first = step.submit("first", 0.1)
        step.submit("second", wait_for=[first])

    f()
    assert order == ["first", "second"]
    (edge,) = events.edges()
    assert edge.input_name == "wait_for"


def test_a_flow_waits_for_submitted_work_it_never_waited_for(events):
    finished = []

    @task
    def slow(i):
        time.sleep(0.05)
        finished.append(i)

    @flow
    def f():
        for i in range(5):
            slow.submit(i)
        return "returned early"

    assert f() == "returned early"
    assert sorted(finished) == [0, 1, 2, 3, 4]


def test_a_submitted_failure_the_flow_never_looked_at_fails_the_flow(events):
    @flow
    def f():
        add.submit(1)
        fail.submit("lost in the crowd")

    state = f(return_state=True)
    assert state.is_failed()
    assert "1/2 task runs failed (fail-0)" in state.message
    with pytest.raises(ValueError, match="lost in the crowd"):
        state.result()


def test_a_failure_the_flow_handled_does_not_fail_the_flow(events):
    @flow
    def f():
        fut = fail.submit()
        try:
            fut.result()
        except ValueError:
            return "recovered"

    assert f() == "recovered"


def test_a_bounded_pool_does_not_deadlock_on_long_dependency_chains(events):
    @flow(task_runner=ThreadPoolTaskRunner(max_workers=2))
    def f():
        fut = add.submit(0, 1)
        for _ in range(50):
            fut = add.submit(fut, 1)
        return fut.result(timeout=30)

    assert f() == 51


def test_the_thread_pool_runs_tasks_concurrently(events):
    barrier = threading.Barrier(3, timeout=10)

    @task
    def meet():
        barrier.wait()
        return True

    @flow(task_runner=ThreadPoolTaskRunner(max_workers=3))
    def f():
        return [fut.result() for fut in [meet.submit() for _ in range(3)]]

    assert f() == [True, True, True]


def test_thread_pool_max_workers_must_be_positive():
    with pytest.raises(ValueError, match="max_workers must be at least 1"):
        ThreadPoolTaskRunner(max_workers=0)


def test_mapping_over_a_task_result_links_every_mapped_run_to_its_producer(events):
    @task
    def rows():
        return [1, 2, 3]

    @flow
    def f():
        data = rows()
        by_value = add.map(data, 1)
        by_future = add.map(rows.submit(), 2)
        return by_value.result() + by_future.result()

    assert f() == [2, 3, 4, 3, 4, 5]
    producers = {e.upstream_task_run_id for e in events.edges()}
    assert producers == {events.task_run("rows-0").id, events.task_run("rows-1").id}
    assert len(events.edges()) == 6


def test_the_futures_of_a_map_passed_whole_to_a_task_arrive_as_a_list_of_values(events):
    @task
    def total(values):
        assert type(values) is list
        return sum(values)

    @flow
    def f():
        return total(add.map([1, 2, 3], 10))

    assert f() == 36
    assert len(events.edges()) == 3
