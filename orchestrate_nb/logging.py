"""Prefect's logging helpers (``from orchestrate_nb.logging import get_run_logger``).

- ``get_run_logger()``: the current run's logger (its lines go to the run's history).
- ``get_logger(name)``: a logger under ``orchestrate_nb`` (Prefect's under ``prefect``),
  printed like run loggers but not attached to a run.
- ``disable_run_logger()``: a context manager that silences run loggers, so a task's
  function can be tested on its own (``my_task.fn(...)``): inside it, ``get_run_logger()``
  outside a run returns a silent logger instead of raising.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orchestrate_nb.engine.logging import (
    FLOW_RUNS_LOGGER,
    LOGGER_NAME,
    TASK_RUNS_LOGGER,
    configure_logging,
    get_run_logger,
)

__all__ = ["disable_run_logger", "get_logger", "get_run_logger", "print_as_log"]


def get_logger(name: str | None = None) -> logging.Logger:
    """``orchestrate_nb.NAME`` (or ``orchestrate_nb``), with the run loggers' handlers."""
    configure_logging()
    if not name:
        return logging.getLogger(LOGGER_NAME)
    if name.startswith(LOGGER_NAME + ".") or name == LOGGER_NAME:
        return logging.getLogger(name)
    return logging.getLogger(f"{LOGGER_NAME}.{name}")


@contextmanager
def disable_run_logger() -> Iterator[None]:
    """Silence the flow-run and task-run loggers inside the block."""
    loggers = [logging.getLogger(FLOW_RUNS_LOGGER), logging.getLogger(TASK_RUNS_LOGGER)]
    before = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, was in zip(loggers, before):
            logger.disabled = was


def print_as_log(*args: Any, **kwargs: Any) -> None:
    """``print`` to the current run's logger (what ``log_prints=True`` does)."""
    sep = kwargs.get("sep", " ")
    get_run_logger().info((sep if sep is not None else " ").join(str(a) for a in args))
