"""Values in and out of the API: ISO times, query parameters, body fields, page cursors,
and the run summary every list shows."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from orchestrate_nb.server import queries
from orchestrate_nb.server.errors import BadRequest

UTC = dt.timezone.utc
STATE_TYPES = ("SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING", "COMPLETED",
               "FAILED", "CANCELLED", "CRASHED")
FINAL_TYPES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "CRASHED"})
KINDS = ("runs", "sessions", "all")


def parse_body(raw: bytes) -> dict[str, Any]:
    """A request body: a JSON object (empty: ``{}``), else one 400 line."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object")
    return value


def iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str, name: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} must be an ISO time like 2026-12-04T07:00:00Z, "
                         f"got {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_int(text: str | None, name: str, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}, got {value}")
    return value


def encode_cursor(created: dt.datetime, run_id: str) -> str:
    raw = json.dumps([iso_exact(created), run_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def iso_exact(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def decode_cursor(text: str) -> tuple[dt.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        created, run_id = json.loads(raw)
        return dt.datetime.fromisoformat(created), str(run_id)
    except (ValueError, TypeError, binascii.Error):
        raise BadRequest("before is not a cursor this server gave (use the 'next' of the "
                         "previous page)") from None


def _split(values: Sequence[str] | None) -> list[str]:
    found: list[str] = []
    for value in values or ():
        found += [part.strip() for part in value.split(",") if part.strip()]
    return found


def duration_seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None:
        return None
    return round(((end or dt.datetime.now(UTC)) - start).total_seconds(), 3)


def run_kind(tags: Sequence[str] | None) -> str:
    return "session" if tags and queries.SESSION_TAG in tags else "run"


def run_summary(row: Any, task_counts: dict[str, int] | None = None) -> dict[str, Any]:
    tags = list(row.tags or ())
    kind = run_kind(tags)
    state_name = row.state_name
    if kind == "session" and row.state_type not in FINAL_TYPES:
        state_name = "Session"
    return {
        "id": row.id, "name": row.name, "flow_name": row.flow_name,
        "deployment_id": row.deployment_id, "deployment_name": row.deployment_name,
        "kind": kind, "state_type": row.state_type, "state_name": state_name,
        "state_message": row.state_message, "created": iso(row.created),
        "scheduled_time": iso(row.scheduled_time), "start_time": iso(row.start_time),
        "end_time": iso(row.end_time),
        "duration_seconds": duration_seconds(row.start_time, row.end_time),
        "tags": tags, "pool": row.pool, "parent_flow_run_id": row.parent_flow_run_id,
        "attempt": row.attempt, "task_runs": task_counts or {},
    }


def _state_filter(values: Sequence[str] | None) -> list[str]:
    states = [value.upper() for value in _split(values)]
    for state in states:
        if state not in STATE_TYPES:
            raise BadRequest(f"unknown state {state!r}; choose from {', '.join(STATE_TYPES)}")
    return states


def run_filter(query: Mapping[str, Sequence[str]]) -> queries.RunFilter:
    """The runs list's filters from the query string (one list of values per name)."""
    def first(name: str) -> str | None:
        values = query.get(name) or ()
        return values[-1] if values else None

    kind = first("kind") or "runs"
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    since, until = first("since"), first("until")
    text = (first("q") or "").strip() or None
    return queries.RunFilter(
        flows=_split(query.get("flow")), state_types=_state_filter(query.get("state")),
        deployments=_split(query.get("deployment")), tags=_split(query.get("tag")),
        text=text, since=parse_time(since, "since") if since else None,
        until=parse_time(until, "until") if until else None, kind=kind)


def last_value(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name) or ()
    return values[-1] if values else None


def body_field(body: Mapping[str, Any], name: str, kind: type, required: bool = False) -> Any:
    """``body[name]`` if it has the JSON type ``kind`` (None when absent), else one 400 line
    naming the field."""
    value = body.get(name)
    if value is None:
        if required:
            raise BadRequest(f"{name} is required")
        return None
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        ok = True
    if not ok:
        names = {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
                 dict: "an object", list: "a list"}
        raise BadRequest(f"{name} must be {names[kind]}, got {json.dumps(value)[:60]}")
    if isinstance(value, str) and required and not value.strip():
        raise BadRequest(f"{name} must not be empty")
    return value


def jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value

