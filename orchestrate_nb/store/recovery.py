"""Crash recovery: runs left unfinished by a process that died are marked CRASHED.

Run whenever the store is opened. An owner on this host is dead when its pid is gone or now
belongs to another process (a different start token); an owner on another host is presumed
dead when it has not heartbeated for ``heartbeat_timeout``. The non-final task runs of a
crashed flow run crash with it. Each crash appends a state-history row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, Table, and_, bindparam, select, update

from orchestrate_nb.processes import is_local_host, is_local_process_alive
from orchestrate_nb.store.database import Database
from orchestrate_nb.store.writer import FLOW_RUNS, RUN_STATES, TASK_RUNS

UTC = dt.timezone.utc
HEARTBEAT_TIMEOUT = dt.timedelta(seconds=60)
# States held by a live process: a PAUSED run's process waits in pause_flow_run, so a
# paused run whose process died crashed like a running one. SCHEDULED runs wait without one.
ACTIVE_STATE_TYPES = ("PENDING", "RUNNING", "PAUSED", "CANCELLING")
NON_FINAL_STATE_TYPES = (*ACTIVE_STATE_TYPES, "SCHEDULED")


@dataclass(frozen=True)
class RecoveryReport:
    crashed_flow_runs: int
    crashed_task_runs: int
    flow_run_ids: tuple[str, ...] = ()  # the flow runs marked CRASHED (their alerts)


class _Crash(NamedTuple):
    run_id: str
    flow_run_id: str | None
    task_run_id: str | None
    message: str


def recover_crashed_runs(database: Database, now: dt.datetime | None = None,
                         heartbeat_timeout: dt.timedelta = HEARTBEAT_TIMEOUT) -> RecoveryReport:
    """Mark the runs of dead processes CRASHED; returns how many were."""
    now = now or dt.datetime.now(UTC)
    with database.write() as conn:
        flow_crashes = [_Crash(row.id, row.id, None, crash_message(row))
                        for row in _dead_owned_runs(conn, FLOW_RUNS, now, heartbeat_timeout)]
        orphans = _dead_owned_runs(conn, TASK_RUNS, now, heartbeat_timeout,
                                   TASK_RUNS.c.flow_run_id.is_(None))
        task_crashes = [_Crash(row.id, None, row.id, crash_message(row)) for row in orphans]
        for flow_crash in flow_crashes:
            task_crashes.extend(_Crash(task_run_id, flow_crash.run_id, task_run_id,
                                       flow_crash.message)
                                for task_run_id in _unfinished_task_runs(conn, flow_crash.run_id))
        _crash(conn, FLOW_RUNS, flow_crashes, now)
        _crash(conn, TASK_RUNS, task_crashes, now)
    return RecoveryReport(len(flow_crashes), len(task_crashes),
                          tuple(crash.run_id for crash in flow_crashes))


def crash_message(owner: Any) -> str:
    return f"process {owner.owner_pid} on host {owner.owner_host} exited without finishing the run"


def _dead_owned_runs(conn: Connection, table: Table, now: dt.datetime,
                     timeout: dt.timedelta, *extra: Any) -> list[Any]:
    c = table.c
    query = (select(c.id, c.owner_host, c.owner_pid, c.owner_token, c.heartbeat)
             .where(and_(c.state_type.in_(ACTIVE_STATE_TYPES), c.owner_host.is_not(None), *extra))
             .with_for_update(skip_locked=True))  # PostgreSQL: two recoveries never clash
    return [row for row in conn.execute(query) if _owner_is_dead(row, now, timeout)]


def _owner_is_dead(row: Any, now: dt.datetime, timeout: dt.timedelta) -> bool:
    if is_local_host(row.owner_host):
        return not is_local_process_alive(row.owner_pid or 0, row.owner_token)
    return row.heartbeat is None or now - row.heartbeat > timeout


def _unfinished_task_runs(conn: Connection, flow_run_id: str) -> list[str]:
    c = TASK_RUNS.c
    query = select(c.id).where(c.flow_run_id == flow_run_id,
                               c.state_type.in_(NON_FINAL_STATE_TYPES))
    return list(conn.execute(query).scalars())


def _crash(conn: Connection, table: Table, crashes: list[_Crash], now: dt.datetime) -> None:
    if not crashes:
        return
    conn.execute(
        update(table).where(table.c.id == bindparam("b_id")).values(
            state_type="CRASHED", state_name="Crashed", state_message=bindparam("b_message"),
            end_time=now),
        [{"b_id": crash.run_id, "b_message": crash.message} for crash in crashes])
    conn.execute(RUN_STATES.insert(), [
        {"flow_run_id": crash.flow_run_id, "task_run_id": crash.task_run_id, "type": "CRASHED",
         "name": "Crashed", "message": crash.message, "timestamp": now}
        for crash in crashes])
