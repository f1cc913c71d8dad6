"""The current flow run (Prefect's ``prefect.runtime.flow_run``): ``id``, ``name``,
``flow_name``, ``flow_version``, ``parameters``, ``tags``, ``scheduled_start_time``,
``run_count``, ``parent_flow_run_id``, ``root_flow_run_id``, ``deployment_id``... Read in a
task, they describe the flow run the task runs in. See ``orchestrate_nb.runtime``."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from orchestrate_nb.engine.context import flow_run_ctx, task_run_ctx
from orchestrate_nb.runtime._fields import lookup
from orchestrate_nb.settings import adopted_flow_run_id


def _run() -> Any:
    ctx = flow_run_ctx.get()
    return ctx.flow_run if ctx is not None else None


def get_id() -> str | None:
    run = _run()
    if run is not None:
        return str(run.id)
    task_ctx = task_run_ctx.get()
    if task_ctx is not None and task_ctx.task_run.flow_run_id is not None:
        return str(task_ctx.task_run.flow_run_id)
    return adopted_flow_run_id()  # a deployment run's notebook kernel


def get_name() -> str | None:
    run = _run()
    return run.name if run is not None else None


def get_flow_name() -> str | None:
    run = _run()
    return run.flow_name if run is not None else None


def get_flow_version() -> str | None:
    ctx = flow_run_ctx.get()
    return ctx.flow.version if ctx is not None else None


def get_parameters() -> dict[str, Any]:
    run = _run()
    if run is None:
        return {}
    ctx = flow_run_ctx.get()
    bound = getattr(ctx.flow, "bound_parameter", None) if ctx is not None else None
    return {k: v for k, v in run.parameters.items() if k != bound}


def get_tags() -> list[str]:
    run = _run()
    return list(run.tags) if run is not None else []


def get_run_count() -> int:
    run = _run()
    return int(run.run_count) if run is not None else 0


def get_scheduled_start_time() -> _dt.datetime:
    """A deployment run's scheduled time; for other runs, when they started."""
    run_id = get_id()
    if run_id is not None and run_id == adopted_flow_run_id():
        from orchestrate_nb.runtime.deployment import current

        deployment_run = current()
        if deployment_run is not None and deployment_run.scheduled_time is not None:
            return deployment_run.scheduled_time
    run = _run()
    if run is not None and run.start_time is not None:
        return run.start_time  # type: ignore[no-any-return]
    return _dt.datetime.now(_dt.timezone.utc)


def get_parent_flow_run_id() -> str | None:
    run = _run()
    return run.parent_flow_run_id if run is not None else None


def get_root_flow_run_id() -> str | None:
    run = _run()
    if run is None:
        return get_id()
    return run.root_flow_run_id or run.id  # type: ignore[no-any-return]


def get_deployment_id() -> str | None:
    from orchestrate_nb.runtime.deployment import get_id as deployment_id

    return deployment_id()


def _none() -> None:
    return None


FIELDS = {
    "id": get_id, "name": get_name, "flow_name": get_flow_name,
    "flow_version": get_flow_version, "parameters": get_parameters, "tags": get_tags,
    "run_count": get_run_count, "scheduled_start_time": get_scheduled_start_time,
    "parent_flow_run_id": get_parent_flow_run_id, "root_flow_run_id": get_root_flow_run_id,
    "deployment_id": get_deployment_id, "parent_deployment_id": _none,
    "api_url": _none, "ui_url": _none, "job_variables": _none,
}

__all__ = sorted(FIELDS)  # each read through __getattr__, when it is read


def __getattr__(name: str) -> Any:
    return lookup("flow_run", FIELDS, name)


def __dir__() -> list[str]:
    return sorted(__all__)
