"""Helpers for the worker tests: notebooks with ``%%task`` cells, worker subprocesses, polling."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polling import WAIT_SECONDS, wait_for  # noqa: F401 - re-exported to the tests

Query = Callable[..., list[dict[str, Any]]]  # the ``query`` fixture


def write_task_notebook(path: Path, *cells: str, parameters: str = "n = 3\n") -> Path:
    """A notebook: a parameters cell, ``%load_ext orchestrate_nb``, then ``cells``."""
    sources = [(parameters, ["parameters"]), ("%load_ext orchestrate_nb", [])]
    sources += [(cell, []) for cell in cells]
    notebook = {
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {"tags": tags},
                   "source": source, "outputs": [], "execution_count": None}
                  for i, (source, tags) in enumerate(sources)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))
    return path


def start_worker(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "orchestrate_nb.cli.app", "worker", "start",
                             *args], stdin=subprocess.DEVNULL)


def run_worker_once(*args: str, completes: bool = True) -> None:
    """``worker start --run-once``, which must exit 0 when its runs complete, else 1
    (within a generous time)."""
    worker = start_worker("--run-once", *args)
    try:
        assert worker.wait(timeout=WAIT_SECONDS) == (0 if completes else 1)
    finally:
        stop(worker)


def stop(worker: subprocess.Popen[bytes]) -> None:
    """Kill a worker left running by a failed test (its runs' processes follow it)."""
    if worker.poll() is None:
        worker.kill()
        worker.wait()


def first(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    return rows[0] if rows else None
