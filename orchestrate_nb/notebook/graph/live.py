"""The live run graph: run events in, at most one widget update per interval out.

The engine's hot path only appends each event to a deque (``LiveGraph.emit`` *is*
``deque.append``). One daemon thread, shared by every live graph, wakes every ``interval``
seconds, folds what arrived into the ``GraphModel`` and, if anything changed and the last
update is at least ``interval`` old, publishes one snapshot: one comm message, whatever the
task rate. When the flow run ends,
``finish`` folds the rest and publishes the final graph at once, so the final state is always
shown. The kernel's event loop is no use for the ticks: a sync flow called in a cell holds
the main thread until it returns.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from traitlets import Bool, Float, Int
from traitlets.config import SingletonConfigurable

from orchestrate_nb.core.events import RunEvent
from orchestrate_nb.notebook.graph.html import saved_graph_bundle
from orchestrate_nb.notebook.graph.model import GraphModel
from orchestrate_nb.notebook.graph.svg import GraphEdge, GraphNode

if TYPE_CHECKING:
    from orchestrate_nb.notebook.graph.widget import RunGraph

_log = logging.getLogger("orchestrate_nb.widget")
Publish = Callable[[dict[str, Any]], None]


class RunGraphWidget(SingletonConfigurable):
    """Settings of the run-graph widget (``c.RunGraphWidget.show_on_flow_call = False`` in
    ``ipython_config.py``, or ``%config RunGraphWidget.show_on_flow_call = False`` once
    ``%load_ext orchestrate_nb`` or a first flow call has registered them)."""

    show_on_flow_call = Bool(True, help="Show the live run graph when a @flow is called "
                             "at the top level of a notebook cell.").tag(config=True)
    update_interval = Float(0.125, min=0.02, help="Seconds between the widget's updates "
                            "while a run is going (0.125: at most 8 a second, plus the "
                            "final one).").tag(config=True)
    group_threshold = Int(20, min=1, help="Direct calls of one task in a flow run shown "
                          "one by one; past this they are folded into one node with counts "
                          "(mapped runs always are).").tag(config=True)
    log_lines = Int(5, min=0, help="Last log lines kept per node (shown on hover or click)."
                    ).tag(config=True)

    @classmethod
    def for_shell(cls, shell: Any) -> RunGraphWidget:
        """The settings, read from ``shell``'s config; ``%config`` reaches them too."""
        if cls.initialized():
            return cls.instance()
        settings = cls.instance(parent=shell)
        configurables = getattr(shell, "configurables", None)
        if configurables is not None and settings not in configurables:
            configurables.append(settings)
        return settings


class LiveGraph:
    """A ``RunReporter`` that batches events into rate-limited snapshots."""

    def __init__(self, model: GraphModel, publish: Publish, interval: float = 0.125,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.model = model
        self.interval = interval
        self.sends = 0
        self._publish = publish
        self._clock = clock
        self._wall_clock = wall_clock
        self._queue: deque[RunEvent] = deque()
        self.emit: Callable[[RunEvent], None] = self._queue.append  # the hot path
        self._last_send = float("-inf")
        self._lock = threading.Lock()
        self._finished = False

    def flush(self, timeout: float | None = None) -> None:
        return None  # nothing to make durable; the final update is ``finish``'s

    def close(self) -> None:
        self.finish()

    def pump(self, force: bool = False) -> bool:
        """Fold queued events; publish if something changed and the interval has passed
        (or ``force``). True when it published."""
        with self._lock:
            return self._pump(force)

    def _pump(self, force: bool) -> bool:
        self.model.drain(self._queue)
        if not self.model.changed:
            return False
        now = self._clock()
        if not force and now - self._last_send < self.interval:
            return False
        self._publish(self.model.snapshot(self._wall_clock()))
        self._last_send = now
        self.sends += 1
        return True

    def start(self) -> None:
        """Pump every ``interval`` from the shared ticker thread until ``finish``."""
        _TICKER.add(self, contextvars.copy_context())  # the cell's context, for the kernel

    def tick(self) -> None:
        with self._lock:
            if not self._finished:
                self._pump(force=False)

    def finish(self) -> None:
        """Stop the ticks and publish the final graph (at once: it is never held back)."""
        _TICKER.remove(self)
        with self._lock:
            self._finished = True
            self._pump(force=True)


class _Ticker:
    """One daemon thread pumps every live graph; it sleeps, without waking, while none is.
    (Starting a thread per flow call would cost the call about a millisecond in a kernel.)"""

    def __init__(self) -> None:
        self._graphs: dict[LiveGraph, contextvars.Context] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, graph: LiveGraph, context: contextvars.Context) -> None:
        with self._lock:
            self._graphs[graph] = context
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=TICKER_THREAD,
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def remove(self, graph: LiveGraph) -> None:
        with self._lock:
            self._graphs.pop(graph, None)

    def _run(self) -> None:
        while True:
            with self._lock:
                live = list(self._graphs.items())
            if not live:
                self._wake.wait()
                self._wake.clear()
                continue
            time.sleep(min(graph.interval for graph, _ in live))
            for graph, context in live:
                try:
                    context.run(graph.tick)
                except Exception:  # never let a drawing problem end the updates or the run
                    _log.exception("run graph update failed")


