"""Helpers of the sidebar's browser tests: runs written into the Lab's own store (in a
process of their own, as another kernel or worker would write them), the sidebar opened as
a user opens it, and a notebook written into the Lab's root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
SIDEBAR = '[data-testid="onb-sidebar"]'


def store_env(lab: Any) -> dict[str, str]:
    """The environment of a process that writes to the Lab's run store."""
    path = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH", "")]))
    return {**os.environ, "ORCHESTRATE_NB_HOME": str(lab.home), "PYTHONPATH": path}


def run_python(lab: Any, code: str, timeout: float = 300) -> str:
    """Run ``code`` in a fresh interpreter writing to the Lab's store; its output."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=store_env(lab),
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"the seeding process failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def start_python(lab: Any, code: str) -> subprocess.Popen[str]:
    """Start ``code`` in a process of its own (a flow that keeps running)."""
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=store_env(lab),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


SEED_PRELUDE = """
from orchestrate_nb.settings import load_settings
from orchestrate_nb.store.reporter import create_store_reporter
from synthetic_runs import SyntheticRuns

reporter = create_store_reporter(load_settings())
runs = SyntheticRuns()

def write(events):
    for event in events:
        reporter.emit(event)
"""

SEED_EPILOGUE = """
reporter.flush(120)
reporter.close()
"""


def seed(lab: Any, body: str) -> str:
    """Run ``body`` with ``runs`` (SyntheticRuns) and ``write(events)``, then flush."""
    return run_python(lab, SEED_PRELUDE + textwrap.dedent(body) + SEED_EPILOGUE)


def api(lab: Any, method: str, path: str, body: Any = None) -> Any:
    """A call to the Orchestrate REST API with the Lab's token."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{lab.url}/orchestrate/api/{path}", data=data,
                                     method=method,
                                     headers={"Authorization": f"token {lab.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def open_lab(page: Any, lab: Any, workspace: str) -> None:
    page.goto(f"{lab.url}/lab/workspaces/{workspace}?token={lab.token}&reset")
    page.wait_for_selector(".jp-LabShell")


def open_sidebar(page: Any) -> Any:
    """Click the Orchestrate icon in the left bar, as a user would."""
    page.locator('.jp-SideBar.jp-mod-left [data-id="orchestrate-nb-sidebar"]').click()
    sidebar = page.locator(SIDEBAR)
    sidebar.wait_for()
    return sidebar


def write_notebook(path: Path, cells: list[str]) -> Path:
    notebook = {
        "cells": [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "source": source,
                   "outputs": [], "execution_count": None} for i, source in enumerate(cells)],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                    "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))
    return path


def row_texts(sidebar: Any) -> list[str]:
    """The flow names of the run rows shown."""
    return [text.strip() for text in
            sidebar.locator('[data-testid="onb-run-flow"]').all_inner_texts()]
