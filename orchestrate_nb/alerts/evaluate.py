"""Which alerts a finished run (or a quiet deployment) sets off, and their deliveries.

The alerts are read once and kept per process (``AlertIndex``), re-read only when a cheap
version query (count and latest change) says they changed, and indexed by event: matching
one finished run against a thousand alerts is a dict lookup and a short loop.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select

from orchestrate_nb.alerts import facts as run_facts
from orchestrate_nb.store import alerts as store
from orchestrate_nb.store.alerts import AlertInfo, NewDelivery
from orchestrate_nb.store.orm import Deployment, FlowRun


class AlertIndex:
    """The store's alerts, by event, refreshed when they change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: object = None
        self.alerts: list[AlertInfo] = []
        self.by_event: dict[str, list[AlertInfo]] = {}
        self.freshness: list[AlertInfo] = []

    def refresh(self, conn: Connection) -> AlertIndex:
        version = store.alerts_version(conn)
        with self._lock:
            if version != self._version:
                self.alerts = store.load_alerts(conn)
                self.by_event = {}
                for alert in self.alerts:
                    for event in alert.events:
                        self.by_event.setdefault(event, []).append(alert)
                self.freshness = [a for a in self.alerts if a.no_success_for_seconds]
                self._version = version
        return self

    @property
    def events(self) -> set[str]:
        return set(self.by_event)


def matches(alert: AlertInfo, run: run_facts.RunFacts) -> bool:
    if alert.deployment is not None and alert.deployment != run.deployment_name:
        return False
    if alert.flow is not None and alert.flow != run.flow_name:
        return False
    if alert.tag is not None and alert.tag not in run.tags:
        return False
    # An alert for everything is about top-level runs: a failing subflow fails its parent.
    return not (run.is_subflow and alert.deployment is None and alert.flow is None
                and alert.tag is None)


def matching_alerts(index: AlertIndex, run: run_facts.RunFacts) -> list[AlertInfo]:
    event = run.event
    if event is None:
        return []
    return [alert for alert in index.by_event.get(event, ()) if matches(alert, run)]


def run_deliveries(conn: Connection, index: AlertIndex,
                   runs: Iterable[run_facts.RunFacts]) -> list[NewDelivery]:
    """The deliveries the runs' states call for (one per alert and notification block)."""
    found: list[NewDelivery] = []
    for run in runs:
        alerts = matching_alerts(index, run)
        if not alerts:
            continue
        subject, body = run_facts.run_message(run, run_facts.failing_task(conn, run.id))
        for alert in alerts:
            found += [NewDelivery(alert.id, run.id, run.event or "", target, run.id, subject,
                                  body) for target in alert.notify]
    return found


def freshness_deliveries(conn: Connection, index: AlertIndex,
                         now: dt.datetime) -> list[NewDelivery]:
    """Deployments in an alert's scope with no Completed run for its window: one delivery
    per quiet spell (its subject is the deployment and the start of the spell)."""
    if not index.freshness:
        return []
    last_success = dict(conn.execute(
        select(FlowRun.deployment_id, func.max(FlowRun.end_time))
        .where(FlowRun.deployment_id.is_not(None), FlowRun.state_type == "COMPLETED")
        .group_by(FlowRun.deployment_id)).all())
    deployments = conn.execute(select(Deployment.id, Deployment.name, Deployment.created,
                                      Deployment.tags, Deployment.flow_name)).all()
    found: list[NewDelivery] = []
    for alert in index.freshness:
        window = dt.timedelta(seconds=alert.no_success_for_seconds or 0)
        for deployment in deployments:
            if not _in_scope(alert, deployment):
                continue
            success = last_success.get(deployment.id)
            quiet_since = success or deployment.created
            if now - quiet_since < window:
                continue
            subject, body = run_facts.freshness_message(deployment.name, window, success)
            spell = f"{deployment.id}@{quiet_since.isoformat()}"
            found += [NewDelivery(alert.id, spell, run_facts.FRESHNESS_EVENT, target, None,
                                  subject, body) for target in alert.notify]
    return found


def _in_scope(alert: AlertInfo, deployment: Any) -> bool:
    if alert.deployment is not None and alert.deployment != deployment.name:
        return False
    if alert.flow is not None and alert.flow != deployment.flow_name:
        return False
    return alert.tag is None or alert.tag in (deployment.tags or ())
