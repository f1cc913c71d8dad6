"""Our papermill engine (entry point ``papermill.engine`` → ``orchestrate_nb``).

papermill's nbclient engine, plus: when run by a worker (``ORCHESTRATE_NB_FLOW_RUN_ID``
set), each line the notebook's cells print (stdout and stderr streams) becomes a log line
of that flow run, as it is printed, so ``orchestrate-nb runs logs ID --follow`` shows a
deployed notebook's progress. papermill gives engines exactly this seam: its client writes
stream outputs to ``stdout_file``/``stderr_file`` objects. What a ``%%task`` cell prints is
already a log line of its task run (``notebook/cell_run.py``), so its stdout is not logged a
second time here.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from papermill.engines import NBClientEngine

from orchestrate_nb.core.events import LogEmitted
from orchestrate_nb.private_files import open_private
from orchestrate_nb.settings import adopted_flow_run_id

LOGGER_NAME = "orchestrate_nb.notebook"
ENGINE_NAME = "orchestrate_nb"
KERNEL_START_LOCK = "orchestrate-nb-kernel-start.lock"


class RunOutputStream:
    """A text file whose lines become log lines of a flow run."""

    def __init__(self, flow_run_id: str, level: int) -> None:
        self.flow_run_id = flow_run_id
        self.level = level
        self.muted = False  # while a cell whose lines are logged elsewhere runs
        self._pending = ""

    def write(self, text: str) -> int:
        if self.muted:
            return len(text)
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._emit(self._pending)
            self._pending = ""

    def _emit(self, line: str) -> None:
        from orchestrate_nb.engine.reporting import get_reporter

        get_reporter().emit(LogEmitted(self.flow_run_id, None, self.level, LOGGER_NAME, line,
                                       dt.datetime.now(dt.timezone.utc)))


class OrchestrateEngine(NBClientEngine):  # type: ignore[misc]
    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
        run_id = adopted_flow_run_id()
        if run_id is not None:
            if kwargs.get("stdout_file") is None:
                kwargs["stdout_file"] = stdout = RunOutputStream(run_id, logging.INFO)
                _mute_during_task_cells(nb_man, stdout)
            if kwargs.get("stderr_file") is None:
                kwargs["stderr_file"] = RunOutputStream(run_id, logging.WARNING)
        _keep_cell_errors(nb_man)
        with _one_kernel_starting() as started:
            hook = kwargs.get("on_notebook_start")

            def on_start(**hook_kwargs: Any) -> Any:
                started()  # the kernel answered: its ports are bound
                return hook(**hook_kwargs) if hook is not None else None

            kwargs["on_notebook_start"] = on_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


@contextmanager
def _one_kernel_starting() -> Iterator[Callable[[], None]]:
    """Held from the choice of a kernel's ports until the kernel answers (or fails).

    jupyter_client picks a kernel's five TCP ports by binding port 0 and closing it; the
    kernel binds them a second later. Two runs of a worker starting kernels in that second
    may be handed the same port, and one kernel dies ("Address already in use", "Kernel
    died before replying to kernel_info"). Runs on one machine take turns at this step
    (a file lock in the Jupyter runtime folder); the rest of a run is not held up.
    """
    import fcntl

    from jupyter_core.paths import jupyter_runtime_dir

    folder = Path(jupyter_runtime_dir())
    folder.mkdir(parents=True, exist_ok=True)
    fd = open_private(str(folder / KERNEL_START_LOCK), os.O_RDWR)
    held = True

    def release() -> None:
        nonlocal held
        if held:
            held = False
            fcntl.flock(fd, fcntl.LOCK_UN)

    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield release
    finally:
        release()
        os.close(fd)


def _mute_during_task_cells(nb_man: Any, stream: RunOutputStream) -> None:
    """Mute ``stream`` while a ``%%task`` cell runs (papermill calls ``cell_start`` before
    each cell)."""
    cell_start = nb_man.cell_start

    def start(cell: Any, *args: Any, **kwargs: Any) -> Any:
        stream.flush()
        source = cell.get("source", "") if cell.get("cell_type") == "code" else ""
        stream.muted = source.lstrip().startswith("%%task")
        return cell_start(cell, *args, **kwargs)

    nb_man.cell_start = start


# "ename: evalue" of the cells that failed, by index. papermill reports a failure that left
# no error output (IPython's UsageError only writes to stderr) as "CellExecutionError: ";
# the kernel's reply still named the exception.
_cell_errors: dict[int, str] = {}


def _keep_cell_errors(nb_man: Any) -> None:
    cell_exception = nb_man.cell_exception

    def failed(cell: Any, cell_index: int | None = None, **kwargs: Any) -> Any:
        exception = kwargs.get("exception")
        ename = getattr(exception, "ename", None)
        if cell_index is not None and ename:
            _cell_errors[cell_index] = f"{ename}: {getattr(exception, 'evalue', '')}"
        return cell_exception(cell, cell_index=cell_index, **kwargs)

    nb_man.cell_exception = failed


def describe_failure(error: Any) -> str:
    """A ``PapermillExecutionError`` as one line: the failing cell's exception and text."""
    if error.ename == "CellExecutionError" and not error.evalue:
        kept = _cell_errors.get(error.cell_index)
        if kept:
            return kept
    return f"{error.ename}: {error.evalue}"


def register() -> str:
    """The engine's name, registered with papermill (also when its entry point is not
    installed, e.g. in a source checkout not reinstalled since)."""
    from papermill.engines import papermill_engines

    papermill_engines.register(ENGINE_NAME, OrchestrateEngine)
    return ENGINE_NAME
