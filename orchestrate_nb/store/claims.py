"""Workers' writes to deployment runs: claim, state changes, heartbeats, retries (SPEC §5).

``claim_next_run`` moves one due SCHEDULED run of a pool to PENDING, owned by the worker,
in one transaction: on PostgreSQL the row is selected ``FOR UPDATE SKIP LOCKED`` (workers
on any number of machines never wait on, or take, each other's row); on SQLite the write
transaction holds the database's write lock from its first statement (``BEGIN IMMEDIATE``)
and the UPDATE is conditional on the row still being SCHEDULED. Either way a run is claimed
by exactly one worker.

State changes made here are conditional on the run's current state (``set_state``), so a
late write of an executor never overwrites a cancellation or a crash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.orm import aliased

from orchestrate_nb.core.ids import time_ordered_id
from orchestrate_nb.processes import ProcessIdentity
from orchestrate_nb.store.orm import Deployment, FlowRun, RunState

# States a live process holds the run in: a PAUSED run's process waits in pause_flow_run.
ACTIVE = ("PENDING", "RUNNING", "PAUSED", "CANCELLING")
RETRY_WINDOW = dt.timedelta(hours=1)  # crashed runs older than this are not retried


@dataclass(frozen=True)
class ClaimedRun:
    id: str
    deployment_id: str
    parameters: dict[str, Any] | None
    attempt: int


def claim_next_run(conn: Connection, pool: str, worker: ProcessIdentity,
                   now: dt.datetime) -> ClaimedRun | None:
    """Take the earliest due SCHEDULED run of ``pool`` (PENDING, owned by ``worker``)."""
    due = (select(FlowRun.id).where(FlowRun.state_type == "SCHEDULED", FlowRun.pool == pool,
                                    FlowRun.scheduled_time <= now,
                                    FlowRun.deployment_id.is_not(None))
           .order_by(FlowRun.scheduled_time, FlowRun.id).limit(1))
    if conn.dialect.name == "postgresql":
        run_id = conn.execute(due.with_for_update(skip_locked=True)).scalar()
        if run_id is None:
            return None
        target: Any = FlowRun.id == run_id
    else:
        target = FlowRun.id == due.scalar_subquery()
    claimed = conn.execute(
        update(FlowRun).where(target, FlowRun.state_type == "SCHEDULED")
        .values(state_type="PENDING", state_name="Pending", state_message=None,
                owner_host=worker.host, owner_pid=worker.pid, owner_token=worker.token,
                heartbeat=now)
        .returning(FlowRun.id, FlowRun.deployment_id, FlowRun.parameters, FlowRun.attempt)
    ).first()
    if claimed is None:
        return None
    record_state(conn, claimed.id, "PENDING", "Pending", None, now)
    return ClaimedRun(claimed.id, claimed.deployment_id, claimed.parameters, claimed.attempt)


def next_due(conn: Connection, pool: str) -> dt.datetime | None:
    """When the earliest SCHEDULED run of ``pool`` is due (None: none is scheduled)."""
    due = conn.execute(select(func.min(FlowRun.scheduled_time))
                       .where(FlowRun.state_type == "SCHEDULED", FlowRun.pool == pool,
                              FlowRun.deployment_id.is_not(None))).scalar()
    if due is not None and due.tzinfo is None:  # SQLite keeps no offset: stored as UTC
        due = due.replace(tzinfo=dt.timezone.utc)
    return due  # type: ignore[no-any-return]


def record_state(conn: Connection, run_id: str, state_type: str, name: str,
                 message: str | None, now: dt.datetime) -> None:
    conn.execute(insert(RunState).values(flow_run_id=run_id, task_run_id=None, type=state_type,
                                         name=name, message=message, timestamp=now))


def set_state(conn: Connection, run_id: str, state_type: str, name: str, message: str | None,
              now: dt.datetime, only_from: Iterable[str] = ACTIVE,
              **columns: Any) -> bool:
    """Move the run to a state if it is in one of ``only_from``; False when it was not."""
    values: dict[str, Any] = {"state_type": state_type, "state_name": name,
                              "state_message": message, **columns}
    if state_type == "RUNNING":
        values.update(start_time=now, run_count=FlowRun.run_count + 1)
    elif state_type in ("COMPLETED", "FAILED", "CANCELLED", "CRASHED"):
        values["end_time"] = now
    changed = conn.execute(update(FlowRun).where(FlowRun.id == run_id,
                                                 FlowRun.state_type.in_(tuple(only_from)))
                           .values(**values)).rowcount
    if changed:
        record_state(conn, run_id, state_type, name, message, now)
    return bool(changed)


def heartbeat(conn: Connection, run_ids: list[str], now: dt.datetime) -> None:
    if run_ids:
        conn.execute(update(FlowRun).where(FlowRun.id.in_(run_ids),
                                           FlowRun.state_type.in_(ACTIVE))
                     .values(heartbeat=now))


def states_of(conn: Connection, run_ids: list[str]) -> dict[str, str]:
    if not run_ids:
        return {}
    rows = conn.execute(select(FlowRun.id, FlowRun.state_type).where(FlowRun.id.in_(run_ids)))
    return {row.id: row.state_type for row in rows}


def request_cancel(conn: Connection, run_id: str, now: dt.datetime) -> str | None:
    """Cancel a run: a scheduled one at once (CANCELLED); a started or paused one, which a
    live process holds, goes CANCELLING: its worker kills it, and a paused run's own
    process ends it Cancelled. Returns the new state type, or None when it had finished."""
    if set_state(conn, run_id, "CANCELLED", "Cancelled", "cancelled before it started", now,
                 only_from=("SCHEDULED",)):
        return "CANCELLED"
    if set_state(conn, run_id, "CANCELLING", "Cancelling", "cancel requested", now,
                 only_from=("PENDING", "RUNNING", "PAUSED")):
        return "CANCELLING"
    return None


def schedule_retries(conn: Connection, now: dt.datetime) -> list[str]:
    """For each recently crashed deployment run with retries left and no retry yet, a new
    SCHEDULED run (attempt + 1, due ``retry_delay_seconds`` after the crash); their ids."""
    retry = aliased(FlowRun)
    has_retry = select(retry.id).where(retry.deployment_id == FlowRun.deployment_id,
                                       retry.name == FlowRun.name,
                                       retry.attempt == FlowRun.attempt + 1).exists()
    query = (select(FlowRun.id, FlowRun.flow_id, FlowRun.name, FlowRun.parameters,
                    FlowRun.tags, FlowRun.deployment_id, FlowRun.pool, FlowRun.attempt,
                    Deployment.retry_delay_seconds)
             .join(Deployment, Deployment.id == FlowRun.deployment_id)
             .where(FlowRun.state_type == "CRASHED", FlowRun.end_time >= now - RETRY_WINDOW,
                    FlowRun.attempt < Deployment.retries, ~has_retry)
             .with_for_update(of=FlowRun, skip_locked=True))
    created = []
    for crashed in conn.execute(query).all():
        due = now + dt.timedelta(seconds=crashed.retry_delay_seconds)
        created.append(_insert_retry(conn, crashed, due, now))
    return created


def _insert_retry(conn: Connection, crashed: Any, due: dt.datetime,
                  now: dt.datetime) -> str:
    run_id = time_ordered_id()
    message = f"retry {crashed.attempt + 1} of crashed run {crashed.id}"
    conn.execute(insert(FlowRun).values(
        id=run_id, flow_id=crashed.flow_id, name=crashed.name, parameters=crashed.parameters,
        tags=crashed.tags, created=now, state_type="SCHEDULED", state_name="Scheduled",
        state_message=message, run_count=0, deployment_id=crashed.deployment_id,
        scheduled_time=due, pool=crashed.pool, attempt=crashed.attempt + 1))
    record_state(conn, run_id, "SCHEDULED", "Scheduled", message, now)
    return run_id

