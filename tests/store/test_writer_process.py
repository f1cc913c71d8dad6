"""The writer process: the flow's process hands its runs over and goes on (issue 11, item 8).

What a user would notice: runs recorded as before, the flow's process without the store's
modules, nothing lost when either process is killed, no process left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestrate_nb.store.reporter import StoreReporter

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def _run_script(source: str, tmp_path: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "ORCHESTRATE_NB_STORE_WRITER": "process"})


def test_a_flow_in_a_fresh_process_is_recorded_without_the_store_modules_loaded(
        database_url, tmp_path, query):
    result = _run_script("""
        import json, sys
        from orchestrate_nb import flow, task

        @task
        def double(x):
            return 2 * x

        @flow
        def doubled(n):
            return sum(double(i) for i in range(n))

        print(json.dumps({"total": doubled(500),
                          "sqlalchemy": "sqlalchemy" in sys.modules}))
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {"total": 249500, "sqlalchemy": False}
    assert query("SELECT count(*) AS n FROM task_runs WHERE state_type = 'COMPLETED'") == [
        {"n": 500}]
    assert query("SELECT state_type FROM flow_runs") == [{"state_type": "COMPLETED"}]


def test_a_killed_writer_process_loses_nothing_the_flow_handed_over(
        database_url, settings, synthetic, query, caplog):
    import dataclasses
    import logging

    reporter = StoreReporter(dataclasses.replace(settings, store_writer="process"))
    run, tasks, events = synthetic.completed_flow(tasks=300)
    half = len(events) // 2
    with caplog.at_level(logging.WARNING, logger="orchestrate_nb.store"):
        for event in events[:half]:
            reporter.emit(event)
        reporter.flush()
        pid = reporter.writer_pid
        assert pid is not None and _alive(pid)
        os.kill(pid, signal.SIGKILL)
        for event in events[half:]:
            reporter.emit(event)
        reporter.flush()
        reporter.close()
    assert _wait_gone(pid, 5)
    assert query("SELECT count(*) AS n FROM task_runs WHERE state_type = 'COMPLETED'") == [
        {"n": 300}]
    assert query("SELECT state_type FROM flow_runs WHERE id = :id", id=run.id) == [
        {"state_type": "COMPLETED"}]
    assert reporter.lost_events == 0
    said = [r.getMessage() for r in caplog.records]
    assert said == [f"run store writer process {pid} exited; writing from this process"]


def test_a_killed_flow_process_still_has_what_it_handed_over_recorded(database_url, tmp_path,
                                                                     query):
    result = _run_script("""
        import os, signal, sys
        from orchestrate_nb import flow, task
        from orchestrate_nb.engine.reporting import store_reporter

        @task
        def step(i):
            return i

        @flow
        def doomed():
            for i in range(300):
                step(i)
            store_reporter().flush()  # all 300 handed over (and written) ...
            for i in range(300, 600):
                step(i)  # ... these are handed over in batches as they run
            print(store_reporter().writer_pid, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        doomed()
    """, tmp_path)
    assert result.returncode == -signal.SIGKILL, result.stderr
    writer_pid = int(result.stdout.split()[-1])
    assert _wait_gone(writer_pid, 10), "the writer process outlived the flow it wrote for"
    completed = query("SELECT count(*) AS n FROM task_runs WHERE state_type = 'COMPLETED'")[0]["n"]
    # Everything but the last few events (handed over 64 at a time) is in the store.
    assert 580 <= completed <= 600
    assert query("SELECT state_type FROM flow_runs") == [{"state_type": "RUNNING"}]


def test_the_writer_process_ends_with_its_reporter_even_while_a_forked_child_lives(
        database_url, settings, synthetic, query):
    import dataclasses

    reporter = StoreReporter(dataclasses.replace(settings, store_writer="process"))
    run, _, events = synthetic.completed_flow(tasks=3)
    for event in events:
        reporter.emit(event)
    reporter.flush()
    writer_pid = reporter.writer_pid
    assert writer_pid is not None
    child = os.fork()
    if child == 0:  # holds whatever this process held, for a while
        time.sleep(5)
        os._exit(0)
    try:
        reporter.close()
        assert _wait_gone(writer_pid, 3)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    assert query("SELECT state_type FROM flow_runs WHERE id = :id", id=run.id) == [
        {"state_type": "COMPLETED"}]


def test_a_forked_child_records_its_own_runs(database_url, settings, synthetic, query):
    import dataclasses

    reporter = StoreReporter(dataclasses.replace(settings, store_writer="process"))
    reporter.emit(synthetic.flow_run_created())
    reporter.flush()
    run, _, events = synthetic.completed_flow(tasks=2)
    child = os.fork()
    if child == 0:
        code = 1
        try:
            for event in events:
                reporter.emit(event)
            reporter.close()
            code = 0 if reporter.lost_events == 0 else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    reporter.close()
    assert os.waitstatus_to_exitcode(status) == 0
    assert query("SELECT state_type FROM flow_runs WHERE id = :id", id=run.id) == [
        {"state_type": "COMPLETED"}]


@pytest.mark.parametrize("cpus, set_to, expected", [
    (2, None, "process"), (8, "thread", "thread"), (1, None, "thread"), (1, "process", "process"),
    (4, "procss", "process"),  # a typo is not an error: the default, rather than no store
])
def test_which_writer_the_environment_asks_for(database_url, monkeypatch, cpus, set_to,
                                               expected):
    from orchestrate_nb.settings import load_settings

    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    if set_to is None:
        monkeypatch.delenv("ORCHESTRATE_NB_STORE_WRITER", raising=False)
    else:
        monkeypatch.setenv("ORCHESTRATE_NB_STORE_WRITER", set_to)
    assert load_settings().store_writer == expected
