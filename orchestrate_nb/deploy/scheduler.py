"""The scheduler decides WHEN: it turns deployments' schedule slots into SCHEDULED runs.

One pass (``schedule_due_runs``) looks only at deployments whose ``last_slot`` (the latest
slot already turned into a run — normally the pre-created next run) has come: a pass over
thousands of quiet deployments reads nothing but an index. For each, it

- applies the catch-up policy to the slots missed since ``last_slot``: ``latest`` (the
  default) runs the latest missed slot once, ``all`` runs every one, ``none`` only a slot
  within ``GRACE`` of now — never a pile of late runs by default;
- names a run whose slot passed more than ``GRACE`` ago "Late" (state type SCHEDULED);
- pre-creates the next upcoming run, so ``deployment ls`` shows when it will run.

Runs and ``last_slot`` are written in one transaction, and deployments are locked while a
pass handles them (SQLite: one writer at a time; PostgreSQL: ``FOR UPDATE SKIP LOCKED``),
so schedulers running at once never create a slot twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from orchestrate_nb.core.schedules import MAX_SLOTS, Schedule
from orchestrate_nb.deploy.deployments import schedule_of
from orchestrate_nb.errors import DeploymentError
from orchestrate_nb.store import deployments as store
from orchestrate_nb.store.database import Database
from orchestrate_nb.store.orm import Deployment, Flow, FlowRun, RunState

UTC = dt.timezone.utc
GRACE = dt.timedelta(seconds=60)
SCHEDULED, LATE = "Scheduled", "Late"
logger = logging.getLogger("orchestrate_nb.scheduler")
Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


@dataclass
class _Pass:
    """What one pass writes, gathered first and written in bulk."""

    now: dt.datetime
    new_runs: list[dict[str, Any]] = field(default_factory=list)
    last_slots: list[dict[str, Any]] = field(default_factory=list)
    # Deployments with the same schedule share one object (``schedule_of``), and usually
    # the same last slot: their slots are computed once per pass (cron math dominates).
    # The memo holds each schedule, so no other object can take its id during the pass.
    slots: dict[tuple[int, dt.datetime],
                tuple[Schedule, list[dt.datetime], dt.datetime | None]] = \
        field(default_factory=dict)

    def slots_until(self, schedule: Schedule,
                    after: dt.datetime) -> tuple[list[dt.datetime], dt.datetime | None]:
        key = (id(schedule), after)
        if key not in self.slots:
            self.slots[key] = (schedule, *_slots_until(schedule, after, self.now))
        _, missed, upcoming = self.slots[key]
        return list(missed), upcoming

    def state_name(self, slot: dt.datetime) -> str:
        return LATE if slot < self.now - GRACE else SCHEDULED


def schedule_due_runs(database: Database, now: dt.datetime | None = None) -> int:
    """One scheduler pass at ``now``; returns how many runs it created."""
    work = _Pass(now or utcnow())
    with store.write(database) as conn:
        for deployment, flow_id in _due_deployments(conn, work.now):
            slots = _slots_or_none(deployment, work)
            if slots is not None:
                _plan_deployment(conn, deployment, flow_id, work, *slots)
        store.insert_runs(conn, work.new_runs)
        if work.last_slots:
            conn.execute(update(Deployment).where(Deployment.id == bindparam("b_id"))
                         .values(last_slot=bindparam("b_slot")), work.last_slots)
        _mark_late_runs(conn, work.now)
    return len(work.new_runs)


def _due_deployments(conn: Connection,
                     now: dt.datetime) -> list[tuple[store.DeploymentInfo, int]]:
    query = (select(*store.DEPLOYMENT_COLUMNS, Flow.id)
             .join(Flow, Flow.name == Deployment.flow_name)
             .where(Deployment.paused.is_(False), Deployment.schedule_kind.is_not(None),
                    Deployment.last_slot <= now)
             .with_for_update(of=Deployment, skip_locked=True))
    return [(store.deployment_info(row[:-1]), row[-1]) for row in conn.execute(query)]


def _slots_or_none(deployment: store.DeploymentInfo, work: _Pass
                   ) -> tuple[list[dt.datetime], dt.datetime | None] | None:
    """The deployment's slots until now and its next one; None (logged once) when they
    cannot be computed — a schedule stored by an older version (``0 0 31 2 *``), a timezone
    gone from the tz database: one such deployment must not stop the others' schedules,
    nor the workers whose iterations run this pass."""
    try:
        schedule = schedule_of(deployment)
        assert schedule is not None and deployment.last_slot is not None
        return work.slots_until(schedule, deployment.last_slot)
    except Exception as exc:  # whatever the schedule library raises
        _warn_unschedulable(deployment, exc)
        return None


_warned: set[tuple[str, dt.datetime]] = set()  # (deployment id, updated): warned about


def _warn_unschedulable(deployment: store.DeploymentInfo, exc: Exception) -> None:
    if (deployment.id, deployment.updated) in _warned:
        return
    _warned.add((deployment.id, deployment.updated))
    reason = str(exc) if isinstance(exc, DeploymentError) else \
        f"its next run cannot be computed ({type(exc).__name__}: {exc})"
    logger.warning("deployment %r is not scheduled: %s; redeploy it with another schedule "
                   "or remove it", deployment.name, reason)


def _plan_deployment(conn: Connection, deployment: store.DeploymentInfo, flow_id: int,
                     work: _Pass, missed: list[dt.datetime],
                     upcoming: dt.datetime | None) -> None:
    assert deployment.last_slot is not None
    last = deployment.last_slot
    if missed:
        pending = _pending_run_at(conn, deployment.id, last)
        chosen = _catch_up(deployment, ([last] if pending else []) + missed, work.now)
        _reuse_or_drop(conn, pending, chosen, work)
        for slot in chosen:
            work.new_runs.append(store.run_row(deployment, flow_id, slot,
                                               work.state_name(slot), work.now))
        last = missed[-1]
    if upcoming is not None:
        work.new_runs.append(store.run_row(deployment, flow_id, upcoming, SCHEDULED, work.now))
    work.last_slots.append({"b_id": deployment.id, "b_slot": upcoming or max(last, work.now)})


def _slots_until(schedule: Schedule, after: dt.datetime,
                 now: dt.datetime) -> tuple[list[dt.datetime], dt.datetime | None]:
    """The slots in ``(after, now]``, and the first one after ``now`` (None: no more)."""
    missed: list[dt.datetime] = []
    for slot in schedule.slots(after):
        if slot > now:
            return missed, slot
        if len(missed) < MAX_SLOTS:
            missed.append(slot)
    return missed, None


def _catch_up(deployment: store.DeploymentInfo, slots: list[dt.datetime],
              now: dt.datetime) -> list[dt.datetime]:
    if deployment.catchup == "all":
        if len(slots) >= MAX_SLOTS:
            logger.warning("deployment %r: catching up only the first %d missed slots",
                           deployment.name, MAX_SLOTS)
        return slots
    chosen = [slots[-1]] if deployment.catchup == "latest" else \
        [s for s in slots if s >= now - GRACE][-1:]
    if len(slots) > len(chosen):
        logger.info("deployment %r: skipping %d missed slot(s) from %s (catch-up: %s)",
                    deployment.name, len(slots) - len(chosen), slots[0].isoformat(),
                    deployment.catchup)
    return chosen


def _pending_run_at(conn: Connection, deployment_id: str, slot: dt.datetime) -> str | None:
    """The pre-created run at ``slot`` if no worker has taken it yet."""
    return conn.execute(select(FlowRun.id).where(
        FlowRun.deployment_id == deployment_id, FlowRun.scheduled_time == slot,
        FlowRun.state_type == "SCHEDULED").limit(1)).scalar()


def _reuse_or_drop(conn: Connection, pending: str | None, chosen: list[dt.datetime],
                   work: _Pass) -> None:
    """The pre-created run of a missed slot becomes the first chosen slot's run, or goes."""
    if pending is None:
        return
    if not chosen:
        conn.execute(delete(RunState).where(RunState.flow_run_id == pending))
        conn.execute(delete(FlowRun).where(FlowRun.id == pending))
        return
    slot, name = chosen[0], work.state_name(chosen[0])
    moved = conn.execute(update(FlowRun).where(FlowRun.id == pending,
                                               FlowRun.state_type == "SCHEDULED")
                         .values(scheduled_time=slot, state_name=name))
    if moved.rowcount:  # else a worker took it meanwhile: the slot gets a run of its own
        chosen.pop(0)
        if name == LATE:
            _record_late(conn, [pending], work.now)


