"""Every public name of Prefect's top-level package, and of the modules real code imports
from, is either provided or refused with one line naming it (never an AttributeError)."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from orchestrate_nb.errors import UnsupportedFeature

# prefect.__all__ of Prefect 3.9 (the version whose sources these names were read from).
PREFECT_ALL = [
    "__version__", "allow_failure", "apause_flow_run", "aresume_flow_run", "aserve",
    "asuspend_flow_run", "deploy", "flow", "Flow", "get_client", "get_run_logger",
    "pause_flow_run", "resume_flow_run", "serve", "State", "suspend_flow_run", "tags", "task",
    "Task", "Transaction", "unmapped",
]

# Names user code imports from Prefect's submodules, by module.
SUBMODULE_NAMES = {
    "runtime.flow_run": ["id", "name", "flow_name", "flow_version", "parameters", "tags",
                         "scheduled_start_time", "run_count", "parent_flow_run_id",
                         "root_flow_run_id", "deployment_id", "api_url", "ui_url",
                         "job_variables", "parent_deployment_id"],
    "runtime.task_run": ["id", "name", "task_name", "parameters", "tags", "run_count",
                         "api_url", "ui_url"],
    "runtime.deployment": ["id", "name", "parameters", "flow_run_id", "version"],
    "context": ["get_run_context", "FlowRunContext", "TaskRunContext", "tags"],
    "exceptions": ["FailedRun", "CrashedRun", "CancelledRun", "PausedRun", "MissingResult",
                   "UnfinishedRun", "ParameterTypeError", "ParameterBindError",
                   "MissingContextError", "PrefectException", "UpstreamTaskError",
                   "MappingLengthMismatch", "MappingMissingIterable", "FlowPauseTimeout",
                   "ObjectNotFound", "SignatureMismatchError", "Abort", "Pause",
                   "TerminationSignal", "SerializationError", "ConfigurationError"],
    "logging": ["get_run_logger", "get_logger", "disable_run_logger"],
    "utilities.annotations": ["quote", "opaque", "unmapped", "allow_failure"],
    "testing.utilities": ["prefect_test_harness"],
    "input": ["RunInput"],
    "transactions": ["transaction", "Transaction", "get_transaction", "CommitMode",
                     "IsolationLevel", "TransactionState"],
    "concurrency.sync": ["concurrency", "rate_limit"],
    "concurrency.asyncio": ["concurrency", "rate_limit"],
    "futures": ["PrefectFuture", "PrefectFutureList", "wait", "as_completed"],
    "states": ["State", "StateType", "Completed", "Failed", "Crashed", "Cancelled", "Pending",
               "Running", "Scheduled", "Paused", "Cached", "Late", "AwaitingRetry",
               "Retrying"],
    "task_runners": ["ThreadPoolTaskRunner", "ProcessPoolTaskRunner"],
    "cache_policies": ["INPUTS", "TASK_SOURCE", "NONE", "DEFAULT", "RUN_ID",
                       "FLOW_PARAMETERS"],
    "tasks": ["task", "Task", "exponential_backoff", "task_input_hash"],
    "flows": ["flow", "Flow"],
}


@pytest.mark.parametrize("name", PREFECT_ALL)
def test_each_top_level_prefect_name_is_provided_or_refused_in_one_line(name):
    import orchestrate_nb

    try:
        value = getattr(orchestrate_nb, name)
    except UnsupportedFeature as exc:
        message = str(exc)
        assert name in message and "\n" not in message
        assert message.startswith(f"orchestrate_nb.{name} is not supported by orchestrate_nb: ")
    else:
        assert value is not None


@pytest.mark.parametrize(("module", "names"), list(SUBMODULE_NAMES.items()),
                         ids=list(SUBMODULE_NAMES))
def test_the_submodule_names_real_code_imports_are_provided(module, names):
    loaded = importlib.import_module(f"orchestrate_nb.{module}")
    missing = [name for name in names if not hasattr(loaded, name)]
    assert not missing, f"orchestrate_nb.{module} lacks {missing}"


def test_a_refused_import_fails_on_the_users_line_with_one_line_naming_it():
    done = subprocess.run([sys.executable, "-c", "from orchestrate_nb import get_client"],
                          capture_output=True, text=True)
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1
    assert last == ("orchestrate_nb.errors.UnsupportedFeature: orchestrate_nb.get_client is "
                    "not supported by orchestrate_nb: the Prefect API client (there is no API "
                    "server: read run history with `orchestrate-nb runs ls` or "
                    "orchestrate_nb.store)")


def test_a_name_prefect_never_had_is_still_an_attribute_error():
    import orchestrate_nb

    with pytest.raises(AttributeError, match="no attribute 'not_a_prefect_name'"):
        orchestrate_nb.not_a_prefect_name  # noqa: B018
