"""``Flow.serve`` and deploying flow objects: flows defined in a ``__main__`` script or a
notebook cell are deployed by value and run by real run processes; serve stops on
SIGTERM/SIGINT (or a kernel interrupt), restores the signal handlers and pauses its
deployment; bad inputs are one line and write nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from worker_helpers import Query, first, run_worker_once, stop, wait_for

from orchestrate_nb import deploy_flow, flow, get_run_logger
from orchestrate_nb.deploy.deployments import trigger_deployment
from orchestrate_nb.deploy.flow_pickles import pickle_path
from orchestrate_nb.deploy.serve import serve
from orchestrate_nb.errors import DeploymentError
from orchestrate_nb.store.database import Database

pytestmark = pytest.mark.timeout(180)

SCRIPT = '''
from orchestrate_nb import flow, get_run_logger, task

@task
def double(x: int) -> int:
    return 2 * x

@flow
def triple(x: int = 1) -> int:
    value = double(x) + x
    get_run_logger().info(f"triple({x}) = {value}")
    return value

if __name__ == "__main__":
    triple.serve(name="served")
    print("serve returned")
'''


def deployment(query: Query, name: str) -> dict[str, Any]:
    return query("SELECT kind, pool, paused, entrypoint FROM deployments WHERE name = :n",
                 n=name)[0]


def run_state(query: Query, run_id: str) -> dict[str, Any]:
    return query("SELECT state_type, state_message FROM flow_runs WHERE id = :id",
                 id=run_id)[0]


def finished(query: Query, run_id: str) -> dict[str, Any] | None:
    row = run_state(query, run_id)
    return row if row["state_type"] in ("COMPLETED", "FAILED", "CRASHED") else None


def messages(query: Query, run_id: str) -> list[str]:
    return [r["message"] for r in query("SELECT message FROM logs WHERE flow_run_id = :id",
                                        id=run_id)]


@pytest.fixture
def serve_script(tmp_path: Path) -> Iterator[Callable[[], tuple[subprocess.Popen[bytes], Path]]]:
    """``serve_script()``: run the script above as ``__main__`` until it says it
    serves; the process and its output file."""
    started: list[subprocess.Popen[bytes]] = []

    def run() -> tuple[subprocess.Popen[bytes], Path]:
        script = tmp_path / "serve_me.py"
        script.write_text(SCRIPT)
        output = tmp_path / "serve_me.out"
        with open(output, "wb") as out:
            process = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path,
                                       stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT)
        started.append(process)
        wait_for(lambda: "Serving flow 'triple'" in output.read_text()
                 or process.poll() is not None, "the script to serve")
        assert process.poll() is None, output.read_text()
        return process, output

    yield run
    for process in started:
        stop(process)


def test_a_flow_served_from_a_main_script_runs_a_triggered_run_and_pauses_on_sigterm(
        database: Database, query: Query, cli: Any, serve_script: Any) -> None:
    process, output = serve_script()
    served = deployment(query, "served")
    assert (served["kind"], served["pool"], served["paused"]) == (
        "pickled", "serve:served", False)
    assert "orchestrate-nb deployment run served" in output.read_text()

    result = cli("deployment", "run", "served", "-p", "x=3")
    assert result.code == 0, result.err
    run_id = re.search(r"Created run (\S+)", result.out).group(1)  # type: ignore[union-attr]
    done = wait_for(lambda: finished(query, run_id), "the run to finish")
    assert done["state_type"] == "COMPLETED", done
    assert "triple(3) = 9" in messages(query, run_id)
    tasks = query("SELECT task_name, state_type FROM task_runs WHERE flow_run_id = :id",
                  id=run_id)
    assert tasks == [{"task_name": "double", "state_type": "COMPLETED"}]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, output.read_text()
    text = output.read_text()
    assert "Stopped serving 'served'" in text and "serve returned" in text
    assert deployment(query, "served")["paused"] in (True, 1)


def test_a_flow_defined_in_a_notebook_cell_is_deployed_by_value_and_run_by_a_worker(
        tmp_path: Path, database: Database, query: Query,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    (tmp_path / "nb_helpers.py").write_text("OFFSET = 100\n")  # imported from its folder
    monkeypatch.setattr(sys, "path", sys.path[:])  # (loading the pickle here adds the folder)
    cell = textwrap.dedent('''
        import nb_helpers
        from orchestrate_nb import deploy_flow, flow, get_run_logger, task

        @task
        def square(x: int) -> int:
            return x * x

        @flow
        def squares(n: int = 2) -> int:
            total = sum(square(i) for i in range(n)) + nb_helpers.OFFSET
            get_run_logger().info(f"total {total}")
            return total

        print(deploy_flow(squares, "from-notebook", parameters={"n": 3}).kind)
    ''')
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert notebook.cells[0].outputs[0]["text"] == "pickled\n"
    saved = deployment(query, "from-notebook")
    assert (saved["kind"], saved["pool"]) == ("pickled", "default")

    try:
        run_id = trigger_deployment("from-notebook", {"n": 4})
    finally:
        sys.modules.pop("nb_helpers", None)
    run_worker_once()  # (in this folder, not the notebook's)
    assert run_state(query, run_id)["state_type"] == "COMPLETED"
    assert "total 114" in messages(query, run_id)
    assert len(query("SELECT id FROM task_runs WHERE flow_run_id = :id", id=run_id)) == 4
    with pytest.raises(DeploymentError, match="parameter 'n'"):
        trigger_deployment("from-notebook", {"n": "many"})
    sys.modules.pop("nb_helpers", None)


def interrupt_when(condition: Callable[[], object], signum: int = signal.SIGINT,
                   timeout: float = 60) -> threading.Thread:
    """Send ``signum`` to this process once ``condition()`` holds (or after ``timeout``)."""
    def watch() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not condition():
            time.sleep(0.1)
        os.kill(os.getpid(), signum)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_served_schedule_runs_until_sigint_then_handlers_are_restored_and_it_is_paused(
        database: Database, query: Query) -> None:
    @flow(name="every-second")
    def tick(label: str = "tick") -> str:
        get_run_logger().info(f"{label}!")
        return label

    def completed() -> list[dict[str, Any]]:
        return query("SELECT id FROM flow_runs WHERE state_type = 'COMPLETED'")

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    interrupt_when(lambda: len(completed()) >= 2)
    tick.serve(interval=1, parameters={"label": "tock"}, print_starting_message=False)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert not [t for t in threading.enumerate() if t.name.startswith("orchestrate-nb-serve")]

    runs = completed()
    assert len(runs) >= 2
    assert "tock!" in messages(query, runs[0]["id"])
    served = deployment(query, "every-second")
    assert (served["kind"], served["paused"]) == ("pickled", True)
    assert query("SELECT id FROM flow_runs WHERE state_type NOT IN "
                 "('COMPLETED', 'SCHEDULED')") == []

    stop_serving = threading.Event()  # serving again resumes it
    again = threading.Thread(target=serve, args=(tick,), daemon=True, kwargs={
        "interval": 1, "stop_event": stop_serving, "print_starting_message": False})
    again.start()
    try:
        wait_for(lambda: not deployment(query, "every-second")["paused"], "resumed")
    finally:
        stop_serving.set()
        again.join(60)
    assert deployment(query, "every-second")["paused"] in (True, 1)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_second_signal_stops_the_running_runs_at_once(
        tmp_path: Path, database: Database, query: Query) -> None:
    started = tmp_path / "started"

    @flow(name="slow")
    def slow() -> None:
        started.touch()
        time.sleep(120)

    run_ids: list[str] = []

    def trigger_then_interrupt_twice() -> None:
        wait_for(lambda: first(query("SELECT id FROM deployments WHERE name = 'slow' AND "
                                     "paused = :no", no=False)), "the deployment")
        run_ids.append(trigger_deployment("slow"))
        wait_for(started.exists, "the run to start")
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=trigger_then_interrupt_twice, daemon=True).start()
    began = time.monotonic()
    slow.serve(print_starting_message=False)
    assert time.monotonic() - began < 30  # not the 30 s grace period
    assert run_state(query, run_ids[0])["state_type"] == "CRASHED"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_interrupting_the_kernel_stops_serve_and_leaves_no_thread_or_run_behind(
        tmp_path: Path, database: Database, query: Query) -> None:
    from jupyter_client.manager import start_new_kernel

    kernel, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        serving = client.execute(textwrap.dedent('''
            from orchestrate_nb import flow

            @flow
            def ping(x: int = 1) -> int:
                return x + 1

            ping.serve(name="ping", interval=1)
        '''))
        wait_for(lambda: first(query("SELECT id FROM flow_runs WHERE state_type = "
                                     "'COMPLETED'")), "a scheduled run to complete")
        kernel.interrupt_kernel()
        assert client.get_shell_msg(timeout=60)["content"]["status"] == "ok"
        outputs = _stream_text(client, serving)
        assert "Serving flow 'ping'" in outputs and "Stopped serving 'ping'" in outputs
        check = ("import signal, threading\n"
                 "print(sorted(t.name for t in threading.enumerate() "
                 "if t.name.startswith('orchestrate-nb')), "
                 "signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)")
        checking = client.execute(check)
        assert client.get_shell_msg(timeout=60)["content"]["status"] == "ok"
        assert "[] True" in _stream_text(client, checking)
    finally:
        client.stop_channels()
        kernel.shutdown_kernel(now=True)
    assert deployment(query, "ping")["paused"]
    assert query("SELECT id FROM flow_runs WHERE state_type NOT IN "
                 "('COMPLETED', 'SCHEDULED')") == []


def _stream_text(client: Any, request: str) -> str:
    """The stream output of a request, read until the kernel is idle after it."""
    text = []
    while True:
        message = client.get_iopub_msg(timeout=60)
        if message["parent_header"].get("msg_id") != request:
            continue
        if message["msg_type"] == "stream":
            text.append(message["content"]["text"])
        elif message["msg_type"] == "status" and \
                message["content"]["execution_state"] == "idle":
            return "".join(text)


# -- bad inputs -------------------------------------------------------------------------
def pickle_files() -> list[Path]:
    folder = pickle_path("any").parent
    return sorted(folder.iterdir()) if folder.exists() else []


@flow
def adder(x: int, y: int = 1) -> int:
    return x + y


@pytest.mark.parametrize(("parameters", "message"), [
    ({"zz": 1}, "unknown parameter 'zz' (flow 'local' takes: x)"),
    ({"x": "abc"}, "'x'"),
])
def test_a_flow_object_with_bad_parameters_is_one_line_and_nothing_is_written(
        database: Database, query: Query, parameters: dict[str, Any], message: str) -> None:
    @flow(name="local")
    def local(x: int) -> int:
        return x

    for attempt in (lambda: deploy_flow(local, "bad", parameters=parameters),
                    lambda: local.serve("bad", parameters=parameters)):
        with pytest.raises(DeploymentError) as caught:
            attempt()
        assert message in str(caught.value) and "\n" not in str(caught.value)
    assert query("SELECT id FROM deployments") == []
    assert pickle_files() == []


def test_serve_refuses_a_bad_limit_before_writing_anything(database: Database,
                                                          query: Query) -> None:
    with pytest.raises(DeploymentError, match="limit must be a whole number ≥ 1, got 0"):
        adder.serve("adder", limit=0)
    assert query("SELECT id FROM deployments") == []


def test_a_flow_using_an_unpicklable_value_is_refused_in_one_line(database: Database,
                                                                 query: Query) -> None:
    numbers = (i for i in range(3))

    @flow(name="gen")
    def uses_a_generator() -> int:
        return next(numbers)

    with pytest.raises(DeploymentError, match="flow 'gen' cannot be deployed by value: "
                                              "TypeError: cannot pickle 'generator'"):
        deploy_flow(uses_a_generator, "gen")
    assert query("SELECT id FROM deployments") == []
    assert pickle_files() == []


def test_a_flow_of_a_module_file_is_deployed_by_entrypoint_and_a_variant_by_value(
        tmp_path: Path, database: Database, query: Query,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "served_module.py").write_text(
        "from orchestrate_nb import flow\n\n@flow\ndef pipeline(n: int = 1) -> int:\n"
        "    return n\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import served_module  # type: ignore[import-not-found]

    try:
        by_file = deploy_flow(served_module.pipeline)
        variant = deploy_flow(served_module.pipeline.with_options(name="variant"))
    finally:
        del sys.modules["served_module"]
    assert (by_file.name, by_file.kind, by_file.entrypoint) == (
        "pipeline", "python", f"{tmp_path / 'served_module.py'}:pipeline")
    assert (variant.name, variant.kind) == ("variant", "pickled")
    assert pickle_files() == [Path(variant.entrypoint)]


def test_a_corrupt_or_missing_pickle_fails_its_run_with_one_line_naming_the_file(
        database: Database, query: Query, cli: Any) -> None:
    @flow(name="fragile")
    def fragile(x: int = 1) -> int:
        return x

    for name in ("corrupt", "missing"):
        deploy_flow(fragile, name)
    runs = {name: trigger_deployment(name) for name in ("corrupt", "missing")}
    corrupt, missing = pickle_path("corrupt"), pickle_path("missing")
    corrupt.write_bytes(b"not a pickle")
    missing.unlink()
    run_worker_once(completes=False)
    failed = run_state(query, runs["corrupt"])
    assert failed["state_type"] == "FAILED"
    assert failed["state_message"].startswith(f"the deployed flow's file is corrupt: {corrupt} (")
    assert run_state(query, runs["missing"]) == {
        "state_type": "FAILED",
        "state_message": f"the deployed flow's file is missing: {missing} (deploy the flow "
                         "again)"}

    result = cli("deployment", "run", "corrupt")  # triggering checks parameters: it loads it
    assert result.code == 1 and result.err.count("\n") == 1 and str(corrupt) in result.err


def test_removing_a_pickled_deployment_removes_its_file(database: Database, query: Query,
                                                       cli: Any) -> None:
    @flow(name="temporary")
    def temporary() -> None:
        return None

    info = deploy_flow(temporary)
    assert Path(info.entrypoint).is_file()
    listing = cli("deployment", "ls")
    assert re.search(r"temporary\s+│\s+temporary\s+│\s+pickled", listing.out), listing.out
    assert cli("deployment", "rm", "temporary").code == 0
    assert not Path(info.entrypoint).exists()


def test_serve_inside_a_run_does_nothing(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ORCHESTRATE_NB_FLOW_RUN_ID", "run-1")
    adder.serve("never")  # (no database: it returns before deploying)
    assert "serve() skipped: this process executes deployment run run-1" in \
        capsys.readouterr().err



@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_async_flow_deployed_by_value_completes(database: Database, query: Query) -> None:
    import asyncio

    @flow(name="waits")
    async def waits(x: int = 1) -> int:
        await asyncio.sleep(0.01)
        get_run_logger().info(f"waited for {x}")
        return x

    deploy_flow(waits)
    run_id = trigger_deployment("waits", {"x": 2})
    run_worker_once()
    assert run_state(query, run_id)["state_type"] == "COMPLETED"
    assert "waited for 2" in messages(query, run_id)
