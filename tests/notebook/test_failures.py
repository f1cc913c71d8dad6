"""Failing task cells in real kernels: the user's own traceback, retries logged inline,
timeouts, one-line usage errors, syntax errors shown as IPython shows them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from kernels import (
    LOAD,
    badge,
    error,
    execute,
    notebook_of,
    plain,
    run_cells,
    stream,
    traceback_text,
)
from nbclient.exceptions import CellExecutionError

FAILURES = [
    LOAD,
    '%%task boom\nx = 1\nraise ValueError("bad value")',
    "def helper():\n    return 1 / 0",
    "%%task calls_helper\ny = helper()",
    """%%task flaky --retries 2
import os
tries = int(open("tries").read()) if os.path.exists("tries") else 0
open("tries", "w").write(str(tries + 1))
if tries < 2:
    raise RuntimeError(f"attempt {tries} failed")
print("succeeded on attempt", tries)""",
    "%%task slow --timeout 0.5\nimport time\ntime.sleep(20)",
    "%%task --retries x\npass",
    "%%task --bogus\npass",
    "%%task --timeout 2x\npass",
    "%%task broken\nx = 1\ny = (",
    "%config TaskMagics.default_retries = 1",
    """%%task flaky_by_default
import os
count = int(open("count").read()) if os.path.exists("count") else 0
open("count", "w").write(str(count + 1))
assert count >= 1, "first attempt fails"
print("done after", count + 1, "attempts")""",
    "print('the kernel carries on')",
]


@pytest.fixture(scope="module")
def failures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("failures")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORCHESTRATE_NB_HOME", str(work / "home"))
        started = time.monotonic()
        outputs = run_cells(FAILURES, work)
    return {"outputs": outputs, "seconds": time.monotonic() - started}


def test_a_failing_cell_shows_the_user_s_exception_and_the_cell_s_own_line(failures):
    outputs = failures["outputs"][1]
    assert (error(outputs).ename, error(outputs).evalue) == ("ValueError", "bad value")
    text = traceback_text(outputs)
    assert '----> 3 raise ValueError("bad value")' in text
    assert "orchestrate_nb" not in text and "site-packages" not in text


def test_the_traceback_follows_the_user_s_calls_into_other_cells(failures):
    text = traceback_text(failures["outputs"][3])
    assert "----> 2 y = helper()" in text and "----> 2     return 1 / 0" in text
    assert "orchestrate_nb" not in text


def test_the_failure_is_logged_inline_in_one_line_without_the_engine_s_traceback(failures):
    logged = stream(failures["outputs"][1], "stderr")
    assert "Task run failed with exception: ValueError('bad value')" in logged
    assert "Traceback" not in logged and len(logged.strip().splitlines()) == 1


def test_retries_are_logged_inline_and_the_cell_succeeds_when_an_attempt_does(failures):
    outputs = failures["outputs"][4]
    assert "Retry 1/2 will start" in stream(outputs, "stderr")
    assert "Retry 2/2 will start" in stream(outputs, "stderr")
    assert stream(outputs) == "succeeded on attempt 2\n"  # only the successful attempt's
    assert badge(outputs).startswith("▶ ran: first run")


def test_a_timeout_stops_the_cell_with_a_one_line_error(failures):
    outputs = failures["outputs"][5]
    assert error(outputs).ename == "TaskRunTimeoutError"
    assert "exceeded timeout of 0.5 second(s)" in error(outputs).evalue
    assert len(traceback_text(outputs).strip().splitlines()) == 1
    assert failures["seconds"] < 15


@pytest.mark.parametrize(("index", "message"), [
    (6, "UsageError: %%task: --retries must be a number, got 'x'"),
    (7, "UsageError: %%task: unrecognized arguments: --bogus"),
    (8, "UsageError: %%task: --timeout: '2x' is not a duration"),
])
def test_a_bad_option_or_value_is_a_one_line_usage_error(failures, index, message):
    outputs = failures["outputs"][index]
    assert stream(outputs, "stderr").startswith(message)
    assert len(stream(outputs, "stderr").strip().splitlines()) == 1
    assert not [o for o in outputs if o.output_type == "error"]


def test_a_syntax_error_is_shown_as_ipython_shows_one_at_the_cell_s_line(failures):
    outputs = failures["outputs"][9]
    assert error(outputs).ename == "SyntaxError"
    text = traceback_text(outputs)
    assert "line 3" in text and "y = (" in text
    assert "orchestrate_nb" not in text and "Traceback" not in text


def test_defaults_come_from_the_traitlets_configuration(failures):
    outputs = failures["outputs"][11]
    assert "Retry 1/1 will start" in stream(outputs, "stderr")
    assert stream(outputs) == "done after 2 attempts\n"
    assert stream(failures["outputs"][12]) == "the kernel carries on\n"


def test_run_all_stops_at_a_usage_error_whose_name_is_usage_error(tmp_path: Path):
    with pytest.raises(CellExecutionError) as raised:
        execute(notebook_of([LOAD, "%%task --retries -1\npass", "print('never')"]),
                tmp_path, allow_errors=False)
    assert raised.value.ename == "UsageError"
    assert "--retries must not be negative" in plain(raised.value.evalue)


def test_a_config_file_sets_the_defaults_and_loads_the_extension(tmp_path: Path,
                                                                 monkeypatch):
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_config.py").write_text(
        "c.InteractiveShellApp.extensions = ['orchestrate_nb']\n"
        "c.TaskMagics.default_retries = 2\n"
        "c.TaskMagics.show_badge = False\n")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    outputs = run_cells(["%config TaskMagics.default_retries", """%%task flaky
import os
n = int(open("n").read()) if os.path.exists("n") else 0
open("n", "w").write(str(n + 1))
assert n >= 2
print("ok after", n + 1)"""], tmp_path)
    assert "2" in stream(outputs[0]) + "".join(o.get("data", {}).get("text/plain", "")
                                               for o in outputs[0])
    assert stream(outputs[1]) == "ok after 3\n"
    assert not [o for o in outputs[1] if o.output_type == "display_data"]
