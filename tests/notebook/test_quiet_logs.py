"""Run-log lines in a real kernel: a run that went well prints nothing on stderr (which
Jupyter paints red); warnings and errors still do; no line is logged twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from kernels import LOAD, query, run_cells, stream

QUIET_FLOW = '''\
from orchestrate_nb import flow, task, get_run_logger

@task
def hello():
    get_run_logger().info("hello from a task")
    return 1

@flow(log_prints=True)
def quiet():
    print("printed by the flow")
    return hello()

quiet()
'''

WARNING_FLOW = '''\
@flow
def careful():
    get_run_logger().warning("disk almost full")

careful()
'''

TASK_CELL = '''\
%%task greet
get_run_logger().info("logged by a task cell")
x = 1
'''


@pytest.fixture
def home(orchestrate_home: Path) -> Path:
    return orchestrate_home


def test_a_successful_flow_writes_nothing_on_stderr_but_a_warning_does(
        tmp_path: Path, home: Path) -> None:
    quiet, careful, _, cell = run_cells([QUIET_FLOW, WARNING_FLOW, LOAD, TASK_CELL], tmp_path)

    assert stream(quiet, "stderr") == ""
    printed = stream(quiet)
    assert "hello from a task" in printed and "printed by the flow" in printed
    assert "disk almost full" in stream(careful, "stderr")
    assert stream(cell, "stderr") == "" and "logged by a task cell" in stream(cell)
    # the task cell's line is in the run store once (not again as printed output)
    assert query(home, "SELECT count(*) FROM logs "
                       "WHERE message LIKE '%logged by a task cell%'") == [(1,)]
