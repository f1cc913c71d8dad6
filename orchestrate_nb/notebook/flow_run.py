"""``%flow run``: the saved notebook's task cells, in dependency order, as one flow run.

Each cell is a task run of that flow run, with edges named after the variables that connect
cells; cached cells are restored from the cache, which is what makes ``%flow run`` after a
kernel restart fast. Before the cells run:

1. the cell tagged ``parameters`` (a plain cell) runs when ``-p`` is given or when a name it
   defines is not bound, then the ``-p`` values are set (papermill's order);
2. plain cells that define names the task cells read and nothing in the kernel holds
   (imports, helper functions: what a restart lost) run, in notebook order.

``--parallel N`` runs independent cells in N threads. Their printed output goes to this
cell's output as it comes (each cell's own recording stays attributed to it); matplotlib
figures drawn from threads are not captured. Interrupting the kernel stops waiting, but
cells already running in threads finish on their own.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrate_nb.core.flows import Flow
from orchestrate_nb.core.states import State
from orchestrate_nb.engine.context import flow_run_ctx
from orchestrate_nb.engine.driver import drive_sync
from orchestrate_nb.engine.flow_engine import FlowRunEngine
from orchestrate_nb.engine.futures import TaskRunFuture
from orchestrate_nb.engine.task_engine import submit_parameters
from orchestrate_nb.engine.task_runners import ThreadPoolTaskRunner
from orchestrate_nb.errors import NotebookUsageError
from orchestrate_nb.notebook.analysis import Edge, analyse_cell, dependency_order
from orchestrate_nb.notebook.cell_run import CellRun, CellSpec
from orchestrate_nb.notebook.cells import TaskCell, edges_of, task_cells_of, unsaved_note
from orchestrate_nb.notebook.notebook_file import SavedCell, read_cells, require_notebook
from orchestrate_nb.notebook.options import FlowRunOptions, parse_flow_run_line
from orchestrate_nb.notebook.spec import build_spec
from orchestrate_nb.notebook.state import KernelState, notebook_identity_of
from orchestrate_nb.notebook.tracebacks import raise_as_user_error, register_source


class InlineTaskRunner:
    """Runs each submitted task run at once, in the calling thread (the kernel's main
    thread): cells run one after the other, and an interrupt stops the flow."""

    def start(self) -> None:
        return None

    def submit(self, run: Any, upstream: Sequence[TaskRunFuture]) -> cf.Future[State]:
        future: cf.Future[State] = cf.Future()
        future.set_result(drive_sync(run.machine()))
        return future

    def shutdown(self, wait: bool = True) -> None:
        return None

    def duplicate(self) -> InlineTaskRunner:
        return InlineTaskRunner()


@dataclass
class RunPlan:
    path: Path
    saved: list[SavedCell]
    cells: list[TaskCell]
    specs: dict[str, CellSpec]
    order: list[str]
    edges: list[Edge]
    shown_live: bool = False  # the live run graph is in the output already


def flow_run(kernel: KernelState, line: str) -> RunPlan | None:
    """Run the notebook; returns the plan (``%flow run`` shows the graph of it)."""
    options = parse_flow_run_line(line)
    plan = make_plan(kernel, require_notebook(kernel.notebook_path(options.notebook)))
    prepare_namespace(kernel, plan, options)
    selected, found = _selection(kernel, plan, options)
    if not selected:
        print("nothing to run: every task cell is up to date")
        return plan
    futures = run_cells(kernel, plan, selected, options, found)
    _raise_first_failure(kernel, plan, futures)
    return plan


def make_plan(kernel: KernelState, path: Path) -> RunPlan:
    saved = read_cells(path)
    cells, _ = task_cells_of(kernel, str(path), strict=True)
    order = dependency_order([(cell.name, cell.as_producer) for cell in cells])
    note = unsaved_note(cells)
    if note:
        print(note)
    specs = {}
    for cell in cells:
        assert cell.saved is not None and cell.options is not None
        magic_line, body, _ = cell.code()
        filename = f"<{path.name}, cell {cell.saved.index + 1}>"
        try:
            specs[cell.name] = build_spec(kernel.shell, kernel.config, cell.options, body,
                                          magic_line, filename, cell.saved.cell_id,
                                          notebook_identity_of(path))
        except SyntaxError as exc:
            raise NotebookUsageError(f"task cell {cell.name!r} has a syntax error at line "
                                     f"{exc.lineno}: {exc.msg}") from None
    return RunPlan(path, saved, cells, specs, order, edges_of(cells))


def prepare_namespace(kernel: KernelState, plan: RunPlan, options: FlowRunOptions) -> None:
    namespace = kernel.namespace
    parameters = next((c for c in plan.saved if "parameters" in c.tags), None)
    if parameters is not None and parameters.is_task and options.parameters:
        raise NotebookUsageError("the cell tagged 'parameters' is a %%task cell; -p values are "
                                 "set after it runs, so make it a plain cell")
    if parameters is not None and not parameters.is_task and (
            options.parameters or _defines_missing(parameters, namespace)):
        run_plain_cell(kernel, parameters, plan.path)
    namespace.update(options.parameters)
    for cell in setup_cells(plan, namespace, kernel.hidden, parameters):
        run_plain_cell(kernel, cell, plan.path)


def _defines_missing(cell: SavedCell, namespace: dict[str, Any]) -> bool:
    try:
        return any(name not in namespace for name in analyse_cell(cell.source).outputs)
    except Exception:  # noqa: BLE001 - unparsable: let running it say what is wrong
        return True


def setup_cells(plan: RunPlan, namespace: dict[str, Any], hidden: Any,
                parameters: SavedCell | None) -> list[SavedCell]:
    """Plain cells defining names the task cells need and the kernel does not hold."""
    produced = {name for cell in plan.cells for name in cell.as_producer.outputs}
    needed = {name for cell in plan.cells for name in cell.analysis.inputs
              if name not in produced and name not in namespace and name not in hidden}
    chosen: list[SavedCell] = []
    for cell in reversed(plan.saved):
        if not needed:
            break
        if cell.is_task or cell is parameters or not _plain(cell.source):
            continue
        try:
            analysis = analyse_cell(cell.source)
        except Exception:  # noqa: BLE001 - a cell that does not parse defines nothing
            continue
        if needed & set(analysis.outputs):
            chosen.append(cell)
            needed -= set(analysis.outputs)
            needed |= {n for n in analysis.inputs if n not in namespace and n not in hidden}
    return chosen[::-1]


def _plain(source: str) -> bool:
    return not source.lstrip().startswith("%%") and "%flow" not in source


def run_plain_cell(kernel: KernelState, cell: SavedCell, path: Path) -> None:
    """Execute a plain cell of the saved notebook in the user namespace."""
    shell = kernel.shell
    filename = register_source(f"<{path.name}, cell {cell.index + 1}>", cell.source)
    try:
        code = compile(shell.transform_cell(cell.source), filename, "exec")
        exec(code, shell.user_global_ns, shell.user_ns)
    except Exception as exc:  # noqa: BLE001 - shown as the user's own error
        raise_as_user_error(shell, exc, {filename})


def _selection(kernel: KernelState, plan: RunPlan, options: FlowRunOptions
               ) -> tuple[set[str], dict[str, Any]]:
    """The cells to run, and (with --stale) where every cell stands."""
    if not options.stale:
        return set(plan.order), {}
    from orchestrate_nb.notebook.status import needs_running, statuses

    found = statuses(kernel, plan.cells, plan.edges)
    return needs_running(found, plan.edges), found


def _live_graph(plan: RunPlan, selected: set[str], found: dict[str, Any],
                engine: FlowRunEngine) -> AbstractContextManager[Any]:
    """The run graph of the task cells, updated while the flow run goes (if widgets are on)."""
    from orchestrate_nb.notebook.graph.live import watch_planned_run
    from orchestrate_nb.notebook.graph.svg import merge_edges
    from orchestrate_nb.notebook.graph.task_cells import graph_nodes

    watch = watch_planned_run(graph_nodes(plan.cells, selected, found),
                              merge_edges(plan.edges), engine.flow_run)
    plan.shown_live = watch is not None
    return watch if watch is not None else nullcontext()


def run_cells(kernel: KernelState, plan: RunPlan, selected: set[str],
              options: FlowRunOptions, found: dict[str, Any] | None = None
              ) -> dict[str, TaskRunFuture]:
    futures: dict[str, TaskRunFuture] = {}

    def notebook_flow(**parameters: Any) -> None:
        ctx = flow_run_ctx.get()
        assert ctx is not None
        for name in (n for n in plan.order if n in selected):
            run = CellRun(plan.specs[name], kernel, announce=True)
            upstream = {variable: futures[up] for up, down, variable in plan.edges
                        if down == name and up in futures}
            futures[name] = submit_parameters(ctx, run.task(), upstream, None, -1)

    parallel = options.parallel or kernel.config.parallel
    runner = ThreadPoolTaskRunner(parallel) if parallel > 1 else InlineTaskRunner()
    flow = Flow(notebook_flow, name=plan.path.stem, flow_run_name=options.name,
                task_runner=runner, validate_parameters=False)
    engine = FlowRunEngine(flow, dict(options.parameters), None)
    with kernel.router.active(), _live_graph(plan, selected, found or {}, engine):
        drive_sync(engine.machine())
    return futures


def _raise_first_failure(kernel: KernelState, plan: RunPlan,
                         futures: dict[str, TaskRunFuture]) -> None:
    for name in plan.order:
        future = futures.get(name)
        state = future.final_state() if future is not None else None
        if state is not None and state.is_unsuccessful() and isinstance(state.data,
                                                                        BaseException):
            from orchestrate_nb.notebook.graph.task_cells import show_graph

            if not plan.shown_live:
                show_graph(kernel, plan.cells, plan.edges)
            filenames = {spec.compiled.filename for spec in plan.specs.values()}
            raise_as_user_error(kernel.shell, state.data, filenames)
