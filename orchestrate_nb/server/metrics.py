"""``/metrics``: the run store in Prometheus' text format, read afresh on every scrape.

A custom collector (prometheus_client's ``Collector``) runs a handful of aggregate queries per
scrape (grouped counts over indexed columns; one pass over finished runs for the durations),
so several servers over one PostgreSQL store report the same numbers and nothing is kept in
memory between scrapes. Names and labels (documented in docs/server-api.md):

- ``orchestrate_nb_flow_runs{deployment,state}`` gauge: flow runs by deployment name (""
  for runs of no deployment) and state type.
- ``orchestrate_nb_flow_run_duration_seconds{deployment}`` histogram: start to end of the
  finished flow runs (the one query that reads every finished run: recomputed at most every
  ``HISTOGRAM_MAX_AGE`` seconds, so frequent or several scrapers cost one pass).
- ``orchestrate_nb_late_runs{deployment}`` gauge: runs the scheduler marked Late.
- ``orchestrate_nb_runs_waiting{pool}`` gauge: scheduled runs due now that no worker took yet.
- ``orchestrate_nb_worker_heartbeat_age_seconds{worker,pool,host}`` gauge: seconds since each
  running worker's last heartbeat (workers that stopped cleanly are left out).
- ``orchestrate_nb_workers{pool,alive}`` gauge.
- ``orchestrate_nb_alert_deliveries{status}`` gauge: alert notifications by status (sent,
  failed, retrying, sending).
- ``orchestrate_nb_store_up`` gauge: 1 when the store answered this scrape, else 0 (and
  nothing else is reported).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import (
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Connection, and_, case, func, select

from orchestrate_nb.server.services import OrchestrateService, ServiceError

UTC = dt.timezone.utc
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HISTOGRAM_MAX_AGE = 30.0
_histograms: dict[int, tuple[float, list[Any]]] = {}  # id(service) -> (when, rows)
_histograms_lock = threading.Lock()


def _seconds(conn: Connection, start: Any, end: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


class StoreCollector(Collector):
    def __init__(self, service: OrchestrateService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("orchestrate_nb_store_up",
                               "1 if the run store answered this scrape")
        try:
            families = self._read()
        except ServiceError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[Metric]:
        from orchestrate_nb.store.orm import AlertDelivery, Deployment, FlowRun
        from orchestrate_nb.store.workers import list_workers

        now = dt.datetime.now(UTC)
        with self.service.read() as conn:
            names = dict(conn.execute(select(Deployment.id, Deployment.name)).all())

            def label(deployment_id: str | None) -> str:
                if deployment_id is None:
                    return ""
                return str(names.get(deployment_id, f"(removed {deployment_id[:8]})"))

            by_state = conn.execute(select(FlowRun.deployment_id, FlowRun.state_type,
                                           func.count()).group_by(FlowRun.deployment_id,
                                                                  FlowRun.state_type)).all()
            late = conn.execute(select(FlowRun.deployment_id, func.count()).where(
                FlowRun.state_type == "SCHEDULED", FlowRun.state_name == "Late")
                .group_by(FlowRun.deployment_id)).all()
            waiting = conn.execute(select(FlowRun.pool, func.count()).where(
                FlowRun.state_type == "SCHEDULED", FlowRun.scheduled_time <= now)
                .group_by(FlowRun.pool)).all()
            durations = self._durations(conn)
            workers = list_workers(conn, now)
            heartbeats = {w.id: w.heartbeat for w in workers}
            deliveries = conn.execute(select(AlertDelivery.status, func.count())
                                      .group_by(AlertDelivery.status)).all()

        runs = GaugeMetricFamily("orchestrate_nb_flow_runs",
                                 "Flow runs by deployment and state type",
                                 labels=["deployment", "state"])
        counted: dict[tuple[str, str], int] = defaultdict(int)
        for deployment_id, state, count in by_state:
            counted[(label(deployment_id), str(state))] += int(count)
        for (deployment, state), count in sorted(counted.items()):
            runs.add_metric([deployment, state], count)

        histogram = HistogramMetricFamily(
            "orchestrate_nb_flow_run_duration_seconds",
            "Duration of finished flow runs (start to end)", labels=["deployment"])
        for deployment_id, count, total, *in_buckets in durations:
            buckets = [(_bound(bound), int(n or 0)) for bound, n in zip(DURATION_BUCKETS,
                                                                          in_buckets)]
            buckets.append(("+Inf", int(count)))
            histogram.add_metric([label(deployment_id)], buckets, float(total or 0.0))

        late_runs = GaugeMetricFamily("orchestrate_nb_late_runs",
                                      "Runs still waiting past their time (state Late)",
                                      labels=["deployment"])
        for deployment_id, count in late:
            late_runs.add_metric([label(deployment_id)], int(count))

        waiting_runs = GaugeMetricFamily("orchestrate_nb_runs_waiting",
                                         "Scheduled runs due now, not yet taken by a worker",
                                         labels=["pool"])
        for pool, count in waiting:
            waiting_runs.add_metric([pool or ""], int(count))

        ages = GaugeMetricFamily("orchestrate_nb_worker_heartbeat_age_seconds",
                                 "Seconds since a running worker's last heartbeat",
                                 labels=["worker", "pool", "host"])
        alive_counts: dict[tuple[str, str], int] = defaultdict(int)
        for worker in workers:
            alive_counts[(worker.pool, "true" if worker.alive else "false")] += 1
            if worker.stopped is None:
                age = (now - _aware(heartbeats[worker.id])).total_seconds()
                ages.add_metric([worker.id, worker.pool, worker.host], max(0.0, age))
        worker_counts = GaugeMetricFamily("orchestrate_nb_workers", "Workers by pool and "
                                          "whether they are alive", labels=["pool", "alive"])
        for (pool, alive), count in sorted(alive_counts.items()):
            worker_counts.add_metric([pool, alive], count)

        alert_deliveries = GaugeMetricFamily("orchestrate_nb_alert_deliveries",
                                             "Alert notifications by delivery status",
                                             labels=["status"])
        for status, count in deliveries:
            alert_deliveries.add_metric([str(status)], int(count))
        return [runs, histogram, late_runs, waiting_runs, ages, worker_counts,
                alert_deliveries]


    def _durations(self, conn: Connection) -> list[Any]:
        from orchestrate_nb.store.orm import FlowRun

        key = id(self.service)
        with _histograms_lock:
            cached = _histograms.get(key)
        if cached is not None and time.monotonic() - cached[0] < HISTOGRAM_MAX_AGE:
            return cached[1]
        seconds = _seconds(conn, FlowRun.start_time, FlowRun.end_time)
        finished = and_(FlowRun.end_time.is_not(None), FlowRun.start_time.is_not(None))
        bucket_columns = [func.sum(case((seconds <= bound, 1), else_=0))
                          for bound in DURATION_BUCKETS]
        rows = list(conn.execute(select(FlowRun.deployment_id, func.count(), func.sum(seconds),
                                        *bucket_columns)
                                 .where(finished).group_by(FlowRun.deployment_id)).all())
        with _histograms_lock:
            _histograms[key] = (time.monotonic(), rows)
        return rows


def _bound(value: float) -> str:
    return str(int(value)) + ".0" if value == int(value) else str(value)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def render(service: OrchestrateService) -> bytes:
    """One scrape: the text exposition of a fresh registry holding the store collector."""
    from prometheus_client import generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(service))
    return generate_latest(registry)