def _mark_late_runs(conn: Connection, now: dt.datetime) -> None:
    """Runs of deployments still waiting more than ``GRACE`` after their time become Late.

    Rows another scheduler (or a worker) has locked are skipped, not waited for: two
    passes never wait on each other's runs (no deadlock), and the next pass gets them.
    """
    ids = list(conn.execute(select(FlowRun.id).where(
        FlowRun.state_type == "SCHEDULED", FlowRun.scheduled_time < now - GRACE,
        FlowRun.state_name == SCHEDULED, FlowRun.deployment_id.is_not(None))
        .order_by(FlowRun.id).with_for_update(skip_locked=True)).scalars())
    if ids:
        conn.execute(update(FlowRun).where(FlowRun.id.in_(ids)).values(state_name=LATE))
        _record_late(conn, ids, now)


def _record_late(conn: Connection, ids: list[str], now: dt.datetime) -> None:
    conn.execute(insert(RunState), [
        {"flow_run_id": run_id, "task_run_id": None, "type": "SCHEDULED", "name": LATE,
         "message": None, "timestamp": now} for run_id in ids])


class Scheduler:
    """Runs passes: ``loop(now)`` once (tests pass the time), ``run_forever`` until stopped."""

    def __init__(self, database: Database, clock: Clock = utcnow) -> None:
        self.database = database
        self.clock = clock

    def loop(self, now: dt.datetime | None = None) -> int:
        return schedule_due_runs(self.database, now or self.clock())

    def run_forever(self, poll: float = 1.0, stop_event: threading.Event | None = None) -> None:
        stop = stop_event or threading.Event()
        while not stop.is_set():
            try:
                self.loop()
            except Exception:  # a database hiccup must not stop the schedules
                logger.exception("scheduler pass failed; retrying in %.1f s", poll)
            stop.wait(poll)
