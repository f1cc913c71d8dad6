"""The live run graph without a browser: batching (at most one update per interval, the final
state always sent), the widget's synced model after a real run, the switches that hide it,
and the static SVG that a notebook executed without a widget front end keeps."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import nbformat
import pytest
from graph_events import Events
from kernels import LOAD, execute, notebook_of
from traitlets.config import Configurable

from orchestrate_nb import flow, task
from orchestrate_nb.engine import ports
from orchestrate_nb.engine.reporting import subscribe, unsubscribe
from orchestrate_nb.notebook.graph import live
from orchestrate_nb.notebook.graph.live import LiveGraph, RunGraphWidget, watch_flow_run
from orchestrate_nb.notebook.graph.model import GraphModel

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(autouse=True)
def no_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATE_NB_STORE", "0")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def mapped_events(n: int) -> Events:
    ev = Events()
    ev.flow_state("RUNNING", "Running", 0)
    for i in range(n):
        run = ev.task("score", map_index=i)
        ev.ran(run, 0, 1)
    ev.flow_state("COMPLETED", "Completed", 2)
    return ev


def test_ten_thousand_events_in_one_second_make_at_most_ten_updates() -> None:
    clock, sent = FakeClock(), []
    live_graph = LiveGraph(GraphModel(), sent.append, interval=0.125, clock=clock)
    events = mapped_events(10_000).events
    step = 1.0 / len(events)
    for event in events:  # the engine's rate, with a pump after every event: worst case
        live_graph.emit(event)
        clock.now += step
        live_graph.pump()
    live_graph.finish()
    assert live_graph.sends == len(sent) <= 10
    final = sent[-1]
    assert final["flow"]["state"] == "completed"
    assert final["nodes"][0]["counts"] == {"completed": 10_000}


def test_nothing_new_sends_nothing_and_the_final_update_is_never_held_back() -> None:
    clock, sent = FakeClock(), []
    live_graph = LiveGraph(GraphModel(), sent.append, interval=0.125, clock=clock)
    ev = mapped_events(3)
    for event in ev.events[:-1]:
        live_graph.emit(event)
    assert live_graph.pump() is True
    assert live_graph.pump() is False  # nothing new
    live_graph.emit(ev.events[-1])
    assert live_graph.pump() is False  # too soon
    live_graph.finish()  # ... but the last state always goes out
    assert [g["flow"]["state"] for g in sent] == ["running", "completed"]


def test_the_ticking_thread_keeps_the_rate_whatever_the_event_rate() -> None:
    stamps: list[float] = []
    live_graph = LiveGraph(GraphModel(), lambda g: stamps.append(time.monotonic()),
                           interval=0.125)
    events = mapped_events(10_000).events
    live_graph.start()
    started = time.monotonic()
    for i, event in enumerate(events):
        live_graph.emit(event)
        if i % 2_000 == 0:
            time.sleep(0.05)  # let the ticks interleave with the events
    while time.monotonic() - started < 1.2:
        time.sleep(0.05)
    live_graph.finish()
    periodic = stamps[:-1]
    gaps = [b - a for a, b in zip(periodic, periodic[1:])]
    assert all(gap >= 0.12 for gap in gaps), gaps
    assert max(sum(1 for s in stamps if t <= s < t + 1) for t in stamps) <= 10
    assert live_graph.model.task_runs == 10_000


def test_a_run_updates_the_widget_model_to_its_final_states() -> None:
    from orchestrate_nb.notebook.graph.widget import RunGraph

    @task
    def double(x: int) -> int:
        return 2 * x

    @task
    def explode(values: list[int]) -> None:
        raise ValueError("no")

    @flow
    def pipeline() -> None:
        doubled = double.map([1, 2, 3])
        explode.submit(doubled)

    widget = RunGraph()
    messages: list[Any] = []
    widget.comm.send = lambda *args, **kwargs: messages.append(kwargs or args)
    live_graph = LiveGraph(GraphModel(), widget.show, interval=0.125)
    subscribe(live_graph)
    try:
        pipeline(return_state=True)
    finally:
        unsubscribe(live_graph)
    live_graph.finish()
    nodes = {n["label"]: n for n in widget.graph["nodes"]}
    assert {label: n["state"] for label, n in nodes.items()} == {
        "double (mapped)": "completed", "explode-0": "failed"}
    assert widget.graph["flow"]["state"] == "failed"
    assert len(messages) == live_graph.sends >= 1
    data, _ = widget._repr_mimebundle_()
    assert WIDGET_MIME in data and "explode-0" in data["image/svg+xml"]
    assert "explode-0        ✗ failed" in data["text/plain"]


class FakeShell(Configurable):
    """What the watcher needs of IPython's shell: a kernel, config, ``configurables``."""

    kernel = object()

    def __init__(self) -> None:
        super().__init__()
        self.configurables: list[Any] = []


