"""Helpers of the server tests: notebooks in the Jupyter root, worker processes, waiting."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

WAIT_SECONDS = 120.0


def write_notebook(path: Path, body: str = "print('n is', n)",
                   parameters: str = "n = 3\nday: str = 'mon'\nrate = 0.5\n") -> Path:
    """A notebook with a parameters cell and one cell that prints."""
    cells = [(parameters, ["parameters"]), (body, [])]
    notebook = {
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {"tags": tags},
                   "source": source, "outputs": [], "execution_count": None}
                  for i, (source, tags) in enumerate(cells)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook))
    return path


def worker_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestrate_nb.cli.app", "worker", *args]


def start_worker(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(worker_command("start", *args), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def run_worker_once(*args: str) -> tuple[int, str]:
    """``worker start --run-once`` in a process of its own; (exit code, its output)."""
    def run() -> tuple[int, str]:
        done = subprocess.run(worker_command("start", "--run-once", *args),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=WAIT_SECONDS)
        return done.returncode, done.stdout + done.stderr

    return await asyncio.to_thread(run)


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = WAIT_SECONDS,
                     every: float = 0.1) -> Any:
    """Await ``check()`` until it returns something true; that value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"not true within {timeout} s: {value!r}")
        await asyncio.sleep(every)
