"""Failures of a task cell, shown as the user's own: the cell's lines and what they called,
never the magic's or the engine's frames.

A failing cell re-raises the user's exception (so ``%debug``, ``%pdb`` and "Run All"
stopping work as usual), carrying ``_render_traceback_``: IPython then shows that
structured traceback, built from the first frame of the cell's own code onwards.
"""

from __future__ import annotations

import copy
import linecache
import logging
from collections.abc import Collection
from types import TracebackType
from typing import Any, NoReturn

from orchestrate_nb.engine.context import task_run_ctx
from orchestrate_nb.engine.logging import LOGGER_NAME, configure_logging


def from_cell(tb: TracebackType | None, filenames: Collection[str]) -> TracebackType | None:
    """The part of a traceback that starts in a cell's code (None if it never got there)."""
    while tb is not None and tb.tb_frame.f_code.co_filename not in filenames:
        tb = tb.tb_next
    return tb


def user_traceback(shell: Any, exc: BaseException, filenames: Collection[str]) -> list[str]:
    """IPython's structured traceback of ``exc``, from the cell's frames on."""
    tb = from_cell(exc.__traceback__, filenames)
    formatter = shell.InteractiveTB
    if tb is None:  # raised by the engine (a timeout): the message is all there is
        return list(formatter.get_exception_only(type(exc), exc))
    return list(formatter.structured_traceback(type(exc), exc, tb, tb_offset=0))


def raise_as_user_error(shell: Any, exc: BaseException, filenames: Collection[str]
                        ) -> NoReturn:
    """Re-raise the cell's exception so that IPython shows only the user's frames."""
    stb = user_traceback(shell, exc, filenames)
    try:
        exc._render_traceback_ = lambda: stb  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        pass  # an exception type without a __dict__: shown with the full traceback
    raise exc


def show_syntax_error(shell: Any, error: SyntaxError) -> None:
    """Show a syntax error in the cell exactly as IPython shows one in a plain cell, and
    mark the cell failed (so "Run All" stops) without the magic's frames."""
    result = getattr(shell.displayhook, "exec_result", None)
    if result is None:  # not inside run_cell (an embedding, a test): raise it plainly
        raise error
    try:
        raise error.with_traceback(None)
    except SyntaxError:
        shell.showsyntaxerror()
    result.error_in_exec = error


def register_source(filename: str, text: str) -> str:
    """Make ``text`` the source of ``filename`` for tracebacks (cells read from a file).
    It ends with a newline, as IPython caches cells: ``inspect.getsource`` of a function
    defined there is then the same text, and so is the function's fingerprint."""
    if not text.endswith("\n"):
        text += "\n"
    lines = text.splitlines(keepends=True)
    linecache.cache[filename] = (len(text), None, lines, filename)
    return filename


CELL_TASK_MARK = "orchestrate_nb_cell"  # attribute set on the Task of a task cell


class _CellTracebackFormatter(logging.Formatter):
    """Log lines of task cell runs go to the cell output without their traceback (IPython
    shows the user's own right below them); the run store still gets the full record."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and _logged_by_a_cell(record):
            record = copy.copy(record)
            record.exc_info = None
            record.exc_text = None
        return self.inner.format(record)


def _logged_by_a_cell(record: logging.LogRecord) -> bool:
    ctx = task_run_ctx.get()
    return (ctx is not None and getattr(ctx.task, CELL_TASK_MARK, False)
            and ctx.task_run.id == getattr(record, "task_run_id", None))


def install_log_formatter() -> None:
    """Wrap the run loggers' console formatter once (see _CellTracebackFormatter)."""
    configure_logging()
    for handler in logging.getLogger(LOGGER_NAME).handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler.formatter, _CellTracebackFormatter):
            handler.setFormatter(_CellTracebackFormatter(handler.formatter))