@pytest.fixture
def fake_kernel(monkeypatch: pytest.MonkeyPatch) -> FakeShell:
    shell = FakeShell()
    monkeypatch.setattr(live, "kernel_shell", lambda: shell)
    monkeypatch.setattr(live, "FlowRunWatch", lambda model, settings: ("watch", model))
    RunGraphWidget.clear_instance()
    yield shell
    RunGraphWidget.clear_instance()


class FlowRunStub:
    id, name, flow_name = "f1", "brave-otter", "demo"


def test_a_top_level_flow_in_a_kernel_is_watched(fake_kernel: FakeShell) -> None:
    watch = watch_flow_run(FlowRunStub())
    assert watch is not None and watch[1].flow.flow_name == "demo"
    assert RunGraphWidget.instance() in fake_kernel.configurables  # so %config reaches it


def test_the_widget_can_be_switched_off_by_config_or_environment(
        fake_kernel: FakeShell, monkeypatch: pytest.MonkeyPatch) -> None:
    RunGraphWidget.for_shell(fake_kernel).show_on_flow_call = False
    assert watch_flow_run(FlowRunStub()) is None
    RunGraphWidget.instance().show_on_flow_call = True
    monkeypatch.setenv("ORCHESTRATE_NB_WIDGET", "0")
    assert watch_flow_run(FlowRunStub()) is None


def test_outside_a_kernel_nothing_is_shown() -> None:
    assert live.kernel_shell() is None
    assert watch_flow_run(FlowRunStub()) is None


FLOW_CELL = """\
from traitlets.config import Configurable

from orchestrate_nb import flow, task

@task
def load():
    return [1, 2, 3]

@task
def check(rows):
    raise ValueError("bad row")

@flow(name="nb-demo")
def nb_demo():
    check.submit(load.submit())

state = nb_demo(return_state=True)
"""


def widget_outputs(cell: Any) -> list[dict[str, Any]]:
    return [dict(o.data) for o in cell.outputs
            if o.output_type == "display_data" and WIDGET_MIME in o.data]


def saved_graphs(cell: Any) -> list[dict[str, Any]]:
    """The final run graphs a saved notebook keeps (no widget in them)."""
    return [dict(o.data) for o in cell.outputs if o.output_type == "display_data"
            and "onb-saved-graph" in o.data.get("text/html", "")]


def drawn_states(svg: str) -> dict[str, str]:
    return dict(re.findall(r'data-label="([^"]+)" data-state="([^"]+)"', svg))


def test_a_finished_run_s_output_is_the_final_graph_without_the_widget(tmp_path: Path) -> None:
    notebook = execute(notebook_of([FLOW_CELL, "%config RunGraphWidget.show_on_flow_call = "
                                    "False", "nb_demo(return_state=True)"]), tmp_path)
    assert widget_outputs(notebook.cells[0]) == []  # nothing a reopened notebook can't draw
    [shown] = saved_graphs(notebook.cells[0])
    html, svg, text = shown["text/html"], shown["image/svg+xml"], shown["text/plain"]
    assert drawn_states(svg) == drawn_states(html) == {"load-0": "completed",
                                                       "check-0": "failed"}
    assert "#cf222e" in svg and svg in html
    assert text.splitlines()[0].startswith("nb-demo · ")
    assert "check-0  ✗ failed" in text and "load-0   ✓ completed" in text
    assert saved_graphs(notebook.cells[2]) == []  # switched off by %config


def test_a_failed_node_carries_the_exception_and_the_user_s_last_frame(tmp_path: Path) -> None:
    notebook = execute(notebook_of([FLOW_CELL]), tmp_path)
    [shown] = saved_graphs(notebook.cells[0])
    [failure] = re.findall(r'<div class="onb-saved-graph__failure".*?</div>', shown["text/html"],
                           re.S)
    assert "check-0" in failure and "ValueError: bad row" in failure
    assert "line 11, in check" in failure and "raise ValueError(&quot;bad row&quot;)" in failure
    assert "(no log lines)" not in shown["text/html"]
    # the hover title of the node says it too
    assert re.search(r"<title>check-0: failed[^<]*\nValueError: bad row\n  File", shown["text/html"])


def test_nbconvert_html_of_an_executed_notebook_contains_the_graph(tmp_path: Path) -> None:
    from nbconvert import HTMLExporter

    notebook = execute(notebook_of([FLOW_CELL]), tmp_path)
    html, _ = HTMLExporter().from_notebook_node(notebook)
    assert 'data-label="check-0" data-state="failed"' in html and "<svg" in html
    assert "ValueError: bad row" in html
    assert "Error displaying widget" not in html


CELLS = [LOAD, "%%task first\nx = 1", "%%task second\ny = x / 0", "%%task third\nz = y + 1"]