TICKER_THREAD = "orchestrate-nb-run-graph"
_TICKER = _Ticker()


class FlowRunWatch:
    """Shows one flow run's live graph in the current cell (the engine's watcher seam)."""

    def __init__(self, model: GraphModel, settings: RunGraphWidget) -> None:
        from IPython.display import display

        from orchestrate_nb.notebook.graph.widget import RunGraph

        self.widget: RunGraph = RunGraph(graph=model.snapshot(time.time()))
        self.live = LiveGraph(model, self.widget.show, settings.update_interval)
        self._handle = display(self.widget, display_id=True)

    def __enter__(self) -> FlowRunWatch:
        from orchestrate_nb.engine.reporting import subscribe

        subscribe(self.live)
        self.live.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        from orchestrate_nb.engine.reporting import unsubscribe

        unsubscribe(self.live)
        try:
            self.live.finish()
            # The final graph replaces the widget in the output: a saved notebook then
            # shows it everywhere, kernel or not (see graph_html).
            if self._handle is not None:
                self._handle.update(saved_graph_bundle(self.widget.graph), raw=True)
            self.widget.close()
        except Exception:
            _log.exception("could not show the final run graph")


def kernel_shell() -> Any:
    """The IPython shell when running in a Jupyter kernel (not a terminal IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if getattr(shell, "kernel", None) is not None else None


def _settings() -> RunGraphWidget | None:
    """The widget's settings in a kernel with widgets on (``ORCHESTRATE_NB_WIDGET``)."""
    from orchestrate_nb.settings import load_settings

    shell = kernel_shell()
    if shell is None or not load_settings().widget_enabled:
        return None
    return RunGraphWidget.for_shell(shell)


def _model(settings: RunGraphWidget, flow_run: Any = None) -> GraphModel:
    model = GraphModel(getattr(flow_run, "id", None), log_lines=settings.log_lines,
                       group_threshold=settings.group_threshold)
    if flow_run is not None:
        model.flow.flow_name, model.flow.name = flow_run.flow_name, flow_run.name
    return model


def watch_flow_run(flow_run: Any) -> FlowRunWatch | None:
    """The engine's hook for a top-level flow run: a live graph, unless switched off
    (``ORCHESTRATE_NB_WIDGET=0`` or ``c.RunGraphWidget.show_on_flow_call = False``)."""
    settings = _settings()
    if settings is None or not settings.show_on_flow_call:
        return None
    return FlowRunWatch(_model(settings, flow_run), settings)


def _plan(model: GraphModel, nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> None:
    for node in nodes:
        model.plan(node.name, node.state, node.detail,
                   stale=(node.detail or "stale") if node.state == "stale" else None)
    for edge in edges:
        model.plan_edge(edge.up, edge.down, edge.label)


def watch_planned_run(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge],
                      flow_run: Any) -> FlowRunWatch | None:
    """``%flow run``: the task cells drawn first, then updated live by the flow run."""
    settings = _settings()
    if settings is None:
        return None
    model = _model(settings, flow_run)
    _plan(model, nodes, edges)
    return FlowRunWatch(model, settings)


def show_planned_graph(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> bool:
    """``%flow graph``: the task cells drawn as a finished run graph is (nothing in it
    changes, so no widget: the output is what a saved notebook shows). False when widgets
    are off: the caller shows the static SVG alone."""
    settings = _settings()
    if settings is None:
        return False
    from IPython.display import display

    model = _model(settings)
    model.flow.state = ""  # no run: no state to show
    _plan(model, nodes, edges)
    display(saved_graph_bundle(model.snapshot(time.time())), raw=True)
    return True
