"""Workers in the store (table ``workers``): registered at start, heartbeated, stopped.

A worker (``orchestrate-nb worker start``, ``Flow.serve``) registers itself as
``host:pid:token`` (the token is its process start time, so a recycled pid is another
worker), refreshes ``heartbeat`` while it runs, and sets ``stopped`` on a clean exit. It is
alive when it has not stopped and, on this host, its process still runs; elsewhere, when
its heartbeat is fresh. The runs it holds are the unfinished flow runs it owns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from orchestrate_nb.processes import ProcessIdentity, current_process, is_local_process_alive
from orchestrate_nb.store.orm import FlowRun, Worker

UTC = dt.timezone.utc
STALE_SECONDS = 60.0  # no heartbeat for this long: a worker on another host is not alive
HELD_STATES = ("PENDING", "RUNNING", "PAUSED", "CANCELLING")
KEEP_STOPPED = dt.timedelta(days=7)  # stopped workers are listed for a week


@dataclass(frozen=True)
class WorkerInfo:
    id: str
    pool: str
    host: str
    pid: int
    started: dt.datetime
    heartbeat: dt.datetime
    stopped: dt.datetime | None
    alive: bool
    runs: tuple[str, ...]


def worker_id(identity: ProcessIdentity) -> str:
    return f"{identity.host}:{identity.pid}:{identity.token}"


def register(conn: Connection, identity: ProcessIdentity, pool: str, now: dt.datetime) -> str:
    """Record this worker as started (replacing a row of the same id); its id."""
    key = worker_id(identity)
    conn.execute(delete(Worker).where(Worker.id == key))
    conn.execute(delete(Worker).where(Worker.stopped.is_not(None),
                                      Worker.stopped < now - KEEP_STOPPED))
    conn.execute(insert(Worker).values(id=key, pool=pool, host=identity.host,
                                       pid=identity.pid, token=identity.token, started=now,
                                       heartbeat=now, stopped=None))
    return key


def heartbeat(conn: Connection, key: str, now: dt.datetime) -> None:
    conn.execute(update(Worker).where(Worker.id == key, Worker.stopped.is_(None))
                 .values(heartbeat=now))


def mark_stopped(conn: Connection, key: str, now: dt.datetime) -> None:
    conn.execute(update(Worker).where(Worker.id == key).values(stopped=now, heartbeat=now))


def list_workers(conn: Connection, now: dt.datetime | None = None,
                 limit: int = 200) -> list[WorkerInfo]:
    """Workers, running ones first then the most recently started."""
    now = now or dt.datetime.now(UTC)
    rows = conn.execute(select(Worker.id, Worker.pool, Worker.host, Worker.pid, Worker.token,
                               Worker.started, Worker.heartbeat, Worker.stopped)
                        .order_by(Worker.stopped.is_not(None), Worker.started.desc())
                        .limit(limit)).all()
    held = _runs_held(conn, [(r.host, r.pid) for r in rows])
    here = current_process().host
    found = []
    for row in rows:
        if row.stopped is not None:
            alive = False
        elif row.host == here:
            alive = is_local_process_alive(row.pid, row.token or None)
        else:
            alive = (now - row.heartbeat).total_seconds() <= STALE_SECONDS
        runs = tuple(run_id for run_id, token in held.get((row.host, row.pid), ())
                     if (token or "") == row.token)
        found.append(WorkerInfo(row.id, row.pool, row.host, row.pid, row.started,
                                row.heartbeat, row.stopped, alive, runs))
    return found


def _runs_held(conn: Connection, owners: list[tuple[str, int]]
               ) -> dict[tuple[str, int], list[tuple[str, str | None]]]:
    held: dict[tuple[str, int], list[tuple[str, str | None]]] = {}
    if not owners:
        return held
    query = (select(FlowRun.id, FlowRun.owner_host, FlowRun.owner_pid, FlowRun.owner_token)
             .where(FlowRun.owner_pid.in_(sorted({pid for _, pid in owners})),
                    FlowRun.owner_host.in_(sorted({host for host, _ in owners})),
                    FlowRun.state_type.in_(HELD_STATES), FlowRun.deployment_id.is_not(None)))
    for row in conn.execute(query):
        held.setdefault((row.owner_host, row.owner_pid), []).append((row.id, row.owner_token))
    return held
