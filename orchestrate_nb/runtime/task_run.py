"""The current task run (Prefect's ``prefect.runtime.task_run``): ``id``, ``name``,
``task_name``, ``parameters``, ``tags``, ``run_count``. See ``orchestrate_nb.runtime``."""

from __future__ import annotations

from typing import Any

from orchestrate_nb.engine.context import task_run_ctx
from orchestrate_nb.runtime._fields import lookup


def get_id() -> str | None:
    ctx = task_run_ctx.get()
    return str(ctx.task_run.id) if ctx is not None else None


def get_name() -> str | None:
    ctx = task_run_ctx.get()
    return ctx.task_run.name if ctx is not None else None


def get_task_name() -> str | None:
    ctx = task_run_ctx.get()
    return ctx.task.name if ctx is not None else None


def get_parameters() -> dict[str, Any]:
    ctx = task_run_ctx.get()
    if ctx is None:
        return {}
    bound = getattr(ctx.task, "bound_parameter", None)
    return {k: v for k, v in ctx.parameters.items() if k != bound}


def get_tags() -> list[str]:
    ctx = task_run_ctx.get()
    return list(ctx.task_run.tags) if ctx is not None else []


def get_run_count() -> int:
    ctx = task_run_ctx.get()
    return int(ctx.task_run.run_count) if ctx is not None else 0


def _none() -> None:
    return None


FIELDS = {
    "id": get_id, "name": get_name, "task_name": get_task_name,
    "parameters": get_parameters, "tags": get_tags, "run_count": get_run_count,
    "api_url": _none, "ui_url": _none,
}

__all__ = sorted(FIELDS)  # each read through __getattr__, when it is read


def __getattr__(name: str) -> Any:
    return lookup("task_run", FIELDS, name)


def __dir__() -> list[str]:
    return sorted(__all__)
