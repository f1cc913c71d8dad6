"""Public task runners (``from orchestrate_nb.task_runners import ThreadPoolTaskRunner``).

``ProcessPoolTaskRunner`` and ``DaskTaskRunner`` (Prefect's ``prefect_dask`` runner, same
signature) load on first use; ``distributed`` only when a flow run submits to Dask.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from orchestrate_nb.engine.task_runners import TaskRunner, ThreadPoolTaskRunner

if TYPE_CHECKING:
    from orchestrate_nb.engine.dask_runner import DaskTaskRunner
    from orchestrate_nb.engine.process_runner import ProcessPoolTaskRunner

_LAZY = {
    "ProcessPoolTaskRunner": "orchestrate_nb.engine.process_runner",
    "DaskTaskRunner": "orchestrate_nb.engine.dask_runner",
}

__all__ = ["DaskTaskRunner", "ProcessPoolTaskRunner", "TaskRunner", "ThreadPoolTaskRunner"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
