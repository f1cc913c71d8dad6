"""Task and flow options have one list, the constructor's signature: every option it takes
survives ``with_options``, and ``Flow.serve`` hands each of its arguments on to ``serve``."""

from __future__ import annotations

import datetime as dt
import inspect
from typing import Any

import pytest

from orchestrate_nb import flow, task
from orchestrate_nb.cache_policies import INPUTS
from orchestrate_nb.core.flows import Flow
from orchestrate_nb.core.tasks import Task
from orchestrate_nb.deploy.serve import serve
from orchestrate_nb.task_runners import ThreadPoolTaskRunner


def hook(*_: Any) -> None:
    return None


def key_fn(*_: Any) -> str:
    return "k"


# A value other than the default for each option, and the attribute that shows it.
TASK_OPTIONS: dict[str, tuple[Any, str]] = {
    "name": ("renamed", "name"), "description": ("what it does", "description"),
    "tags": (["a", "b"], "tags"), "version": ("2", "version"),
    "cache_policy": (INPUTS, "cache_policy"), "cache_key_fn": (key_fn, "cache_key_fn"),
    "cache_expiration": (dt.timedelta(days=1), "cache_expiration"),
    "task_run_name": ("run-{x}", "task_run_name"), "retries": (2, "retries"),
    "retry_delay_seconds": (3, "retry_delay_seconds"),
    "retry_jitter_factor": (0.5, "retry_jitter_factor"),
    "persist_result": (True, "persist_result"), "result_storage": ("results", "result_storage"),
    "result_serializer": ("json", "result_serializer"),
    "result_storage_key": ("{parameters[x]}", "result_storage_key"),
    "cache_result_in_memory": (False, "cache_result_in_memory"),
    "timeout_seconds": (5.0, "timeout_seconds"), "log_prints": (True, "log_prints"),
    "refresh_cache": (True, "refresh_cache"), "on_completion": ([hook], "on_completion_hooks"),
    "on_failure": ([hook], "on_failure_hooks"), "on_running": ([hook], "on_running_hooks"),
    "on_commit": ([hook], "on_commit_hooks"), "on_rollback": ([hook], "on_rollback_hooks"),
    "retry_condition_fn": (key_fn,
                                                                       "retry_condition_fn"),
    "viz_return_value": (42, "viz_return_value"),
}

FLOW_OPTIONS: dict[str, tuple[Any, str]] = {
    "name": ("renamed", "name"), "version": ("2", "version"),
    "flow_run_name": ("run-{x}", "flow_run_name"), "retries": (2, "retries"),
    "retry_delay_seconds": (3, "retry_delay_seconds"),
    "task_runner": (ThreadPoolTaskRunner(max_workers=2), "task_runner"),
    "description": ("what it does", "description"), "timeout_seconds": (5.0, "timeout_seconds"),
    "validate_parameters": (False, "should_validate_parameters"),
    "persist_result": (True, "persist_result"), "result_storage": ("results", "result_storage"),
    "result_serializer": ("json", "result_serializer"),
    "cache_result_in_memory": (False, "cache_result_in_memory"),
    "log_prints": (True, "log_prints"), "on_completion": ([hook], "on_completion_hooks"),
    "on_failure": ([hook], "on_failure_hooks"),
    "on_cancellation": ([hook], "on_cancellation_hooks"),
    "on_crashed": ([hook], "on_crashed_hooks"), "on_running": ([hook], "on_running_hooks"),
    "tags": (["a", "b"], "tags"),
}


def fn(x: int = 1) -> int:
    return x


def constructor_options(cls: type) -> set[str]:
    return set(inspect.signature(cls).parameters) - {"fn"}


@pytest.mark.parametrize(("cls", "table"), [(Task, TASK_OPTIONS), (Flow, FLOW_OPTIONS)],
                         ids=["task", "flow"])
def test_every_constructor_option_has_a_row_here(cls, table):
    assert constructor_options(cls) == set(table)


@pytest.mark.parametrize("option", sorted(TASK_OPTIONS))
def test_every_task_option_survives_with_options(option):
    value, attribute = TASK_OPTIONS[option]
    original = task(**{option: value})(fn)
    assert getattr(original, attribute) != getattr(task(fn), attribute)
    assert getattr(original.with_options(), attribute) == getattr(original, attribute)
    assert getattr(task(fn).with_options(**{option: value}), attribute) == getattr(
        original, attribute)


@pytest.mark.parametrize("option", sorted(FLOW_OPTIONS))
def test_every_flow_option_survives_with_options(option):
    value, attribute = FLOW_OPTIONS[option]
    original = flow(**{option: value})(fn)
    assert getattr(original, attribute) != getattr(flow(fn), attribute)
    assert getattr(original.with_options(), attribute) == getattr(original, attribute)
    assert getattr(flow(fn).with_options(**{option: value}), attribute) == getattr(
        original, attribute)


def test_hooks_added_by_decorator_survive_with_options():
    @task
    def step() -> int:
        return 1

    step.on_failure(hook)
    assert step.with_options(retries=1).on_failure_hooks == [hook]


def test_flow_serve_hands_every_argument_to_serve_with_the_same_default():
    served = inspect.signature(serve).parameters
    for name, parameter in inspect.signature(Flow.serve).parameters.items():
        if name == "self":
            continue
        assert name in served, name
        assert served[name].default == parameter.default, name
