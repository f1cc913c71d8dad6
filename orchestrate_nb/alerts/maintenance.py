"""Where alerts are evaluated and sent.

- **Workers** (``AlertMaintenance.run``, from the worker's maintenance pass, about once a
  second): runs of any kind that finished since the last pass (a deployment run that
  failed in a cell, one the reaper found Crashed, one cancelled or timed out), runs the
  scheduler marked Late, deployments quiet for a freshness window, and deliveries due for
  a retry. Several workers may do this at once: each delivery's unique row lets one send.
- **The process that ran a flow** (``local.py``), for runs outside deployments.

A pass costs one cheap query when no alert is defined.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from orchestrate_nb.alerts import delivery
from orchestrate_nb.alerts.evaluate import AlertIndex, freshness_deliveries, run_deliveries
from orchestrate_nb.alerts.facts import read_runs
from orchestrate_nb.store.database import Database
from orchestrate_nb.store.orm import FlowRun

logger = logging.getLogger("orchestrate_nb.alerts")
LOOKBACK = dt.timedelta(minutes=10)  # a worker starting up looks this far back
MARGIN = dt.timedelta(seconds=30)  # a run's end time is written a little after it ends
FINAL_TYPES = ("FAILED", "CRASHED", "CANCELLED", "COMPLETED")
_STATE_TYPE_OF = {"failed": "FAILED", "crashed": "CRASHED", "cancelled": "CANCELLED",
                  "completed": "COMPLETED"}


@dataclass
class AlertMaintenance:
    """One worker's alert duties, with what it has already looked at."""

    database: Database
    index: AlertIndex = field(default_factory=AlertIndex)
    since: dt.datetime | None = None
    seen: dict[str, dt.datetime] = field(default_factory=dict)  # run:state → when seen

    def run(self, now: dt.datetime) -> list[delivery.Outcome]:
        with self.database.read() as conn:
            index = self.index.refresh(conn)
            if not index.alerts:
                self.since = now - MARGIN
                return []  # (removing an alert removes its deliveries: none to retry)
            runs = read_runs(conn, self._new_run_ids(conn, index, now))
            wanted = run_deliveries(conn, index, runs) + freshness_deliveries(conn, index, now)
        outcomes = delivery.claim_and_send(self.database, wanted)
        return outcomes + delivery.send_due(self.database)

    def _new_run_ids(self, conn: Connection, index: AlertIndex, now: dt.datetime) -> list[str]:
        """Runs that entered an alerted state since the last pass (each state once)."""
        since = self.since or now - LOOKBACK
        self.since = now - MARGIN
        events = index.events
        types = [_STATE_TYPE_OF[e] for e in events if e in _STATE_TYPE_OF]
        columns = (FlowRun.id, FlowRun.state_type, FlowRun.state_name)
        rows: list[Any] = []
        if types:
            rows += conn.execute(select(*columns).where(
                FlowRun.end_time >= since, FlowRun.state_type.in_(types))).all()
        if "late" in events:
            rows += conn.execute(select(*columns).where(
                FlowRun.state_type == "SCHEDULED", FlowRun.state_name == "Late")).all()
        fresh = []
        for row in rows:
            key = f"{row.id}:{row.state_type}:{row.state_name}"
            if key not in self.seen:
                self.seen[key] = now
                fresh.append(row.id)
        self._forget_old(now)
        return fresh

    def _forget_old(self, now: dt.datetime) -> None:
        if len(self.seen) > 10_000:
            cutoff = now - LOOKBACK - MARGIN
            self.seen = {k: v for k, v in self.seen.items() if v >= cutoff}
