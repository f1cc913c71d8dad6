"""Runs on one machine take turns at starting their kernels: jupyter_client picks a kernel's
ports by binding port 0 and closing it, and two kernels starting in the same second could be
handed the same one ("Kernel died before replying to kernel_info", seen in CI)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import nbformat
import papermill
from jupyter_core.paths import jupyter_runtime_dir
from nbformat.v4 import new_code_cell, new_notebook

from orchestrate_nb.deploy.papermill_engine import KERNEL_START_LOCK, register


def _notebook(path: Path) -> Path:
    nb = new_notebook(cells=[new_code_cell("print('ran')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_kernel_starts_only_when_no_other_run_is_starting_one(tmp_path):
    notebook = _notebook(tmp_path / "a.ipynb")
    runtime = Path(jupyter_runtime_dir())
    runtime.mkdir(parents=True, exist_ok=True)
    fd = os.open(runtime / KERNEL_START_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    done = threading.Event()

    def run() -> None:
        papermill.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"),
                                   progress_bar=False, engine_name=register(),
                                   kernel_name="python3")
        done.set()

    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another run is starting its kernel
        threading.Thread(target=run, daemon=True).start()
        time.sleep(3)
        assert not done.is_set()  # (papermill has written the notebook it will fill)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert done.wait(60)
    outputs = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs
    assert [o.get("text") for o in outputs] == ["ran\n"]


def test_notebooks_run_at_once_all_complete(tmp_path):
    notebook = _notebook(tmp_path / "a.ipynb")
    errors: list[str] = []

    def run(i: int) -> None:
        try:
            papermill.execute_notebook(str(notebook), str(tmp_path / f"out{i}.ipynb"),
                                       progress_bar=False, engine_name=register(),
                                       kernel_name="python3")
        except Exception as exc:  # noqa: BLE001 - the assertion says which
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert all((tmp_path / f"out{i}.ipynb").exists() for i in range(4))
