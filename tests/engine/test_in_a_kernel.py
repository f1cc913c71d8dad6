"""Flows inside a real Jupyter kernel, whose event loop is already running."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

CELLS = [
    """
import asyncio
from orchestrate_nb import flow, task

@task
async def fetch(i):
    await asyncio.sleep(0.01)
    return i * 2

@task
def double(x):
    return 2 * x

@flow
def sync_flow(n: int):
    return [fetch(i) for i in range(n)] + [double(n)]

@flow
async def async_flow(n: int):
    futures = [fetch.submit(i) for i in range(n)]
    return [f.result() for f in futures]
""",
    "sync_result = sync_flow(3)\nprint('sync:', sync_result)",
    "async_result = await async_flow(3)\nprint('async:', async_result)",
    "import sys; print('nest_asyncio loaded:', 'nest_asyncio' in sys.modules)",
]


@pytest.fixture
def executed(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(tmp_path))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    return ["".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            for cell in nb.cells]


def test_a_sync_flow_returns_its_value_in_a_kernel_even_with_async_tasks(executed):
    assert "sync: [0, 2, 4, 6]" in executed[1]


def test_an_async_flow_can_be_awaited_in_a_kernel(executed):
    assert "async: [0, 2, 4]" in executed[2]


def test_no_nest_asyncio_is_needed(executed):
    assert "nest_asyncio loaded: False" in executed[3]


UNREACHABLE_CELLS = [
    """
from orchestrate_nb import flow, task

@task
def step(i):
    return i * 2

@flow
def ten():
    return sum(step(i) for i in range(10))

print("first:", ten())
""",
    "import time; time.sleep(1); print('an unrelated cell')",
    "print('second:', ten())",
]


def test_an_unreachable_store_costs_a_cell_one_line_and_nothing_later(tmp_path, monkeypatch):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ORCHESTRATE_NB_HOME", str(tmp_path))
    monkeypatch.setenv("ORCHESTRATE_NB_DATABASE_URL",
                       f"postgresql+psycopg://postgres:hunter2xyz@127.0.0.1:{port}/test")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in UNREACHABLE_CELLS])
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    streams = [{o.name: o.text for o in cell.outputs if o.output_type == "stream"}
               for cell in nb.cells]

    store_lines = [line for line in streams[0].get("stderr", "").splitlines()
                   if "run store" in line]
    assert len(store_lines) == 1
    assert f"run store unreachable at postgresql+psycopg://postgres:***@127.0.0.1:{port}/test" \
        in store_lines[0]
    assert "first: 90" in streams[0]["stdout"] and "second: 90" in streams[2]["stdout"]
    assert streams[1] == {"stdout": "an unrelated cell\n"}
    assert "run store" not in streams[2].get("stderr", "")
    assert all("Traceback" not in text and "hunter2xyz" not in text
               for cell in streams for text in cell.values())
