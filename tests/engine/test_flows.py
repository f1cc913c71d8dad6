"""Flows: parameters, names, retries, timeouts, hooks, subflows, logs and final states."""

from __future__ import annotations

import asyncio
import time

import pytest

from orchestrate_nb import flow, get_run_logger, task
from orchestrate_nb.errors import OrchestrateError, ParameterTypeError
from orchestrate_nb.states import Cancelled


def test_a_flow_returns_its_value_and_is_recorded_with_its_parameters(events):
    @flow(name="etl")
    def etl(n: int, label: str = "x"):
        return n * 2

    assert etl(4) == 8
    (run,) = events.flow_runs()
    assert (run.flow_name, run.parameters) == ("etl", {"n": 4, "label": "x"})
    assert events.states_of(run.id) == ["Running", "Completed"]


def test_parameters_are_coerced_to_their_type_hints_like_prefect(events):
    @flow
    def f(n: int, ratio: float):
        return n, ratio

    assert f("3", ratio="0.5") == (3, 0.5)


def test_a_parameter_of_the_wrong_type_is_refused_before_the_run_starts(events):
    @flow
    def etl(n: int):
        raise AssertionError("must not run")

    with pytest.raises(ParameterTypeError, match=r"parameter 'n' got 'ten'"):
        etl("ten")
    assert events.flow_runs() == []


def test_an_unknown_parameter_is_refused_naming_it(events):
    @flow
    def etl(n: int = 1):
        return n

    with pytest.raises(ParameterTypeError, match="unexpected keyword argument 'm'"):
        etl(m=3)
    assert events.flow_runs() == []


def test_validation_can_be_turned_off(events):
    @flow(validate_parameters=False)
    def f(n: int):
        return n

    assert f("not an int") == "not an int"


def test_flow_run_name_templates_use_the_parameters(events):
    @flow(flow_run_name="etl-{day}")
    def etl(day: str):
        return day

    etl("2026-11-22")
    assert events.flow_runs()[0].name == "etl-2026-11-22"


def test_generated_flow_run_names_are_adjective_animal(events):
    @flow
    def f():
        return None

    f()
    name = events.flow_runs()[0].name
    assert name.count("-") == 1 and name.replace("-", "").isalpha()


def test_a_flow_with_retries_runs_again_after_a_failure(events):
    attempts = []

    @flow(retries=1, retry_delay_seconds=0)
    def f():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first try fails")
        return "second try"

    assert f() == "second try"
    run = events.flow_runs()[0]
    assert events.states_of(run.id) == ["Running", "AwaitingRetry", "Retrying", "Completed"]


def test_a_flow_over_its_timeout_ends_timed_out(events):
    @flow(timeout_seconds=0.2)
    def f():
        time.sleep(30)

    started = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - started < 10
    assert state.name == "TimedOut" and state.is_failed()


def test_flow_hooks_fire_on_completion_failure_and_cancellation(events):
    seen = []

    def record(kind):
        return lambda fl, run, state: seen.append((kind, fl.name, state.name))

    @flow(name="ok", on_completion=[record("completion")])
    def ok():
        return 1

    @flow(name="bad", on_failure=[record("failure")])
    def bad():
        raise ValueError("x")

    @flow(name="stop", on_cancellation=[record("cancellation")])
    def stop():
        return Cancelled(message="user stopped it")

    ok()
    bad(return_state=True)
    stop(return_state=True)
    assert seen == [("completion", "ok", "Completed"), ("failure", "bad", "Failed"),
                    ("cancellation", "stop", "Cancelled")]


def test_an_interrupted_flow_is_crashed_calls_on_crashed_and_reraises(events):
    seen = []

    @task
    def work():
        return 1

    @flow(on_crashed=[lambda fl, run, state: seen.append(state.name)])
    def f():
        work()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        f()
    run = events.flow_runs()[0]
    assert events.final_state_of(run.id) == "Crashed"
    assert seen == ["Crashed"]


def test_a_subflow_is_its_own_run_linked_to_its_parent(events):
    @flow
    def child(x: int):
        return x + 1

    @flow
    def parent():
        return child(1)

    assert parent() == 2
    parent_run, child_run = events.flow_runs()
    assert child_run.parent_flow_run_id == parent_run.id
    assert parent_run.parent_flow_run_id is None


def test_a_failing_subflow_raises_in_its_parent(events):
    @flow
    def child():
        raise ValueError("child failed")

    @flow
    def parent():
        child()

    with pytest.raises(ValueError, match="child failed"):
        parent()
    assert [events.final_state_of(r.id) for r in events.flow_runs()] == ["Failed", "Failed"]


def test_run_loggers_attach_lines_to_their_runs(events):
    @task
    def t():
        get_run_logger().info("from the task")

    @flow
    def f():
        get_run_logger().warning("from the flow")
        t()

    f()
    by_message = {log.message: log for log in events.logs()}
    task_line = by_message["from the task"]
    flow_line = by_message["from the flow"]
    assert task_line.task_run_id == events.task_run("t-0").id
    assert flow_line.task_run_id is None and flow_line.flow_run_id == events.flow_runs()[0].id


def test_log_prints_sends_print_to_the_run_logger(events, capsys):
    @task
    def t():
        print("inside the task", 42)

    @flow(log_prints=True)
    def f():
        print("inside the flow")
        t()

    f()
    messages = [log.message for log in events.logs()]
    assert "inside the flow" in messages and "inside the task 42" in messages
    err = capsys.readouterr().err
    assert "Task run 't-0' - inside the task 42" in err


def test_print_without_log_prints_is_left_alone(events, capsys):
    @flow
    def f():
        print("plain print")

    f()
    assert "plain print" in capsys.readouterr().out
    assert "plain print" not in [log.message for log in events.logs()]


def test_get_run_logger_outside_a_run_is_a_clear_error():
    with pytest.raises(OrchestrateError, match="outside a flow or task run"):
        get_run_logger()


def test_an_async_flow_with_async_tasks_can_be_awaited(events):
    @task
    async def fetch(i):
        await asyncio.sleep(0.01)
        return i * 10

    @flow
    async def f():
        first = await fetch(1)
        rest = [fut.result() for fut in [fetch.submit(i) for i in (2, 3)]]
        return [first, *rest]

    assert asyncio.run(f()) == [10, 20, 30]
    assert len(events.task_runs()) == 3


def test_a_sync_flow_called_where_an_event_loop_runs_returns_a_value_not_a_coroutine(events):
    @task
    async def fetch():
        await asyncio.sleep(0)
        return "fetched"

    @flow
    def f():
        return fetch()

    async def notebook_cell():  # a Jupyter kernel runs cells inside its event loop
        return f()

    assert asyncio.run(notebook_cell()) == "fetched"


def test_bad_flow_options_are_refused_at_decoration():
    with pytest.raises(ValueError, match="retries must be a non-negative integer"):
        flow(retries="3")(lambda: None)
