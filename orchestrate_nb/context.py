"""Prefect's run contexts (``from orchestrate_nb.context import get_run_context``).

``FlowRunContext.get()`` / ``TaskRunContext.get()`` return the current context or None;
``get_run_context()`` the innermost one, raising ``MissingContextError`` outside any run.
``TaskRunContext`` is what a ``cache_key_fn`` receives first (``context.task``,
``context.task_run``, ``context.parameters``).
"""

from __future__ import annotations

from typing import Any

from orchestrate_nb.engine.context import (
    FlowRunContext,
    TaskRunContext,
    get_run_context,
    tags,
)

__all__ = ["FlowRunContext", "TaskRunContext", "get_run_context", "tags"]

_UNSUPPORTED = {
    "get_settings_context": "settings contexts (orchestrate_nb reads its settings from "
                            "ORCHESTRATE_NB_* environment variables)",
    "SettingsContext": "settings contexts",
    "use_profile": "Prefect profiles",
    "EngineContext": "Prefect's EngineContext (use FlowRunContext)",
    "AssetContext": "assets",
}


def __getattr__(name: str) -> Any:
    from orchestrate_nb.compat import unsupported

    if name in _UNSUPPORTED:
        raise unsupported(f"orchestrate_nb.context.{name}", _UNSUPPORTED[name])
    raise AttributeError(f"module 'orchestrate_nb.context' has no attribute {name!r}")
