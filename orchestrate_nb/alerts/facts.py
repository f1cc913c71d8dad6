"""What an alert says about a run: the facts read from the store, and the message.

A message names the flow (and deployment), the run, its state, the failing task or cell
with the first line of its exception, the parameters (secret-looking names masked), the
duration, and where to look: the executed notebook, ``runs logs``, and the run's page in
JupyterLab when ``ORCHESTRATE_NB_BASE_URL`` is set. Secret values loaded in the sending
process are masked too.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from orchestrate_nb.blocks.masking import mask_secrets
from orchestrate_nb.settings import base_url
from orchestrate_nb.store.masking import mask_parameters
from orchestrate_nb.store.orm import Deployment, Flow, FlowRun, TaskRun

EVENTS = ("failed", "crashed", "cancelled", "late", "completed")
FRESHNESS_EVENT = "no-success"
_BY_STATE_TYPE = {"FAILED": "failed", "CRASHED": "crashed", "CANCELLED": "cancelled",
                  "COMPLETED": "completed"}


def event_of(state_type: str, state_name: str) -> str | None:
    """The alert event a run's state is (None: no event)."""
    if state_type == "SCHEDULED":
        return "late" if state_name == "Late" else None
    return _BY_STATE_TYPE.get(state_type)


@dataclass(frozen=True)
class RunFacts:
    id: str
    name: str
    flow_name: str
    deployment_name: str | None
    deployment_id: str | None
    state_type: str
    state_name: str
    state_message: str | None
    parameters: dict[str, Any]
    tags: tuple[str, ...]
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    scheduled_time: dt.datetime | None
    executed_notebook: str | None
    is_subflow: bool

    @property
    def event(self) -> str | None:
        return event_of(self.state_type, self.state_name)


_COLUMNS = (FlowRun.id, FlowRun.name, Flow.name.label("flow_name"),
            Deployment.name.label("deployment_name"), FlowRun.deployment_id,
            FlowRun.state_type, FlowRun.state_name, FlowRun.state_message, FlowRun.parameters,
            FlowRun.tags, FlowRun.start_time, FlowRun.end_time, FlowRun.scheduled_time,
            FlowRun.executed_notebook, FlowRun.parent_flow_run_id)


def read_runs(conn: Connection, run_ids: list[str]) -> list[RunFacts]:
    if not run_ids:
        return []
    query = (select(*_COLUMNS).join(Flow, Flow.id == FlowRun.flow_id)
             .outerjoin(Deployment, Deployment.id == FlowRun.deployment_id)
             .where(FlowRun.id.in_(run_ids)))
    return [_facts(row) for row in conn.execute(query)]


def _facts(row: Any) -> RunFacts:
    return RunFacts(row.id, row.name, row.flow_name, row.deployment_name, row.deployment_id,
                    row.state_type, row.state_name, row.state_message,
                    mask_parameters(row.parameters) or {}, tuple(row.tags or ()),
                    row.start_time, row.end_time, row.scheduled_time, row.executed_notebook,
                    row.parent_flow_run_id is not None)


def failing_task(conn: Connection, run_id: str) -> tuple[str, str | None] | None:
    """The first task run (or ``%%task`` cell) that failed or crashed: name, message."""
    row = conn.execute(select(TaskRun.name, TaskRun.state_message)
                       .where(TaskRun.flow_run_id == run_id,
                              TaskRun.state_type.in_(("FAILED", "CRASHED")))
                       .order_by(TaskRun.end_time, TaskRun.created).limit(1)).first()
    return None if row is None else (row.name, row.state_message)


def first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def run_page(run_id: str) -> str | None:
    base = base_url()
    return None if base is None else f"{base}?orchestrate-run={run_id}"


def run_message(facts: RunFacts, failing: tuple[str, str | None] | None) -> tuple[str, str]:
    """(subject, body) of an alert about ``facts``."""
    what = facts.deployment_name or facts.flow_name
    subject = f"[orchestrate-nb] {facts.state_name}: {what} / {facts.name}"
    lines = [f"Flow: {facts.flow_name}" + (f" (deployment {facts.deployment_name})"
                                           if facts.deployment_name else ""),
             f"Run: {facts.name} ({facts.id})",
             f"State: {facts.state_name}" + (f" — {first_line(facts.state_message)}"
                                             if first_line(facts.state_message) else "")]
    if failing is not None:
        lines.append(f"Failing task: {failing[0]}" + (f" — {first_line(failing[1])}"
                                                      if first_line(failing[1]) else ""))
    if facts.parameters:
        lines.append(f"Parameters: {json.dumps(facts.parameters, default=str)[:1000]}")
    if facts.start_time is not None and facts.end_time is not None:
        lines.append(f"Duration: {(facts.end_time - facts.start_time).total_seconds():.1f} s")
    if facts.event == "late" and facts.scheduled_time is not None:
        lines.append(f"Scheduled for: {facts.scheduled_time.isoformat(timespec='seconds')}")
    if facts.executed_notebook:
        lines.append(f"Executed notebook: {facts.executed_notebook}")
    lines.append(f"Logs: orchestrate-nb runs logs {facts.id}")
    page = run_page(facts.id)
    if page:
        lines.append(f"Open: {page}")
    return mask_secrets(subject), mask_secrets("\n".join(lines))


def freshness_message(deployment: str, window: dt.timedelta,
                      last_success: dt.datetime | None) -> tuple[str, str]:
    hours = window.total_seconds() / 3600
    span = f"{hours:g} h" if hours >= 1 else f"{window.total_seconds() / 60:g} min"
    subject = f"[orchestrate-nb] No successful run of {deployment} for {span}"
    since = ("it has never completed" if last_success is None else
             f"its last Completed run ended {last_success.isoformat(timespec='seconds')}")
    body = (f"Deployment {deployment} has had no Completed run for {span}: {since}.\n"
            "Look: orchestrate-nb deployment ls; orchestrate-nb runs ls --since 2d")
    return subject, body
