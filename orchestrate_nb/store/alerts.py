"""Alerts and their deliveries as rows, and the claims that make each delivery happen once.

A delivery is one notification block's message for one alert, subject (a flow run, or a
deployment's freshness window) and event. Whoever inserts its row (``claim_new``) sends it:
the unique (alert, subject, event, target) row makes a second insert, by another worker or
after a restart, a no-op. A failed send is retried with backoff: the row waits as
``retrying`` until ``next_attempt``, and a sender that died mid-send (``sending`` past
``claimed_until``) is taken over by the next maintenance pass.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from orchestrate_nb.errors import AlertError, NotFound
from orchestrate_nb.store.database import Database, store_errors
from orchestrate_nb.store.orm import Alert, AlertDelivery, LogLine

ALERTS = cast(Table, Alert.__table__)
DELIVERIES = cast(Table, AlertDelivery.__table__)
SENDING, RETRYING, SENT, FAILED = "sending", "retrying", "sent", "failed"


@dataclass(frozen=True)
class AlertInfo:
    id: int
    name: str
    events: list[str]
    deployment: str | None
    flow: str | None
    tag: str | None
    no_success_for_seconds: float | None
    notify: list[str]
    created: dt.datetime
    updated: dt.datetime


@dataclass(frozen=True)
class DeliveryInfo:
    id: int
    alert_id: int
    subject: str
    event: str
    target: str
    flow_run_id: str | None
    status: str
    attempts: int
    next_attempt: dt.datetime | None
    subject_text: str | None
    body: str | None
    last_error: str | None
    created: dt.datetime
    updated: dt.datetime


@dataclass(frozen=True)
class NewDelivery:
    alert_id: int
    subject: str
    event: str
    target: str
    flow_run_id: str | None
    subject_text: str
    body: str


# -- alerts ---------------------------------------------------------------------------
def create_alert(database: Database, values: dict[str, Any], overwrite: bool,
                 now: dt.datetime) -> None:
    taken = AlertError(f"an alert named {values['name']!r} exists already: remove it first "
                       "(orchestrate-nb alert rm) or pass overwrite=True")
    with store_errors(database, "write"):
        try:
            with database.write() as conn:
                exists = conn.execute(select(Alert.id).where(Alert.name == values["name"])).first()
                if exists is not None and not overwrite:
                    raise taken
                if exists is None:
                    conn.execute(insert(Alert), [{**values, "created": now, "updated": now}])
                else:
                    conn.execute(update(Alert).where(Alert.id == exists.id)
                                 .values(**values, updated=now))
        except IntegrityError:
            raise taken from None


def list_alerts(database: Database) -> list[AlertInfo]:
    with store_errors(database), database.read() as conn:
        return [_alert(row) for row in conn.execute(select(ALERTS).order_by(Alert.name))]


def alerts_version(conn: Connection) -> tuple[int, Any]:
    """Changes whenever an alert is created, changed or removed (a cheap cache check)."""
    row = conn.execute(select(func.count(), func.max(Alert.updated), func.max(Alert.id))).one()
    return int(row[0]), (row[1], row[2])


def load_alerts(conn: Connection) -> list[AlertInfo]:
    return [_alert(row) for row in conn.execute(select(ALERTS).order_by(Alert.id))]


def get_alert(database: Database, name: str) -> AlertInfo:
    with store_errors(database), database.read() as conn:
        row = conn.execute(select(ALERTS).where(Alert.name == name)).first()
    if row is None:
        raise NotFound(f"no alert named {name!r} (orchestrate-nb alert ls lists them)")
    return _alert(row)


def delete_alert(database: Database, name: str) -> int:
    """Remove the alert and its deliveries; returns how many deliveries went with it."""
    alert = get_alert(database, name)
    with store_errors(database, "delete"), database.write() as conn:
        gone = conn.execute(delete(AlertDelivery).where(AlertDelivery.alert_id == alert.id))
        conn.execute(delete(Alert).where(Alert.id == alert.id))
    return int(gone.rowcount or 0)


# -- deliveries -----------------------------------------------------------------------
def claim_new(conn: Connection, delivery: NewDelivery, now: dt.datetime,
              claim_seconds: float) -> int | None:
    """Insert the delivery's row as ``sending`` (ours); None if it exists (someone's)."""
    values = {"alert_id": delivery.alert_id, "subject": delivery.subject,
              "event": delivery.event, "target": delivery.target,
              "flow_run_id": delivery.flow_run_id, "status": SENDING, "attempts": 0,
              "next_attempt": None, "claimed_until": now + dt.timedelta(seconds=claim_seconds),
              "subject_text": delivery.subject_text, "body": delivery.body, "last_error": None,
              "created": now, "updated": now}
    statement = _insert_ignoring_duplicates(conn)
    result = conn.execute(statement.values(values).returning(AlertDelivery.id))
    row = result.first()
    return None if row is None else int(row[0])


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    index = ["alert_id", "subject", "event", "target"]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(DELIVERIES).on_conflict_do_nothing(index_elements=index)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(DELIVERIES).on_conflict_do_nothing(index_elements=index)


def claim_due(database: Database, now: dt.datetime, claim_seconds: float,
              limit: int = 50) -> list[DeliveryInfo]:
    """Deliveries due for another attempt (or abandoned mid-send), claimed for this sender."""
    due = or_((AlertDelivery.status == RETRYING) & (AlertDelivery.next_attempt <= now),
              (AlertDelivery.status == SENDING) & (AlertDelivery.claimed_until < now))
    claimed = []
    with store_errors(database, "write"), database.write() as conn:
        for row in conn.execute(select(DELIVERIES).where(due).order_by(AlertDelivery.id)
                                .limit(limit)).all():
            taken = conn.execute(update(AlertDelivery).where(
                AlertDelivery.id == row.id, AlertDelivery.status == row.status,
                AlertDelivery.updated == row.updated).values(
                status=SENDING, updated=now,
                claimed_until=now + dt.timedelta(seconds=claim_seconds)))
            if taken.rowcount:
                claimed.append(_delivery(row))
    return claimed


def record_outcome(database: Database, delivery_id: int, error: str | None,
                   now: dt.datetime, retry_at: dt.datetime | None) -> str:
    """Record a send: sent, retrying at ``retry_at``, or failed for good; the status."""
    status = SENT if error is None else (RETRYING if retry_at is not None else FAILED)
    with store_errors(database, "write"), database.write() as conn:
        conn.execute(update(AlertDelivery).where(AlertDelivery.id == delivery_id).values(
            status=status, attempts=AlertDelivery.attempts + 1, last_error=error,
            next_attempt=retry_at, claimed_until=None, updated=now))
    return status


def get_delivery(database: Database, delivery_id: int) -> DeliveryInfo:
    with store_errors(database), database.read() as conn:
        return _delivery(conn.execute(select(DELIVERIES).where(
            AlertDelivery.id == delivery_id)).one())


def list_deliveries(database: Database, alert_id: int | None = None,
                    flow_run_id: str | None = None, limit: int = 20) -> list[DeliveryInfo]:
    """Recent deliveries, newest first (of one alert, or of one run)."""
    query = select(DELIVERIES)
    if alert_id is not None:
        query = query.where(AlertDelivery.alert_id == alert_id)
    if flow_run_id is not None:
        query = query.where(AlertDelivery.flow_run_id == flow_run_id)
    with store_errors(database), database.read() as conn:
        return [_delivery(row) for row in conn.execute(
            query.order_by(AlertDelivery.id.desc()).limit(limit))]


def log_to_run(database: Database, flow_run_id: str, level: int, message: str,
               now: dt.datetime) -> None:
    """A line in the run's own logs (``runs logs`` shows what its alerts did)."""
    with store_errors(database, "write"), database.write() as conn:
        conn.execute(insert(LogLine), [{"flow_run_id": flow_run_id, "task_run_id": None,
                                        "level": level, "logger": "orchestrate_nb.alerts",
                                        "message": message, "timestamp": now}])


def _alert(row: Any) -> AlertInfo:
    return AlertInfo(row.id, row.name, list(row.events or []), row.deployment, row.flow,
                     row.tag, row.no_success_for_seconds, list(row.notify or []), row.created,
                     row.updated)


def _delivery(row: Any) -> DeliveryInfo:
    return DeliveryInfo(row.id, row.alert_id, row.subject, row.event, row.target,
                        row.flow_run_id, row.status, row.attempts, row.next_attempt,
                        row.subject_text, row.body, row.last_error, row.created, row.updated)
