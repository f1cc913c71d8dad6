"""Deployments in the run store, and the flow runs made for them (SPEC §5).

A run made for a deployment is written here directly, not through the reporter: it is a
row in ``flow_runs`` in state SCHEDULED (named "Scheduled", or "Late" when its slot has
passed) with its first state-history row, in the caller's transaction.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from orchestrate_nb.errors import NotFound
from orchestrate_nb.store.database import Database, store_errors
from orchestrate_nb.store.orm import Deployment, Flow, FlowRun, RunState

SCHEDULED = "SCHEDULED"
SCHEDULE_FIELDS = ("schedule_kind", "cron", "interval_seconds", "rrule", "timezone")


@dataclass(frozen=True)
class DeploymentInfo:
    """One deployment, as stored (columns of ``deployments``)."""

    id: str
    name: str
    kind: str
    entrypoint: str
    flow_name: str
    parameters: dict[str, Any] | None
    pool: str
    schedule_kind: str | None
    cron: str | None
    interval_seconds: float | None
    rrule: str | None
    timezone: str
    anchor: dt.datetime | None
    paused: bool
    catchup: str
    retries: int
    retry_delay_seconds: float
    timeout_seconds: float | None
    tags: list[str] | None
    created: dt.datetime
    updated: dt.datetime
    last_slot: dt.datetime | None
    cache: str = "refresh"  # "refresh": runs compute afresh; "reuse": read others' cache
    kernel: str | None = None  # a notebook's kernel (None: its kernelspec's)
    cwd: str | None = None  # the runs' working directory (None: the notebook's folder)


DEPLOYMENT_COLUMNS = tuple(getattr(Deployment, f.name) for f in dataclasses.fields(DeploymentInfo))


def deployment_info(row: Any) -> DeploymentInfo:
    return DeploymentInfo(*row)


@contextmanager
def write(database: Database) -> Iterator[Connection]:
    with store_errors(database, "write"), database.write() as conn:
        yield conn


@contextmanager
def read(database: Database) -> Iterator[Connection]:
    with store_errors(database), database.read() as conn:
        yield conn


def find_deployment(conn: Connection, name: str) -> DeploymentInfo | None:
    row = conn.execute(select(*DEPLOYMENT_COLUMNS).where(Deployment.name == name)).first()
    return None if row is None else deployment_info(row)


def get_deployment(conn: Connection, name: str) -> DeploymentInfo:
    found = find_deployment(conn, name)
    if found is None:
        raise NotFound(f"no deployment named {name!r} (see: orchestrate-nb deployment ls)")
    return found


def list_deployments(conn: Connection) -> list[tuple[DeploymentInfo, dt.datetime | None]]:
    """Every deployment by name, with the time of its next scheduled run (if any)."""
    next_run = (select(func.min(FlowRun.scheduled_time))
                .where(FlowRun.deployment_id == Deployment.id, FlowRun.state_type == SCHEDULED)
                .correlate(Deployment).scalar_subquery())
    rows = conn.execute(select(*DEPLOYMENT_COLUMNS, next_run).order_by(Deployment.name))
    return [(deployment_info(row[:-1]), row[-1]) for row in rows]


def save_deployment(conn: Connection, values: dict[str, Any], now: dt.datetime) -> bool:
    """Insert the deployment, or update the one of that name; True when it is new.

    A changed schedule (or a change of paused) starts afresh from ``now``: its runs due
    after now are dropped, and slots before now are not caught up.
    """
    _ensure_flow(conn, values["flow_name"], now)
    old = find_deployment(conn, values["name"])
    if old is None:
        row = {**values, "id": str(uuid.uuid4()), "created": now, "updated": now,
               "last_slot": now}
        conn.execute(insert(Deployment), row)
        return True
    changes = {**values, "updated": now}
    if any(getattr(old, f) != values[f] for f in SCHEDULE_FIELDS) or old.paused \
            or values["paused"]:
        changes["last_slot"] = now
        drop_pending_runs(conn, old.id, now)
    else:
        changes["anchor"] = old.anchor
    conn.execute(update(Deployment).where(Deployment.id == old.id).values(**changes))
    return False


def _ensure_flow(conn: Connection, flow_name: str, now: dt.datetime) -> None:
    if conn.execute(select(Flow.id).where(Flow.name == flow_name)).first() is None:
        conn.execute(insert(Flow).values(name=flow_name, created=now))


def set_paused(conn: Connection, name: str, paused: bool, now: dt.datetime) -> bool:
    """Pause (dropping runs not started yet) or resume (from now: the paused time's slots
    are not caught up). False when it already was so."""
    deployment = get_deployment(conn, name)
    if deployment.paused == paused:
        return False
    if paused:
        drop_pending_runs(conn, deployment.id, now)
    conn.execute(update(Deployment).where(Deployment.id == deployment.id)
                 .values(paused=paused, updated=now, last_slot=now))
    return True


def delete_deployment(conn: Connection, name: str) -> int:
    """Delete it, and its runs not started yet; run history is kept. Returns runs dropped."""
    deployment = get_deployment(conn, name)
    dropped = drop_pending_runs(conn, deployment.id, None)
    conn.execute(delete(Deployment).where(Deployment.id == deployment.id))
    return dropped


def drop_pending_runs(conn: Connection, deployment_id: str, after: dt.datetime | None) -> int:
    """Delete the deployment's SCHEDULED runs (those due after ``after``, if given)."""
    query = select(FlowRun.id).where(FlowRun.deployment_id == deployment_id,
                                     FlowRun.state_type == SCHEDULED)
    if after is not None:
        query = query.where(FlowRun.scheduled_time > after)
    ids = list(conn.execute(query).scalars())
    if ids:
        conn.execute(delete(RunState).where(RunState.flow_run_id.in_(ids)))
        conn.execute(delete(FlowRun).where(FlowRun.id.in_(ids)))
    return len(ids)


def flow_id(conn: Connection, flow_name: str) -> int:
    return int(conn.execute(select(Flow.id).where(Flow.name == flow_name)).scalar_one())


def run_row(deployment: DeploymentInfo, flow_id: int, slot: dt.datetime, state_name: str,
            now: dt.datetime, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``flow_runs`` row of a SCHEDULED run of ``deployment`` due at ``slot``."""
    return {
        "id": str(uuid.uuid4()), "flow_id": flow_id,
        "name": f"{deployment.name}-{slot.strftime('%Y%m%d-%H%M%S')}",
        "parameters": parameters if parameters is not None else deployment.parameters,
        "tags": deployment.tags or None, "created": now, "state_type": SCHEDULED,
        "state_name": state_name, "state_message": None, "start_time": None,
        "end_time": None, "run_count": 0, "owner_host": None, "owner_pid": None,
        "owner_token": None, "heartbeat": None, "parent_flow_run_id": None,
        "parent_task_run_id": None, "deployment_id": deployment.id, "scheduled_time": slot,
        "pool": deployment.pool, "attempt": 0,
    }


def insert_runs(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert scheduled runs and their first state-history rows."""
    if not rows:
        return
    conn.execute(insert(FlowRun), rows)
    conn.execute(insert(RunState), [
        {"flow_run_id": r["id"], "task_run_id": None, "type": SCHEDULED,
         "name": r["state_name"], "message": None, "timestamp": r["created"]} for r in rows])
