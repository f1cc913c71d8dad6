"""Creating, listing, testing and removing alerts (the Python side of ``orchestrate-nb
alert``). Bad input is refused with one line, and nothing is written."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable

from orchestrate_nb.alerts import delivery
from orchestrate_nb.alerts.facts import EVENTS
from orchestrate_nb.errors import AlertError, OrchestrateError
from orchestrate_nb.store import alerts as store
from orchestrate_nb.store.alerts import AlertInfo, DeliveryInfo, NewDelivery
from orchestrate_nb.store.database import Database

UTC = dt.timezone.utc
Alert = AlertInfo
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | float | dt.timedelta) -> dt.timedelta:
    """``26h``, ``90m``, ``2d``, a number of seconds, or a timedelta (positive)."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        found = _DURATION.match(str(value).lower())
        if not found:
            raise AlertError(f"invalid duration {value!r}: give a number and a unit, e.g. "
                             "26h, 90m, 2d")
        seconds = float(found[1]) * _UNIT_SECONDS[found[2]]
    if not seconds > 0:
        raise AlertError(f"invalid duration {value!r}: it must be longer than zero")
    return dt.timedelta(seconds=seconds)


def create_alert(name: str, on: Iterable[str] = (), *, notify: Iterable[str],
                 deployment: str | None = None, flow: str | None = None,
                 tag: str | None = None,
                 no_success_for: str | float | dt.timedelta | None = None,
                 overwrite: bool = False, database: Database | None = None) -> Alert:
    """An alert: when a run in scope (a deployment, a flow, a tag, or every top-level run)
    enters one of ``on`` (failed, crashed, cancelled, late, completed), or a deployment in
    scope has had no Completed run for ``no_success_for``, each block in ``notify`` is sent
    a message."""
    database = database or _database()
    if not isinstance(name, str) or not NAME.match(name):
        raise AlertError(f"invalid alert name {name!r}: use letters, numbers, '-', '_', '.'")
    events = _events(on)
    scopes = [s for s in (deployment, flow, tag) if s is not None]
    if len(scopes) > 1:
        raise AlertError("an alert is about one deployment, one flow or one tag: "
                         "give at most one of deployment, flow and tag")
    window = None if no_success_for is None else parse_duration(no_success_for)
    if not events and window is None:
        raise AlertError("an alert needs events to fire on (e.g. on=['failed']) or a "
                         "freshness window (no_success_for='26h')")
    if deployment is not None:
        _check_deployment(database, deployment)
    targets = _targets(database, notify)
    store.create_alert(database, {
        "name": name, "events": events, "deployment": deployment, "flow": flow, "tag": tag,
        "no_success_for_seconds": None if window is None else window.total_seconds(),
        "notify": targets}, overwrite, dt.datetime.now(UTC))
    return store.get_alert(database, name)


def list_alerts(database: Database | None = None) -> list[Alert]:
    return store.list_alerts(database or _database())


def recent_deliveries(name: str, limit: int = 20,
                      database: Database | None = None) -> list[DeliveryInfo]:
    database = database or _database()
    return store.list_deliveries(database, store.get_alert(database, name).id, limit=limit)


def delete_alert(name: str, database: Database | None = None) -> None:
    store.delete_alert(database or _database(), name)


def test_alert(name: str, database: Database | None = None) -> list[delivery.Outcome]:
    """Send a test message to each of the alert's blocks now (recorded like any delivery,
    not retried)."""
    database = database or _database()
    alert = store.get_alert(database, name)
    subject = f"[orchestrate-nb] Test of alert {alert.name}"
    body = (f"This is a test of the alert {alert.name!r} "
            f"(on: {', '.join(alert.events) or '—'}"
            f"{_scope_text(alert)}). If you read this, its notifications arrive.")
    key = f"test:{uuid.uuid4()}"
    outcomes = delivery.claim_and_send(database, [
        NewDelivery(alert.id, key, "test", target, None, subject, body)
        for target in alert.notify])
    return outcomes


test_alert.__test__ = False  # type: ignore[attr-defined]  # (pytest: not a test)


def _scope_text(alert: Alert) -> str:
    for label, value in (("deployment", alert.deployment), ("flow", alert.flow),
                         ("tag", alert.tag)):
        if value is not None:
            return f"; {label} {value}"
    return "; every run"


def _events(on: Iterable[str]) -> list[str]:
    if isinstance(on, str):
        on = on.split(",")
    events = []
    for event in on:
        event = str(event).strip().lower()
        if not event:
            continue
        if event not in EVENTS:
            raise AlertError(f"unknown alert event {event!r}: choose from {', '.join(EVENTS)}")
        if event not in events:
            events.append(event)
    return events


def _check_deployment(database: Database, name: str) -> None:
    from sqlalchemy import select

    from orchestrate_nb.store.orm import Deployment

    with database.read() as conn:
        found = conn.execute(select(Deployment.id).where(Deployment.name == name)).first()
    if found is None:
        raise AlertError(f"no deployment named {name!r} (orchestrate-nb deployment ls "
                         "lists them)")


def _targets(database: Database, notify: Iterable[str]) -> list[str]:
    """Each block named in ``notify`` as ``type/name``; it must exist and notify."""
    from orchestrate_nb.store.blocks import get_block

    if isinstance(notify, str):
        notify = [notify]
    targets: list[str] = []
    for name in notify:
        record = get_block(database, str(name).strip())
        if not _is_notification(record.class_path):
            raise AlertError(f"block {record.ref!r} cannot send notifications: name a "
                             "notification block (Slack, Teams, webhook, email, Apprise)")
        if record.ref not in targets:
            targets.append(record.ref)
    if not targets:
        raise AlertError("an alert needs at least one block to notify (--notify BLOCK)")
    return targets


def _is_notification(class_path: str) -> bool:
    from orchestrate_nb.blocks.core import _import_class
    from orchestrate_nb.blocks.notifications import NotificationBlock

    try:
        return issubclass(_import_class(class_path), NotificationBlock)
    except OrchestrateError:  # a user's class not importable here: trust its notify()
        return True


def _database() -> Database:
    from orchestrate_nb.store.handles import shared_database

    return shared_database()
