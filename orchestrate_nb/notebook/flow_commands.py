"""``%flow SUBCOMMAND``: run, graph, status, history, clear-cache."""

from __future__ import annotations

import shlex
from collections.abc import Callable

from orchestrate_nb.errors import NotebookUsageError
from orchestrate_nb.notebook.cell_result import CELL_STORE
from orchestrate_nb.notebook.cell_run import task_key_of
from orchestrate_nb.notebook.cells import TaskCell, edges_of, task_cells_of, unsaved_note
from orchestrate_nb.notebook.graph.task_cells import show_graph
from orchestrate_nb.notebook.options import parse_count
from orchestrate_nb.notebook.state import KernelState
from orchestrate_nb.notebook.status import show, status_bundle, statuses
from orchestrate_nb.settings import adopted_flow_run_id

USAGE = ("%flow run [--name NAME] [--stale] [--parallel N] [-p key=value ...] "
         "[--notebook PATH] | graph | status | history [N] | clear-cache [TASK] "
         "| deploy --name NAME [--cron EXPR | --interval SECONDS] [-p key=value ...] "
         "[--pool POOL]")


# What a deployment run skips: the worker already runs the notebook's cells as one flow
# run, so these would deploy again, run the cells twice, show a graph nobody watches, or
# delete the cache of the interactive session.
SKIPPED_IN_DEPLOYMENT_RUNS = ("deploy", "run", "graph", "clear-cache")


def run_flow_command(kernel: KernelState, line: str) -> None:
    command, _, rest = line.strip().partition(" ")
    handler = _COMMANDS.get(command)
    if handler is None:
        what = f"unknown subcommand {command!r}" if command else "a subcommand is missing"
        raise NotebookUsageError(f"%flow: {what}; usage: {USAGE}")
    run_id = adopted_flow_run_id()
    if run_id is not None and command in SKIPPED_IN_DEPLOYMENT_RUNS:
        print(f"%flow {command}: skipped, this notebook is running as deployment run "
              f"{run_id[:8]} (a worker runs its cells; the command works interactively)")
        return
    handler(kernel, rest)


def _run(kernel: KernelState, rest: str) -> None:
    from orchestrate_nb.notebook.flow_run import flow_run

    plan = flow_run(kernel, rest)
    if plan is not None and not plan.shown_live:
        show_graph(kernel, plan.cells, plan.edges)


def _notebook_option(rest: str, command: str) -> str | None:
    words = shlex.split(rest)
    if not words:
        return None
    if len(words) == 2 and words[0] == "--notebook":
        return words[1]
    raise NotebookUsageError(
        f"%flow {command} takes no arguments but --notebook PATH, got {rest!r}")


def _status(kernel: KernelState, rest: str) -> None:
    cells = _cells(kernel, rest, "status")
    edges = edges_of(cells)
    found = statuses(kernel, cells, edges)
    show(kernel.shell, status_bundle([found[cell.name] for cell in cells], edges))


def _graph(kernel: KernelState, rest: str) -> None:
    cells = _cells(kernel, rest, "graph")
    show_graph(kernel, cells, edges_of(cells))


def _cells(kernel: KernelState, rest: str, command: str) -> list[TaskCell]:
    cells, _ = task_cells_of(kernel, _notebook_option(rest, command))
    note = unsaved_note(cells)
    if note:
        print(note)
    return cells


def _history(kernel: KernelState, rest: str) -> None:
    from orchestrate_nb.notebook.history import history_text

    count = parse_count(rest, kernel.config.history_limit)
    print(history_text(kernel.flow_names(), count))


def _clear_cache(kernel: KernelState, rest: str) -> None:
    names = shlex.split(rest)
    if len(names) > 1:
        raise NotebookUsageError(f"%flow clear-cache takes one task name at most, got {rest!r}")
    if not names:
        cells, _ = task_cells_of(kernel)
        names = list(dict.fromkeys([c.name for c in cells] + list(kernel.records)))
    notebook = kernel.notebook_identity()
    removed = sum(CELL_STORE.clear(task_key_of(name, notebook)) for name in names)
    target = repr(names[0]) if len(names) == 1 else f"{len(names)} task cells"
    print(f"removed {removed} cached result{'s' if removed != 1 else ''} of {target}")


def _deploy(kernel: KernelState, rest: str) -> None:
    from orchestrate_nb.notebook.deploy_command import deploy_command

    deploy_command(kernel, rest)


_COMMANDS: dict[str, Callable[[KernelState, str], None]] = {
    "run": _run, "graph": _graph, "status": _status, "history": _history, "deploy": _deploy,
    "clear-cache": _clear_cache,
}
