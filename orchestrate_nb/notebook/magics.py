"""``%%task`` and ``%flow``: the IPython side. Configuration lives here (traitlets, so
``c.TaskMagics.default_retries = 2`` in ``ipython_config.py`` or ``%config`` works), and so
does the one place where this package's errors become IPython's one-line ``UsageError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, Float, Int, Unicode

from orchestrate_nb.errors import OrchestrateError
from orchestrate_nb.notebook import editor, interactive
from orchestrate_nb.notebook.analysis import analyse_cell
from orchestrate_nb.notebook.notebook_file import TASK_MAGIC
from orchestrate_nb.notebook.options import task_arguments
from orchestrate_nb.notebook.state import KernelState
from orchestrate_nb.notebook.tracebacks import install_log_formatter


@contextmanager
def user_errors() -> Iterator[None]:
    """Our own errors (a cycle, a bad option, an unreadable notebook) as one line. A cell's
    exception being re-raised for the user (it carries its traceback) passes through."""
    try:
        yield
    except OrchestrateError as exc:
        if hasattr(exc, "_render_traceback_"):
            raise
        raise UsageError(str(exc)) from None


@magics_class
class TaskMagics(Magics):
    """``%%task`` cells and the ``%flow`` commands of orchestrate_nb."""

    default_retries = Int(0, min=0, help="Retries of a %%task cell that sets no --retries."
                          ).tag(config=True)
    default_retry_delay = Float(0.0, min=0.0, help="Seconds before each retry of a cell "
                                "that sets no --retry-delay.").tag(config=True)
    default_timeout = Float(None, allow_none=True, help="Timeout in seconds of a cell that "
                            "sets no --timeout (None: no timeout).").tag(config=True)
    default_cache_expiration = Unicode(None, allow_none=True, help="How long cached results "
                                       "of cells live, e.g. '7d' (None: until cleared)."
                                       ).tag(config=True)
    cache = Bool(True, help="Cache %%task cells (False: every cell runs as with --no-cache)."
                 ).tag(config=True)
    replay_outputs = Bool(True, help="On a cache hit, show the cell's printed output and "
                          "displays again.").tag(config=True)
    show_badge = Bool(True, help="Show the one-line badge saying whether a cell ran or came "
                      "from the cache, and why.").tag(config=True)
    badge_threshold_seconds = Float(0.0, min=0.0, help="Show the badge of a cell that ran "
                                    "only when it took at least this long (cache hits and "
                                    "'not cached' always show it).").tag(config=True)
    parallel = Int(1, min=1, help="Cells %flow run runs at once when --parallel is not "
                   "given.").tag(config=True)
    history_limit = Int(10, min=1, help="Flow runs %flow history lists when N is not given."
                        ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.kernel = KernelState(shell, self)

    @cell_magic
    def task(self, line: str, cell: str) -> Any:
        with user_errors():
            outcome = interactive.run_task_cell(self.kernel, line, cell)
        if outcome is None:
            return None
        return interactive.present(self.kernel, *outcome)

    task.__doc__ = task_arguments.__doc__

    @line_magic
    def flow(self, line: str) -> Any:
        """%flow run | graph | status | history [N] | clear-cache [TASK] (see %flow run?)"""
        from orchestrate_nb.notebook.flow_commands import run_flow_command

        with user_errors():
            return run_flow_command(self.kernel, line)

    def after_cell(self, result: Any) -> None:
        """After any other cell: forget the fingerprints of values it may have mutated, and
        of values no longer bound (so ``del big`` frees ``big``)."""
        known = self.kernel.known
        raw = getattr(getattr(result, "info", None), "raw_cell", None)
        if not len(known) or not raw or raw.lstrip().startswith(TASK_MAGIC):
            return
        known.prune(self.kernel.namespace)
        try:
            analysis = analyse_cell(raw)
        except Exception:  # noqa: BLE001 - unparsable: forget everything, to be safe
            known.forget(list(known.names()))
            return
        known.forget((*analysis.mutated, *analysis.escaped))


_loaded: dict[int, TaskMagics] = {}


def load(shell: Any) -> None:
    """Register the magics with ``shell`` (``%load_ext orchestrate_nb``)."""
    if shell is None or id(shell) in _loaded:
        return
    install_log_formatter()
    from orchestrate_nb.notebook.graph.live import RunGraphWidget

    RunGraphWidget.for_shell(shell)  # so %config RunGraphWidget... works from now on
    magics = TaskMagics(shell=shell)
    shell.register_magics(magics)
    shell.events.register("post_run_cell", magics.after_cell)
    editor.register(shell)  # the labextension sends the editor's cells before %flow
    _loaded[id(shell)] = magics


def unload(shell: Any) -> None:
    magics = _loaded.pop(id(shell), None)
    if magics is None:
        return
    shell.events.unregister("post_run_cell", magics.after_cell)
    editor.unregister(shell)
    manager = shell.magics_manager
    manager.magics["cell"].pop("task", None)
    manager.magics["line"].pop("flow", None)
    manager.registry.pop(type(magics).__name__, None)
    magics.kernel.close()
