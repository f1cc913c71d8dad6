"""orchestrate_nb: Prefect-style workflow orchestration that lives inside Jupyter.

Names are imported lazily so ``import orchestrate_nb`` stays fast; heavy dependencies
(SQLAlchemy, pydantic) load only when a run needs them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "flow": "orchestrate_nb.core.flows",
    "Flow": "orchestrate_nb.core.flows",
    "task": "orchestrate_nb.core.tasks",
    "Task": "orchestrate_nb.core.tasks",
    "get_run_logger": "orchestrate_nb.engine.logging",
    "wait": "orchestrate_nb.engine.futures",
    "as_completed": "orchestrate_nb.engine.futures",
    "unmapped": "orchestrate_nb.engine.inputs",
    "allow_failure": "orchestrate_nb.engine.inputs",
    "tags": "orchestrate_nb.engine.context",
    "State": "orchestrate_nb.core.states",
    "OrchestrateError": "orchestrate_nb.errors",
    "deploy_notebook": "orchestrate_nb.deploy.deployments",
    "deploy_flow": "orchestrate_nb.deploy.deployments",
    "pause_flow_run": "orchestrate_nb.engine.pause",
    "resume_flow_run": "orchestrate_nb.flow_runs",
}

__all__ = [
    "Flow", "OrchestrateError", "State", "Task", "allow_failure", "as_completed",
    "deploy_flow", "deploy_notebook", "flow", "get_run_logger", "pause_flow_run",
    "resume_flow_run", "tags", "task", "unmapped", "wait",
]

if TYPE_CHECKING:
    from orchestrate_nb.core.flows import Flow, flow
    from orchestrate_nb.core.states import State
    from orchestrate_nb.core.tasks import Task, task
    from orchestrate_nb.deploy.deployments import deploy_flow, deploy_notebook
    from orchestrate_nb.engine.context import tags
    from orchestrate_nb.engine.futures import as_completed, wait
    from orchestrate_nb.engine.inputs import allow_failure, unmapped
    from orchestrate_nb.engine.logging import get_run_logger
    from orchestrate_nb.engine.pause import pause_flow_run
    from orchestrate_nb.errors import OrchestrateError
    from orchestrate_nb.flow_runs import resume_flow_run


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt labextension (development installs)."""
    return [{"src": "labextension", "dest": "orchestrate-nb"}]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext orchestrate_nb``: the ``%%task`` and ``%flow`` magics."""
    from orchestrate_nb.notebook.magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from orchestrate_nb.notebook.magics import unload

    unload(ipython)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'orchestrate_nb' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
