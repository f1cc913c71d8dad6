"""``%%task``: a cell run as a task run of the kernel's session flow run, then shown.

On a hit the cell's output and displays are shown again, then the badge; the cell's
displayed value is returned to IPython, which shows it as ``Out[n]`` as usual. On a failure
the user's exception is raised with only the user's frames in its traceback.
"""

from __future__ import annotations

from typing import Any

from orchestrate_nb.core.events import DependencyEdge
from orchestrate_nb.core.states import State
from orchestrate_nb.engine.context import FlowRunContext
from orchestrate_nb.engine.driver import drive_sync
from orchestrate_nb.engine.task_engine import TaskRunEngine
from orchestrate_nb.errors import NotebookUsageError, OrchestrateError
from orchestrate_nb.notebook.capture import replay
from orchestrate_nb.notebook.cell_result import CellResult
from orchestrate_nb.notebook.cell_run import CellRun
from orchestrate_nb.notebook.explain import show_badge
from orchestrate_nb.notebook.file_state import display_path
from orchestrate_nb.notebook.options import parse_task_line
from orchestrate_nb.notebook.spec import build_spec
from orchestrate_nb.notebook.state import KernelState
from orchestrate_nb.notebook.tracebacks import raise_as_user_error, show_syntax_error


def run_task_cell(kernel: KernelState, line: str, cell: str) -> tuple[CellRun, State] | None:
    """Run the cell; None when it did not get to run (a syntax error, already shown)."""
    shell = kernel.shell
    options = parse_task_line(line)
    _check_inputs_exist(kernel, options.inputs or ())
    magic_line = f"%%task {line}".rstrip()
    try:
        spec = build_spec(shell, kernel.config, options, cell, magic_line,
                          cell_id=_cell_id(shell), notebook=kernel.notebook_identity())
    except SyntaxError as error:
        show_syntax_error(shell, error)
        return None
    run = CellRun(spec, kernel)
    return run, execute_in_session(kernel, run)


def _check_inputs_exist(kernel: KernelState, names: tuple[str, ...]) -> None:
    missing = [name for name in names if name not in kernel.namespace]
    if missing:
        raise NotebookUsageError(f"%%task --inputs: {missing[0]!r} is not defined; run the cell "
                                 "that defines it first, or leave it out of --inputs")


def execute_in_session(kernel: KernelState, run: CellRun) -> State:
    with kernel.router.active(), kernel.session().active() as ctx:
        engine = TaskRunEngine(run.task(), {}, None, ctx)
        _emit_edges(kernel, ctx, run.input_names(), engine.task_run.id)
        try:
            state: State = drive_sync(engine.machine())
        finally:
            ctx.results_by_id.clear()  # it would keep every cell's result alive
        if isinstance(state.data, CellResult):  # the files it read: known now it ran
            names = [display_path(path) for path in state.data.read]
            _emit_edges(kernel, ctx, names, engine.task_run.id)
    return state


def _emit_edges(kernel: KernelState, ctx: FlowRunContext, names: list[str],
                task_run_id: str) -> None:
    """Edges from the runs that defined (or wrote) this cell's inputs in this session."""
    flow_run_id = ctx.flow_run.id
    for name in names:
        producer = kernel.producers.get(name)
        if producer is not None and producer[1] == flow_run_id and producer[0] != task_run_id:
            ctx.reporter.emit(DependencyEdge(flow_run_id, producer[0], task_run_id, name))


def present(kernel: KernelState, run: CellRun, state: State) -> Any:
    """Show the outcome; return the cell's value for IPython to display (or raise)."""
    shell, config = kernel.shell, kernel.config
    if not state.is_completed():
        error = state.data if isinstance(state.data, BaseException) else OrchestrateError(
            state.message or f"the cell ended {state.name}")
        raise_as_user_error(shell, error, {run.spec.compiled.filename})
    result = state.data
    if not isinstance(result, CellResult):
        return None
    cached = state.name == "Cached"
    if cached and config.replay_outputs:
        replay(result.events, shell)
    worth_showing = cached or "not cached" in (run.badge or "") or \
        result.duration >= config.badge_threshold_seconds
    if config.show_badge and run.badge and worth_showing:
        show_badge(shell, run.badge, run.spec.name)
    return result.value if result.has_value else None


def _cell_id(shell: Any) -> str | None:
    result = getattr(shell.displayhook, "exec_result", None)
    cell_id = getattr(getattr(result, "info", None), "cell_id", None)
    return str(cell_id) if cell_id else None
