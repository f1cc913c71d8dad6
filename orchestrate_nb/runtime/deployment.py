"""The deployment the current run belongs to (Prefect's ``prefect.runtime.deployment``):
``id``, ``name``, ``parameters``, ``flow_run_id``, ``version``. Outside a deployment run
(a flow called in a script or a notebook) ``id``, ``name`` and ``version`` are None and
``parameters`` is ``{}``. A worker's run process knows its run (``ORCHESTRATE_NB_FLOW_RUN_ID``);
the deployment is read from the run store once per process."""

from __future__ import annotations

import datetime as _dt
import functools
from typing import Any, NamedTuple

from orchestrate_nb.runtime._fields import lookup
from orchestrate_nb.settings import adopted_flow_run_id


class DeploymentRun(NamedTuple):
    deployment_id: str
    name: str
    parameters: dict[str, Any]
    scheduled_time: _dt.datetime | None


def current() -> DeploymentRun | None:
    """The deployment of this process's run, or None (not a deployment run)."""
    run_id = adopted_flow_run_id()
    return _read(run_id) if run_id is not None else None


@functools.lru_cache(maxsize=8)
def _read(run_id: str) -> DeploymentRun | None:
    from sqlalchemy import select

    from orchestrate_nb.store.database import open_database
    from orchestrate_nb.store.orm import Deployment, FlowRun

    database = open_database()
    try:
        with database.read() as conn:
            row = conn.execute(
                select(Deployment.id, Deployment.name, FlowRun.parameters,
                       FlowRun.scheduled_time)
                .join(Deployment, Deployment.id == FlowRun.deployment_id)
                .where(FlowRun.id == run_id)).first()
    finally:
        database.dispose()
    if row is None:
        return None
    scheduled = row.scheduled_time
    if scheduled is not None and scheduled.tzinfo is None:
        scheduled = scheduled.replace(tzinfo=_dt.timezone.utc)
    return DeploymentRun(row.id, row.name, dict(row.parameters or {}), scheduled)


def get_id() -> str | None:
    run = current()
    return run.deployment_id if run is not None else None


def get_name() -> str | None:
    run = current()
    return run.name if run is not None else None


def get_parameters() -> dict[str, Any]:
    run = current()
    return dict(run.parameters) if run is not None else {}


def get_flow_run_id() -> str | None:
    from orchestrate_nb.runtime.flow_run import get_id as flow_run_id

    return flow_run_id()


def _none() -> None:
    return None


FIELDS = {"id": get_id, "name": get_name, "parameters": get_parameters,
          "flow_run_id": get_flow_run_id, "version": _none}

__all__ = sorted(FIELDS)  # each read through __getattr__, when it is read


def __getattr__(name: str) -> Any:
    return lookup("deployment", FIELDS, name)


def __dir__() -> list[str]:
    return sorted(__all__)
