"""Run loggers: lines go to the terminal/cell output and, as LogEmitted events, to the store.

``log_prints`` routes ``print`` inside a run to its logger through one wrapper of
``builtins.print`` that checks a contextvar (installed once, a no-op outside runs).
"""

from __future__ import annotations

import builtins
import logging
import sys
import threading
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

from orchestrate_nb.core.events import LogEmitted

LOGGER_NAME = "orchestrate_nb"
FLOW_RUNS_LOGGER = "orchestrate_nb.flow_runs"
TASK_RUNS_LOGGER = "orchestrate_nb.task_runs"

_configured = False
# Whether each task run logs Prefect's "Finished in state Completed()" line: DEBUG, decided
# once when logging is configured (ORCHESTRATE_NB_LOGGING_LEVEL=DEBUG), so that a task run
# that costs microseconds pays one flag check, not a level lookup, when the line is off.
state_lines = False
_config_lock = threading.Lock()
_print_logger: ContextVar[logging.LoggerAdapter[Any] | None] = ContextVar(
    "orchestrate_nb_print_logger", default=None)
_original_print = builtins.print


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now (ipykernel swaps it per cell); in a Jupyter
    kernel, lines below WARNING go to ``sys.stdout`` instead: Jupyter paints stderr red,
    and a run that went well should not look alarming."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = _console_stream(record.levelno)
            stream.write(self.format(record) + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def _console_stream(level: int) -> Any:
    if level >= logging.WARNING or not _in_a_kernel():
        return sys.stderr
    # A cell's output recorder (notebook/capture.py) would keep the line as printed output
    # and log it a second time; log lines reach the run store on their own.
    return getattr(sys.stdout, "unrecorded", sys.stdout)


def _in_a_kernel() -> bool:
    """A Jupyter kernel's process (not merely one that imported ipykernel, as ipywidgets
    does)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


class _RunFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        label = getattr(record, "run_label", None)
        record.run_label_text = f"{label} - " if label else ""
        return super().format(record)


class RunEventHandler(logging.Handler):
    """Sends records that carry a run id to the run reporter."""

    def emit(self, record: logging.LogRecord) -> None:
        flow_run_id = getattr(record, "flow_run_id", None)
        task_run_id = getattr(record, "task_run_id", None)
        if flow_run_id is None and task_run_id is None:
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message = f"{message}\n{logging.Formatter().formatException(record.exc_info)}"
            from orchestrate_nb.engine.reporting import get_reporter

            get_reporter().emit(LogEmitted(
                flow_run_id, task_run_id, record.levelno, record.name, message,
                datetime.fromtimestamp(record.created, timezone.utc)))
        except Exception:
            self.handleError(record)


def configure_logging(level: str | None = None) -> None:
    """Attach our handlers once (idempotent); called on the first run."""
    global _configured, state_lines
    if _configured:
        return
    with _config_lock:
        if _configured:
            return
        from orchestrate_nb.settings import load_settings

        root = logging.getLogger(LOGGER_NAME)
        root.setLevel(level or load_settings().logging_level)
        console = _ConsoleHandler()
        console.setFormatter(_RunFormatter(
            "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(run_label_text)s%(message)s",
            datefmt="%H:%M:%S"))
        root.addHandler(console)
        root.addHandler(RunEventHandler())
        root.propagate = False
        builtins.print = _print_or_log
        state_lines = root.isEnabledFor(logging.DEBUG)
        _configured = True


def run_logger(flow_run: Any = None, task_run: Any = None) -> logging.LoggerAdapter[Any]:
    if task_run is not None:
        extra = {"task_run_id": task_run.id, "flow_run_id": task_run.flow_run_id,
                 "run_label": f"Task run {task_run.name!r}"}
        return logging.LoggerAdapter(logging.getLogger(TASK_RUNS_LOGGER), extra)
    extra = {"flow_run_id": flow_run.id, "task_run_id": None,
             "run_label": f"Flow run {flow_run.name!r}"}
    return logging.LoggerAdapter(logging.getLogger(FLOW_RUNS_LOGGER), extra)


def get_run_logger() -> logging.LoggerAdapter[Any]:
    """The logger of the current task run or flow run."""
    from orchestrate_nb.engine.context import flow_run_ctx, task_run_ctx
    from orchestrate_nb.errors import MissingContextError

    task_ctx = task_run_ctx.get()
    if task_ctx is not None:
        return run_logger(task_run=task_ctx.task_run)
    flow_ctx = flow_run_ctx.get()
    if flow_ctx is not None:
        return run_logger(flow_run=flow_ctx.flow_run)
    flows, tasks = logging.getLogger(FLOW_RUNS_LOGGER), logging.getLogger(TASK_RUNS_LOGGER)
    if flows.disabled and tasks.disabled:  # inside disable_run_logger(): testing task.fn
        silent = logging.getLogger(f"{LOGGER_NAME}.null")
        silent.disabled = True
        return logging.LoggerAdapter(silent, {})
    raise MissingContextError("get_run_logger() was called outside a flow or task run")


def set_print_logger(logger: logging.LoggerAdapter[Any] | None) -> Any:
    return _print_logger.set(logger)


def reset_print_logger(token: Any) -> None:
    _print_logger.reset(token)


def _print_or_log(*values: Any, sep: str | None = " ", end: str | None = "\n",
                  file: Any = None, flush: bool = False) -> None:
    logger = _print_logger.get()
    if logger is None or (file is not None and file is not sys.stdout):
        _original_print(*values, sep=sep, end=end, file=file, flush=flush)
        return
    logger.info((sep if sep is not None else " ").join(str(v) for v in values))
