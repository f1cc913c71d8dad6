"""Tasks: results, retries, timeouts, names, tags, hooks — as a user calling them sees it."""

from __future__ import annotations

import threading
import time

import pytest

from orchestrate_nb import flow, tags, task
from orchestrate_nb.core.retries import retry_delay
from orchestrate_nb.errors import OrchestrateError, TaskRunTimeoutError
from orchestrate_nb.states import State
from orchestrate_nb.tasks import exponential_backoff


def test_a_task_called_in_a_flow_returns_its_value_and_is_recorded(events):
    @task
    def double(x):
        return 2 * x

    @flow
    def f():
        return double(21)

    assert f() == 42
    run = events.task_run("double-0")
    assert run.flow_run_id == events.flow_runs()[0].id
    assert events.states_of(run.id) == ["Running", "Completed"]
    assert run.state_name == "Pending"


def test_a_task_called_outside_any_flow_still_runs_and_is_recorded(events):
    @task
    def hello(name):
        return f"hi {name}"

    assert hello("ada") == "hi ada"
    (run,) = events.task_runs()
    assert run.flow_run_id is None
    assert events.final_state_of(run.id) == "Completed"


def test_a_task_that_fails_twice_succeeds_on_its_third_try_with_two_retries(events):
    calls = []

    @task(retries=2)
    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("not yet")
        return "ok"

    @flow
    def f():
        return flaky()

    assert f() == "ok"
    run = events.task_run("flaky-0")
    assert events.states_of(run.id) == [
        "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Completed"]


def test_a_task_that_keeps_failing_raises_its_own_exception_after_retries(events):
    @task(retries=1)
    def broken():
        raise KeyError("missing column")

    @flow
    def f():
        return broken()

    with pytest.raises(KeyError, match="missing column"):
        f()
    run = events.task_run("broken-0")
    assert events.final_state_of(run.id) == "Failed"
    assert any("Retries are exhausted" in log.message for log in events.logs())


def test_retry_delays_follow_the_given_list_and_repeat_its_last_value(events):
    seen = []

    @task(retries=3, retry_delay_seconds=[0.05, 0.15])
    def flaky():
        seen.append(time.monotonic())
        raise RuntimeError("again")

    @flow
    def f():
        return flaky(return_state=True)

    state = f(return_state=True)  # a flow returning a state ends in that state
    assert state.is_failed()
    gaps = [b - a for a, b in zip(seen, seen[1:])]
    assert len(gaps) == 3
    assert gaps[0] >= 0.05 and gaps[1] >= 0.15 and gaps[2] >= 0.15


def test_a_callable_retry_delay_gives_exponential_backoff():
    assert exponential_backoff(2)(4) == [2, 4, 8, 16]


def test_jitter_keeps_the_delay_within_the_factor():
    delays = [retry_delay([10.0], 1, 0.5) for _ in range(200)]
    assert all(5.0 <= d <= 15.0 for d in delays)
    assert len(set(delays)) > 1


def test_retry_condition_fn_can_refuse_a_retry(events):
    calls = []

    def only_on_timeouts(task, task_run, state):
        return isinstance(state.data, TimeoutError)

    @task(retries=3, retry_condition_fn=only_on_timeouts)
    def bad():
        calls.append(1)
        raise ValueError("bad data is not retried")

    @flow
    def f():
        return bad(return_state=True)

    assert f(return_state=True).is_failed()
    assert len(calls) == 1


def test_a_task_over_its_timeout_ends_promptly_in_a_timed_out_failed_state(events):
    @task(timeout_seconds=0.2)
    def slow():
        time.sleep(30)

    @flow
    def f():
        return {"state": slow(return_state=True)}  # (a dict: not the flow's own state)

    started = time.monotonic()
    state = f()["state"]
    assert time.monotonic() - started < 10, "the run should not wait for the 30 s sleep"
    assert state.is_failed() and state.name == "TimedOut"
    assert isinstance(state.data, TaskRunTimeoutError)
    assert "exceeded timeout of 0.2 second(s)" in state.message


def test_a_timeout_interrupts_a_pure_python_loop(events):
    progress = [0]
    stopped = threading.Event()

    @task(timeout_seconds=0.2)
    def spin():
        try:
            while True:
                progress[0] += 1
        finally:
            stopped.set()

    @flow
    def f():
        return {"state": spin(return_state=True)}

    assert f()["state"].name == "TimedOut"
    assert stopped.wait(5), "the interrupted loop should have stopped"


def test_task_run_names_come_from_a_template_or_a_callable(events):
    @task(task_run_name="process-{item}")
    def process(item):
        return item

    @task(task_run_name=lambda: "fixed-name")
    def other():
        return 1

    @flow
    def f():
        process("a.csv")
        other()

    f()
    assert {t.name for t in events.task_runs()} == {"process-a.csv", "fixed-name"}


