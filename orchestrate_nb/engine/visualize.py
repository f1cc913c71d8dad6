"""Tracing a flow's task graph without running its tasks (``Flow.visualize``).

The flow's body runs inside a flow-run context that carries a ``Tracer``: every task call,
``.submit()``, ``.map()`` and subflow call inside it records a node and returns a
placeholder instead of running (a task's ``viz_return_value`` when it has one, as in
Prefect). A placeholder passed to another task records an edge, as a future would. The
result is a ``TaskGraph`` (nodes and edges); ``notebook/graph/visualize.py`` draws it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from orchestrate_nb.core.states import Completed, Pending
from orchestrate_nb.engine import inputs
from orchestrate_nb.engine.context import FlowRunContext, flow_run_ctx
from orchestrate_nb.engine.records import FlowRun
from orchestrate_nb.errors import OrchestrateError


class FlowVisualizationError(OrchestrateError):
    """The flow's body could not run with placeholders in place of task results."""


@dataclass
class TaskGraph:
    flow_name: str
    nodes: list[str] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (up, down, input)


class Placeholder:
    """What a task call returns while a flow is visualized (also its future)."""

    __slots__ = ("node", "__weakref__")

    def __init__(self, node: str) -> None:
        self.node = node

    def result(self, *args: Any, **kwargs: Any) -> Placeholder:
        return self

    def wait(self, *args: Any, **kwargs: Any) -> None:
        return None

    @property
    def state(self) -> Any:
        return Completed(data=self)

    def __repr__(self) -> str:
        return f"<result of {self.node}>"


class _NullReporter:
    def emit(self, event: Any) -> None:
        return None

    def flush(self) -> None:
        return None


class Tracer:
    """Records task calls as nodes and placeholders passed along as edges."""

    def __init__(self, graph: TaskGraph) -> None:
        self.graph = graph
        self.produced: dict[int, tuple[Any, str]] = {}  # id(value) -> (value, node)
        self.counts: dict[str, int] = {}

    def call(self, name: str, parameters: dict[str, Any], wait_for: Any = None,
             viz_return_value: Any = None) -> Any:
        count = self.counts.get(name, 0)
        self.counts[name] = count + 1
        node = f"{name}-{count}"
        self.graph.nodes.append(node)
        upstream = inputs.collect_upstream(parameters, wait_for, self.produced)
        for up, input_name in upstream.edges:
            self.graph.edges.append((up, node, input_name))
        value = viz_return_value if viz_return_value is not None else Placeholder(node)
        if inputs.trackable(value):
            self.produced[id(value)] = (value, node)
        return value

    def map(self, task: Any, parameters: dict[str, Any], wait_for: Any) -> list[Any]:
        sizes = {len(v) for v in parameters.values()
                 if isinstance(v, (list, tuple)) and not isinstance(v, inputs.unmapped)}
        count = min(sizes) if sizes else 1
        return [self.call(task.name, parameters, wait_for, task.viz_return_value)
                for _ in range(max(count, 1))]


def tracer() -> Tracer | None:
    ctx = flow_run_ctx.get()
    return ctx.tracer if ctx is not None else None


def trace_flow(flow: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> TaskGraph:
    """Run the flow's body with placeholders for task results; the graph it called."""
    from orchestrate_nb.core.options import call_args
    from orchestrate_nb.engine.calls import run_coro_sync

    graph = TaskGraph(flow.name)
    parameters = flow.bind_parameters(args, kwargs)
    run = FlowRun(str(uuid.uuid4()), f"{flow.name}-visualize", flow.name, parameters, (),
                  None, Pending())
    ctx = FlowRunContext(flow, run, _NoRunner(), _NullReporter(), False)  # type: ignore[arg-type]
    ctx.tracer = Tracer(graph)
    token = flow_run_ctx.set(ctx)
    try:
        call_args_, call_kwargs = call_args(flow.signature, parameters)
        result = flow.fn(*call_args_, **call_kwargs)
        if flow.isasync:
            run_coro_sync(result)
    except OrchestrateError:
        raise
    except Exception as exc:
        raise FlowVisualizationError(
            f"flow {flow.name!r} could not be drawn without running its tasks: its body "
            f"used a task's result ({type(exc).__name__}: {exc}); give that task "
            "viz_return_value=... (a stand-in result)") from None
    finally:
        flow_run_ctx.reset(token)
    return graph


class _NoRunner:
    """No task runs while tracing."""

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise FlowVisualizationError("no task runs while a flow is visualized")
