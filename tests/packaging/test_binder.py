"""binder/: what mybinder runs, run here in a fresh virtualenv. postBuild installs the
repository (its own checks of both extensions must pass) and seeds the demo; start launches a
worker in the background and then the command it is given. The worker is alive, runs the
queued demo run to completion, and the seeded deployment is there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fresh_venv import REPO, Venv, make_venv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def binder_venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    # Binder's environment has Node (environment.yml) and a shell's tools.
    venv = make_venv(tmp_path_factory.mktemp("binder"), path_after="/usr/local/bin:/usr/bin:/bin")
    done = venv.run("bash", str(REPO / "binder" / "postBuild"), cwd=REPO, timeout=1800)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "seeded: deployment sales-report" in done.stdout
    return venv


@pytest.fixture
def started(binder_venv: Venv) -> Iterator[subprocess.Popen[bytes]]:
    """binder/start, given a command that just waits (Jupyter's place); stopped with its
    process group (the worker it started included) at the end."""
    process = subprocess.Popen(["bash", str(REPO / "binder" / "start"), "sleep", "600"],
                               env=binder_venv.env, cwd=REPO, start_new_session=True)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _until(check: callable, what: str, timeout: float = 180) -> str:  # type: ignore[valid-type]
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        ok, last = check()
        if ok:
            return last
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}:\n{last}")


def test_binder_start_runs_a_worker_that_runs_the_seeded_demo(
        binder_venv: Venv, started: subprocess.Popen[bytes]) -> None:
    orch = binder_venv.bin("orchestrate-nb")
    deployments = binder_venv.run(orch, "deployment", "ls")
    assert "sales-report" in deployments.stdout, deployments.stdout + deployments.stderr

    def worker_alive() -> tuple[bool, str]:
        out = binder_venv.run(orch, "worker", "ls", "--alive").stdout
        return "default" in out and "yes" in out, out

    _until(worker_alive, "a live worker")
    assert started.poll() is None  # start exec'd its command, which still runs

    def demo_run_done() -> tuple[bool, str]:
        out = binder_venv.run(orch, "runs", "ls", "--limit", "10").stdout
        lines = [line for line in out.splitlines() if "sales_report" in line]
        return any("Completed" in line for line in lines), out

    _until(demo_run_done, "the queued sales-report run to complete")
    log = Path(binder_venv.env["ORCHESTRATE_NB_HOME"]) / "worker.log"
    assert "sales-report" in log.read_text() or "sales_report" in log.read_text()