def test_flow_run_and_flow_graph_show_the_task_cells_as_a_saved_graph(tmp_path: Path) -> None:
    nbformat.write(notebook_of(CELLS), str(tmp_path / "cells.ipynb"))
    notebook = execute(notebook_of([
        LOAD, "%config RunGraphWidget.show_on_flow_call = False", FLOW_CELL,
        "%flow run --notebook cells.ipynb", "%flow graph --notebook cells.ipynb"]), tmp_path)
    assert saved_graphs(notebook.cells[2]) == []  # %config worked right after %load_ext
    assert widget_outputs(notebook.cells[3]) == widget_outputs(notebook.cells[4]) == []
    [run] = saved_graphs(notebook.cells[3])
    assert drawn_states(run["text/html"]) == {"first": "completed", "second": "failed",
                                              "third": "not run"}
    assert "second  ✗ failed" in run["text/plain"] and ">second<" in run["image/svg+xml"]
    assert "ZeroDivisionError: division by zero" in run["text/html"]
    assert "in &lt;module&gt;" in run["text/html"] and "y = x / 0" in run["text/html"]
    assert [o.ename for o in notebook.cells[3].outputs if o.output_type == "error"] == [
        "ZeroDivisionError"]
    [graph] = saved_graphs(notebook.cells[4])
    assert drawn_states(graph["text/html"])["first"] == "completed"
    assert "→ second (x)" in graph["text/plain"] and graph["image/svg+xml"].startswith("<svg")


def test_with_widgets_switched_off_by_the_environment_graphs_are_static_svg(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat.write(notebook_of(CELLS[:2]), str(tmp_path / "cells.ipynb"))
    monkeypatch.setenv("ORCHESTRATE_NB_WIDGET", "0")
    notebook = execute(notebook_of([FLOW_CELL, LOAD, "%flow graph --notebook cells.ipynb"]),
                       tmp_path)
    assert widget_outputs(notebook.cells[0]) == []
    assert json.dumps(notebook.cells[0].outputs).count("image/svg+xml") == 0
    [graph] = [o.data for o in notebook.cells[2].outputs if o.output_type == "display_data"]
    assert WIDGET_MIME not in graph and ">first<" in graph["image/svg+xml"]


def test_a_finished_graph_is_pumped_no_more_and_one_thread_serves_every_graph() -> None:
    sent: list[list[dict[str, Any]]] = [[], [], []]
    graphs = [LiveGraph(GraphModel(), out.append, interval=0.02) for out in sent]
    for graph in graphs:
        graph.start()
    graphs[0].finish()
    count = len(sent[0])
    graphs[0].emit(mapped_events(1).events[0])
    time.sleep(0.1)
    assert len(sent[0]) == count
    for graph in graphs[1:]:
        graph.finish()
    tickers = [t for t in threading.enumerate() if t.name == live.TICKER_THREAD]
    assert len(tickers) == 1 and tickers[0].daemon


WATCHED: list[Any] = []


class RecordingWatch:
    def __init__(self, flow_run: Any) -> None:
        WATCHED.append(("created", flow_run.flow_name))

    def __enter__(self) -> None:
        WATCHED.append("enter")

    def __exit__(self, *exc: Any) -> None:
        WATCHED.append("exit")


def broken_watch(flow_run: Any) -> None:
    raise ImportError("no anywidget here")


@pytest.fixture
def in_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    WATCHED.clear()


def test_the_runtime_lets_a_watcher_follow_top_level_flow_runs_only(
        in_a_kernel: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ports.PORTS, "flow_run_watcher", f"{__name__}:RecordingWatch")

    @flow
    def child() -> int:
        return 1

    @flow
    def parent() -> int:
        return child() + 1

    assert parent() == 2
    assert WATCHED == [("created", "parent"), "enter", "exit"]


def test_a_watcher_that_cannot_load_does_not_stop_the_flow(
        in_a_kernel: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ports.PORTS, "flow_run_watcher", f"{__name__}:broken_watch")

    @flow
    def still_runs() -> str:
        return "ok"

    assert still_runs() == "ok"
    assert still_runs() == "ok"


def test_a_failure_s_frame_is_the_last_one_in_the_user_s_code() -> None:
    from orchestrate_nb.notebook.graph.failure_details import failure_details

    message = ("Task run failed with exception: FileNotFoundError('data.csv')\n"
               "Traceback (most recent call last):\n"
               '  File "<etl.ipynb, cell 2>", line 3, in <module>\n'
               "    df = pd.read_csv(path)\n"
               "         ^^^^^^^^^^^^^^^^^\n"
               '  File "/venv/lib/python3.11/site-packages/pandas/io.py", line 9, in read_csv\n'
               "    raise FileNotFoundError(path)\n"
               "FileNotFoundError: data.csv")
    assert failure_details(message) == {
        "exception": "FileNotFoundError: data.csv",
        "frame": 'File "<etl.ipynb, cell 2>", line 3, in <module>\n    df = pd.read_csv(path)'}
    assert failure_details("no traceback here") is None
