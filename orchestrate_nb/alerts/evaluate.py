"""Which alerts a finished run (or a quiet deployment) sets off, and their deliveries.

The alerts are read once and kept per process (``AlertIndex``), re-read only when a cheap
version query (count and latest change) says they changed, and indexed by event: matching
one finished run against a thousand alerts is a dict lookup and a short loop.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select

from orchestrate_nb.alerts import facts as run_facts
from orchestrate_nb.store import alerts as store
from orchestrate_nb.store.alerts import AlertInfo, NewDelivery
from orchestrate_nb.store.orm import Deployment, FlowRun


class AlertIndex:
    """The store's alerts, indexed by event and scope, refreshed when they change (checked
    at most every ``check_seconds``: a new alert applies within a second)."""

    def __init__(self, check_seconds: float = 1.0) -> None:
        self._lock = threading.Lock()
        self._version: object = None
        self._checked = -math.inf
        self.check_seconds = check_seconds
        self.alerts: list[AlertInfo] = []
        self.by_scope: dict[tuple[str, str | None, str | None], list[AlertInfo]] = {}
        self.events: set[str] = set()
        self.freshness: list[AlertInfo] = []

    def refresh(self, conn: Connection) -> AlertIndex:
        if time.monotonic() - self._checked < self.check_seconds:
            return self
        version = store.alerts_version(conn)
        with self._lock:
            self._checked = time.monotonic()
            if version != self._version:
                self._index(store.load_alerts(conn))
                self._version = version
        return self

    def _index(self, alerts: list[AlertInfo]) -> None:
        self.alerts = alerts
        self.by_scope = {}
        for alert in alerts:
            for event in alert.events:
                self.by_scope.setdefault((event, *_scope(alert)), []).append(alert)
        self.events = {event for event, _, _ in self.by_scope}
        self.freshness = [a for a in alerts if a.no_success_for_seconds]


def _scope(alert: AlertInfo) -> tuple[str | None, str | None]:
    for kind, value in (("deployment", alert.deployment), ("flow", alert.flow),
                        ("tag", alert.tag)):
        if value is not None:
            return kind, value
    return None, None


def matches(alert: AlertInfo, run: run_facts.RunFacts) -> bool:
    kind, value = _scope(alert)
    if kind is None:  # an alert for everything is about top-level runs: a failing subflow
        return not run.is_subflow  # fails its parent
    if kind == "deployment":
        return value == run.deployment_name
    if kind == "flow":
        return value == run.flow_name
    return value in run.tags


def matching_alerts(index: AlertIndex, run: run_facts.RunFacts) -> list[AlertInfo]:
    """The alerts ``run``'s state sets off: dictionary lookups by event and scope."""
    event = run.event
    if event is None:
        return []
    scopes: list[tuple[str | None, str | None]] = [("flow", run.flow_name)]
    if run.deployment_name is not None:
        scopes.append(("deployment", run.deployment_name))
    scopes += [("tag", tag) for tag in run.tags]
    if not run.is_subflow:
        scopes.append((None, None))
    found: list[AlertInfo] = []
    for kind, value in scopes:
        for alert in index.by_scope.get((event, kind, value), ()):
            if alert not in found:
                found.append(alert)
    return found


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
                                      Deployment.tags, Deployment.flow_name)
                               .where(Deployment.paused.is_(False))).all()  # paused: quiet
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