def test_a_template_naming_an_unknown_parameter_is_a_clear_error(events):
    @task(task_run_name="process-{nope}")
    def process(item):
        return item

    with pytest.raises(OrchestrateError, match="names 'nope' which is not a parameter"):
        process(1)


def test_tags_come_from_the_decorator_and_from_the_tags_context(events):
    @task(tags=["db"])
    def load():
        return 1

    @flow
    def f():
        with tags("nightly"):
            load()

    f()
    assert events.task_run("load-0").tags == ("db", "nightly")


def test_completion_and_failure_hooks_receive_the_task_the_run_and_the_state(events):
    seen = []

    @task(on_completion=[lambda t, r, s: seen.append(("done", t.name, r.name, s.name))],
          on_failure=[lambda t, r, s: seen.append(("failed", t.name, r.name, s.name))])
    def sometimes(fail):
        if fail:
            raise ValueError("x")
        return 1

    @flow
    def f():
        sometimes(False)
        sometimes(True, return_state=True)

    f()
    assert seen == [("done", "sometimes", "sometimes-0", "Completed"),
                    ("failed", "sometimes", "sometimes-1", "Failed")]


def test_a_failing_hook_is_logged_and_does_not_change_the_state(events):
    def bad_hook(t, r, s):
        raise RuntimeError("hook broke")

    @task(on_completion=[bad_hook])
    def fine():
        return 5

    @flow
    def f():
        return fine()

    assert f() == 5
    assert any("hook" in log.message and "failed" in log.message for log in events.logs())


def test_return_state_gives_the_state_instead_of_raising(events):
    @task
    def boom():
        raise ValueError("nope")

    @flow
    def f():
        state = boom(return_state=True)
        return {"handled": state}  # looked at, not returned as the flow's own state

    state = f(return_state=True)
    assert isinstance(state, State)
    assert state.is_completed()
    inner = state.result()["handled"]
    assert inner.is_failed()
    with pytest.raises(ValueError, match="nope"):
        inner.result()
    assert isinstance(inner.result(raise_on_failure=False), ValueError)


def test_a_task_returning_a_state_ends_in_that_state(events):
    from orchestrate_nb.states import Failed

    @task
    def decide():
        return Failed(message="rejected by business rule")

    @flow
    def f():
        return decide(return_state=True)

    # The task run ends in the state it returned; the flow returning that task run's state
    # fails too, with a state of its own (Prefect's rule), and raises the task's error.
    state = f(return_state=True)
    assert state.is_failed() and state.message == "1/1 states failed."
    decided = events.task_runs()[0].id
    assert events.final_state_of(decided) == "Failed"
    with pytest.raises(Exception, match="rejected by business rule"):
        f()


@pytest.mark.parametrize("bad, message", [
    ({"retries": -1}, "retries must be a non-negative integer"),
    ({"timeout_seconds": 0}, "timeout_seconds must be a positive number"),
    ({"tags": "one-string"}, "tags must be a list of strings"),
    ({"on_failure": [42]}, "hooks must be callables"),
    ({"retries": 2, "retry_delay_seconds": "abc"},
     "retry_delay_seconds takes seconds ≥ 0: a number, a list of numbers .* got 'abc'"),
    ({"retries": 2, "retry_delay_seconds": [1, "x"]}, "retry_delay_seconds takes seconds"),
    ({"retries": 2, "retry_delay_seconds": -1}, "retry_delay_seconds takes seconds ≥ 0"),
    ({"retries": 2, "retry_delay_seconds": float("nan")}, "retry_delay_seconds takes seconds"),
    ({"retries": 2, "retry_delay_seconds": lambda n: "soon"},
     "retry_delay_seconds takes seconds .* \\(which returned 'soon'\\)"),
    ({"retry_jitter_factor": "lots"}, "retry_jitter_factor takes a number ≥ 0"),
], ids=["retries", "timeout", "tags", "hooks", "delay-string", "delay-list-item",
        "delay-negative", "delay-nan", "delay-callable", "jitter-string"])
def test_bad_task_options_are_refused_at_decoration_with_a_clear_message(bad, message):
    with pytest.raises((ValueError, TypeError), match=message) as refused:
        task(**bad)(lambda: None)
    assert "\n" not in str(refused.value) and "task '<lambda>'" in str(refused.value)


def test_with_options_makes_a_changed_copy(events):
    @task(retries=0)
    def base():
        return 1

    changed = base.with_options(name="renamed", retries=3)
    assert (changed.name, changed.retries, base.retries) == ("renamed", 3, 0)
    with pytest.raises(TypeError, match="unknown option"):
        base.with_options(colour="red")


def test_a_failed_runs_logged_traceback_starts_at_the_users_code(events):
    @task
    def parse(text):
        return int(text)

    @flow
    def f():
        return parse("not a number", return_state=True)

    f(return_state=True)
    (line,) = [log.message for log in events.logs() if "Task run failed" in log.message]
    traceback_text = line.split("Traceback (most recent call last):", 1)[1]
    assert "orchestrate_nb" not in traceback_text
    assert "return int(text)" in traceback_text
