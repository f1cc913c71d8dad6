"""The REST API's service layer: plain functions from a query to a JSON-ready dict.

It knows nothing of HTTP servers: the Jupyter server extension's tornado handlers call it
(off the event loop), and any other web adapter can. Every method is synchronous and
thread-safe (one SQLAlchemy engine, a connection per call). What it raises is a
``ServiceError`` carrying the HTTP status and one line (``error_status`` maps the
package's own errors the same way), never a traceback.

The contract is ``docs/server-api.md``.
"""

from __future__ import annotations

import ast
import base64
import binascii
import datetime as dt
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from orchestrate_nb.errors import (
    DeploymentError,
    NotebookUsageError,
    NotFound,
    OrchestrateError,
    ParameterTypeError,
    ResumeError,
    StoreError,
)
from orchestrate_nb.server import queries
from orchestrate_nb.settings import Settings, load_settings, mask_url
from orchestrate_nb.store.masking import mask_parameters

if TYPE_CHECKING:
    from sqlalchemy import Connection

UTC = dt.timezone.utc
T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
DEFAULT_LOG_LIMIT = 500
MAX_LOG_LIMIT = 5000
TASK_RUN_LIMIT = 5000  # a run page lists at most this many task runs (and its graph folds them)
STATE_TYPES = ("SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING", "COMPLETED",
               "FAILED", "CANCELLED", "CRASHED")
FINAL_TYPES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "CRASHED"})
KINDS = ("runs", "sessions", "all")
DOWN_SECONDS = 2.0  # after the store failed, answer 503 at once for this long
COPIES_FOLDER = "orchestrate-runs"  # read-only copies of executed notebooks, in the root


# -- errors ----------------------------------------------------------------------------
class ServiceError(Exception):
    """An HTTP status and one line for the user."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))

    @property
    def message(self) -> str:
        return str(self)


class BadRequest(ServiceError):
    status = 400


class Forbidden(ServiceError):
    status = 403


class NotFoundError(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class Unavailable(ServiceError):
    status = 503


def one_line(text: str) -> str:
    return " ".join(str(text).split()) or "error"


def error_status(exc: BaseException) -> tuple[int, str] | None:
    """(HTTP status, one line) for an error the user can act on; None for a bug."""
    if isinstance(exc, ServiceError):
        return exc.status, exc.message
    if isinstance(exc, NotFound):
        return 404, one_line(str(exc))
    if isinstance(exc, StoreError):
        return 503, one_line(mask_url(str(exc)))
    if isinstance(exc, (DeploymentError, ParameterTypeError, ResumeError, NotebookUsageError)):
        return 400, one_line(str(exc))
    if isinstance(exc, OrchestrateError):
        return 400, one_line(str(exc))
    return None


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


# -- values ----------------------------------------------------------------------------
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


def _duration(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
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
        "end_time": iso(row.end_time), "duration_seconds": _duration(row.start_time, row.end_time),
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


# -- the service -------------------------------------------------------------------------
class OrchestrateService:
    """The API over one run store. ``root_dir`` is the Jupyter root (for notebook paths)."""

    def __init__(self, settings: Settings | None = None, database_url: str | None = None,
                 root_dir: str | Path | None = None, database: Any = None) -> None:
        self.settings = settings or load_settings()
        if database_url:
            self.settings = Settings(**{**self.settings.__dict__, "database_url": database_url})
        self.root_dir = Path(root_dir or os.getcwd()).resolve()
        self._database = database
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._down_message = ""
        self.changes = ChangeTracker(self)

    # -- the store ---------------------------------------------------------------------
    @property
    def display_url(self) -> str:
        return self.settings.masked_database_url

    def database(self) -> Any:
        """The store's database, opened (and migrated) on first use; 503 while it fails."""
        if self._database is not None:
            return self._database
        with self._lock:
            if self._database is None:
                self._fail_fast()
                from sqlalchemy.exc import SQLAlchemyError

                from orchestrate_nb.store.database import open_database

                try:
                    self._database = open_database(_server_settings(self.settings))
                except (StoreError, SQLAlchemyError) as exc:
                    raise self._down(exc) from None
            return self._database

    def _fail_fast(self) -> None:
        if time.monotonic() < self._down_until:
            raise Unavailable(self._down_message)

    def _down(self, exc: BaseException) -> Unavailable:
        """A 503 for a store error; one that says the store cannot be reached (a refused or
        lost connection) is repeated at once for ``DOWN_SECONDS``, so requests do not pile
        up on connection timeouts."""
        from sqlalchemy.exc import InterfaceError, OperationalError

        detail = one_line(mask_url(str(exc)))
        for noise in ("[SQL:", "(Background on this error"):  # SQLAlchemy's extra lines
            detail = detail.split(noise)[0].strip()
        unreachable = isinstance(exc, (OperationalError, InterfaceError)) or (
            isinstance(exc, StoreError) and isinstance(exc.__cause__,
                                                       (OperationalError, InterfaceError)))
        if not unreachable:
            return Unavailable(f"run store query failed ({self.display_url}): {detail}"[:500])
        message = f"run store unreachable at {self.display_url}: {detail}"[:500]
        self._down_message = message
        self._down_until = time.monotonic() + DOWN_SECONDS
        return Unavailable(message)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        self._fail_fast()
        database = self.database()
        from sqlalchemy.exc import SQLAlchemyError

        try:
            if database.dialect == "postgresql":
                # one statement at a time, no BEGIN/COMMIT round trips: the API's reads need
                # no snapshot across statements, and each round trip costs on a busy host
                with database.engine.connect() as conn:
                    yield conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                with database.read() as conn:
                    yield conn
        except SQLAlchemyError as exc:
            raise self._down(exc) from None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        self._fail_fast()
        database = self.database()
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with database.write() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise self._down(exc) from None

    def guarded(self, call: Callable[[], T]) -> T:
        """``call()`` with the store's errors turned into a 503 that later calls repeat fast."""
        self._fail_fast()
        try:
            return call()
        except StoreError as exc:
            raise self._down(exc) from None

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()

    # -- runs --------------------------------------------------------------------------
    def list_runs(self, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        where = run_filter(query)
        limit = parse_int(_last(query, "limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        before_text = _last(query, "before")
        before = decode_cursor(before_text) if before_text else None
        with self.read() as conn:
            rows = queries.list_runs(conn, where, limit + 1, before)
            page = rows[:limit]
            counts = queries.task_run_counts(conn, [row.id for row in page])
        more = len(rows) > limit
        return {"runs": [run_summary(row, counts[row.id]) for row in page],
                "next": encode_cursor(page[-1].created, page[-1].id) if more else None,
                "cursor": self.changes.current()}

    def resolve_run(self, conn: Connection, id_or_prefix: str) -> Any:
        run_id = (id_or_prefix or "").strip()
        if not run_id:
            raise NotFoundError("no flow run id given")
        ids = queries.find_run_ids(conn, run_id)
        if not ids:
            raise NotFoundError(f"no flow run matches {run_id!r}")
        if len(ids) > 1:
            raise NotFoundError(f"{run_id!r} matches several flow runs; give more of the id")
        row = queries.get_run(conn, ids[0])
        if row is None:
            raise NotFoundError(f"no flow run matches {run_id!r}")
        return row

    def get_run(self, id_or_prefix: str) -> dict[str, Any]:
        from orchestrate_nb.store.repository import RunRepository

        with self.read() as conn:
            row = self.resolve_run(conn, id_or_prefix)
            details = queries.run_details(conn, row.id)
            counts = queries.task_run_counts(conn, [row.id])[row.id]
            tasks = queries.task_runs(conn, row.id, TASK_RUN_LIMIT)
            subflows = queries.subflow_runs(conn, row.id)
        repository = RunRepository(self.database())
        states = self.guarded(lambda: repository.state_history(row.id))
        edges = self.guarded(lambda: repository.list_edges(row.id, TASK_RUN_LIMIT))
        run = run_summary(row, counts)
        notebook = details.executed_notebook
        run.update(parameters=mask_parameters(details.parameters) or {},
                   executed_notebook=notebook,
                   notebook_lab_path=self._lab_path(notebook) if notebook else None,
                   pause=None)
        if row.state_type == "PAUSED":
            run["pause"] = {"message": row.state_message, "input_schema":
                            details.pause_input_schema, "expires": iso(details.pause_expires)}
        return {
            "run": run,
            "states": [{"type": s.type, "name": s.name, "message": s.message,
                        "timestamp": iso(s.timestamp), "task_run_id": s.task_run_id}
                       for s in states],
            "task_runs": [{
                "id": t.id, "name": t.name, "task_name": t.task_name, "task_key": t.task_key,
                "map_index": t.map_index, "state_type": t.state_type,
                "state_name": t.state_name, "state_message": t.state_message,
                "created": iso(t.created), "start_time": iso(t.start_time),
                "end_time": iso(t.end_time), "duration_seconds": _duration(t.start_time,
                                                                           t.end_time),
                "run_count": t.run_count} for t in tasks],
            "task_runs_total": sum(counts.values()),
            "edges": [{"upstream": e.upstream_task_run_id, "downstream":
                       e.downstream_task_run_id, "input_name": e.input_name} for e in edges],
            "graph": run_graph(row, states, tasks, edges, subflows),
        }

    def run_logs(self, id_or_prefix: str, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        after = parse_int(_last(query, "after"), "after", 0, 0, 2**62)
        limit = parse_int(_last(query, "limit"), "limit", DEFAULT_LOG_LIMIT, 1, MAX_LOG_LIMIT)
        level_text = _last(query, "level")
        level = parse_int(level_text, "level", 0, 0, 100) if level_text else None
        text = (_last(query, "q") or "").strip() or None
        with self.read() as conn:
            row = self.resolve_run(conn, id_or_prefix)
            final_before = row.state_type in FINAL_TYPES  # read before the lines: none missed
            lines = queries.logs(conn, row.id, after, limit, text, level)
            last = queries.last_log_id(conn, row.id)
        import logging

        cursor = lines[-1].id if lines else after
        return {
            "logs": [{"id": line.id, "timestamp": iso(line.timestamp), "level": line.level,
                      "level_name": logging.getLevelName(line.level), "logger": line.logger,
                      "message": line.message, "task_run_id": line.task_run_id,
                      "task_name": line.task_name} for line in lines],
            "cursor": cursor,
            "final": final_before and (len(lines) < limit or cursor >= last),
        }

    def cancel_run(self, id_or_prefix: str) -> dict[str, Any]:
        from orchestrate_nb.store.claims import request_cancel

        with self.write() as conn:
            row = self.resolve_run(conn, id_or_prefix)
            if row.deployment_id is None and row.state_type in ("PENDING", "RUNNING"):
                raise Conflict(f"flow run {row.id} was not started by a worker, so nothing "
                               "here can stop it: interrupt it where it runs (Ctrl-C, or "
                               "interrupt the kernel)")
            state = request_cancel(conn, row.id, dt.datetime.now(UTC))
            if state is None:
                raise Conflict(f"flow run {row.id} already finished ({row.state_name})")
        return {"run": self._summary(row.id)}

    def resume_run(self, id_or_prefix: str, body: Mapping[str, Any]) -> dict[str, Any]:
        from orchestrate_nb.store.pauses import _checked_input, pause_info, resume

        if "input" in body and body["input"] is not None and not isinstance(body["input"], dict):
            raise BadRequest('input must be a JSON object, like {"approved": true}')
        given = body.get("input")
        with self.write() as conn:
            row = self.resolve_run(conn, id_or_prefix)
            info = pause_info(conn, row.id)
            if info is None or info.state_type != "PAUSED":
                raise Conflict(f"flow run {row.id} is not paused (it is {row.state_name})")
            try:
                checked = _checked_input(info, given, row.id)
            except ResumeError as exc:
                raise BadRequest(str(exc)) from None
            if not resume(conn, row.id, checked, dt.datetime.now(UTC)):
                raise Conflict(f"flow run {row.id} is no longer paused")
        return {"run": self._summary(row.id)}

    def rerun(self, id_or_prefix: str) -> dict[str, Any]:
        from orchestrate_nb.deploy.deployments import trigger_deployment
        from orchestrate_nb.store.orm import FlowRun

        with self.read() as conn:
            row = self.resolve_run(conn, id_or_prefix)
            parameters = conn.execute(FlowRun.__table__.select()
                                      .with_only_columns(FlowRun.parameters)
                                      .where(FlowRun.id == row.id)).scalar()
        if row.deployment_id is None or row.deployment_name is None:
            raise Conflict(f"flow run {row.name} is not a run of a deployment, so it cannot "
                           "be run again from here")
        run_id = self.guarded(lambda: trigger_deployment(
            row.deployment_name, parameters or {}, database=self.database()))
        return {"run": self._summary(run_id)}

    def _summary(self, run_id: str) -> dict[str, Any]:
        with self.read() as conn:
            row = queries.get_run(conn, run_id)
            if row is None:
                raise NotFoundError(f"no flow run matches {run_id!r}")
            counts = queries.task_run_counts(conn, [run_id])[run_id]
        return run_summary(row, counts)

    # -- executed notebooks ---------------------------------------------------------------
    def _lab_path(self, notebook: str) -> str | None:
        """The notebook's path relative to the root, when it is (really) inside it."""
        try:
            resolved = Path(notebook).resolve()
            relative = resolved.relative_to(self.root_dir)
        except (ValueError, OSError):
            return None
        if not resolved.is_file():
            return None
        return relative.as_posix()

    def open_notebook(self, id_or_prefix: str) -> dict[str, Any]:
        """The executed notebook reachable from the root: its own path when it is under the
        root, else a read-only copy in ``orchestrate-runs/`` (never anything outside it)."""
        with self.read() as conn:
            row = self.resolve_run(conn, id_or_prefix)
            details = queries.run_details(conn, row.id)
        source = details.executed_notebook
        if not source or not Path(source).is_file():
            raise NotFoundError(f"flow run {row.name} has no executed notebook"
                                + (" (its file is gone)" if source else ""))
        inside = self._lab_path(source)
        if inside is not None:
            return {"path": inside}
        return {"path": self._copy_into_root(Path(source), row)}

    def _copy_into_root(self, source: Path, row: Any) -> str:
        folder = self.root_dir / COPIES_FOLDER
        if folder.is_symlink():
            raise Forbidden(f"{COPIES_FOLDER} in the Jupyter root is a symlink; remove it")
        folder.mkdir(mode=0o700, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in row.name)[:80]
        target = folder / f"{safe}-{row.id[:8]}.ipynb"
        if target.is_symlink():
            target.unlink()
        if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
            temporary = folder / f".{target.name}.{os.getpid()}.tmp"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                                 0o600)
            with os.fdopen(descriptor, "wb") as out, open(source, "rb") as data:
                shutil.copyfileobj(data, out)
            os.chmod(temporary, 0o400)  # read-only: a copy, not the run's record
            os.replace(temporary, target)
        resolved = target.resolve()
        if not resolved.is_relative_to(self.root_dir):
            raise Forbidden("the copy would be outside the Jupyter root")
        return resolved.relative_to(self.root_dir).as_posix()

    # -- status, changes, meta ---------------------------------------------------------
    def status(self) -> dict[str, Any]:
        with self.read() as conn:
            counts = queries.status_counts(conn)
        return {"running": sum(counts.get(t, 0) for t in queries.ACTIVE_TYPES),
                "awaiting_approval": counts.get("PAUSED", 0),
                "scheduled": counts.get("SCHEDULED", 0),
                "cursor": self.changes.current()}

    def changed_since(self, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        given = parse_int(_last(query, "cursor"), "cursor", -1, -1, 2**62)
        cursor = self.changes.current()
        return {"cursor": cursor, "changed": cursor != given}

    def meta(self) -> dict[str, Any]:
        from orchestrate_nb import __version__
        from orchestrate_nb.notebook.graph.states import state_table
        from orchestrate_nb.notebook.graph.svg import BOX

        return {"version": __version__, "states": state_table(), "box": dict(BOX),
                "root_dir": str(self.root_dir), "database": self.display_url,
                "state_types": list(STATE_TYPES)}


    # -- deployments -------------------------------------------------------------------
    def list_deployments(self) -> dict[str, Any]:
        from orchestrate_nb.store import deployments as store

        with self.read() as conn:
            found = store.list_deployments(conn)
            last = queries.deployment_last_runs(conn, [info.id for info, _ in found])
            counts = queries.task_run_counts(conn, [r.id for rows in last.values() for r in rows])
        return {"deployments": [self._deployment(info, scheduled, last[info.id], counts)
                                for info, scheduled in found]}

    def get_deployment(self, name: str) -> dict[str, Any]:
        from orchestrate_nb.store import deployments as store

        with self.read() as conn:
            info = store.find_deployment(conn, name)
            if info is None:
                raise NotFoundError(f"no deployment named {name!r}")
            scheduled = next((when for found, when in store.list_deployments(conn)
                              if found.id == info.id), None)
            last = queries.deployment_last_runs(conn, [info.id])
            counts = queries.task_run_counts(conn, [r.id for r in last[info.id]])
        return {"deployment": self._deployment(info, scheduled, last[info.id], counts)}

    def _deployment(self, info: Any, scheduled: dt.datetime | None, last: Sequence[Any],
                    counts: Mapping[str, dict[str, int]]) -> dict[str, Any]:
        from orchestrate_nb.deploy.flow_pickles import PICKLED

        description, next_runs = deployment_schedule(info, scheduled)
        notebook = info.kind == "notebook"
        return {
            "id": info.id, "name": info.name, "kind": "notebook" if notebook else "python",
            "pickled": info.kind == PICKLED, "entrypoint": info.entrypoint,
            "lab_path": self._lab_path(info.entrypoint) if notebook else None,
            "flow_name": info.flow_name,
            "parameters": mask_parameters(info.parameters) or {}, "pool": info.pool,
            "paused": info.paused,
            "schedule": {"kind": info.schedule_kind, "cron": info.cron,
                         "interval_seconds": info.interval_seconds, "rrule": info.rrule,
                         "timezone": info.timezone, "description": description},
            "next_runs": next_runs, "retries": info.retries,
            "retry_delay_seconds": info.retry_delay_seconds,
            "timeout_seconds": info.timeout_seconds, "cache": info.cache,
            "tags": list(info.tags or ()), "created": iso(info.created),
            "updated": iso(info.updated),
            "last_runs": [run_summary(row, counts.get(row.id)) for row in last],
            "parameter_schema": deployment_parameter_schema(info),
        }

    def create_deployment(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Deploy a notebook of the Jupyter root (``deploy_notebook``: the CLI's checks and
        one-line errors; nothing is stored on bad input)."""
        from orchestrate_nb.deploy.deployments import deploy_notebook

        known = {"path", "name", "cron", "interval", "rrule", "timezone", "parameters", "pool",
                 "retries", "retry_delay_seconds", "timeout_seconds", "cache", "tags",
                 "kernel", "paused"}
        unknown = sorted(set(body) - known)
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r} (fields: {', '.join(sorted(known))})")
        notebook = self.root_path(_field(body, "path", str, required=True))
        if notebook.suffix != ".ipynb":
            raise BadRequest(f"path must name a notebook (.ipynb), got {body['path']!r}")
        options: dict[str, Any] = {
            "cron": _field(body, "cron", str), "interval": _field(body, "interval", float),
            "rrule": _field(body, "rrule", str),
            "timezone": _field(body, "timezone", str) or "UTC",
            "parameters": _field(body, "parameters", dict) or {},
            "pool": _field(body, "pool", str) or "default",
            "retries": _field(body, "retries", int) or 0,
            "retry_delay_seconds": _field(body, "retry_delay_seconds", float) or 0,
            "timeout_seconds": _field(body, "timeout_seconds", float),
            "cache": _field(body, "cache", str) or "refresh",
            "tags": _field(body, "tags", list), "kernel": _field(body, "kernel", str),
            "paused": bool(_field(body, "paused", bool)),
        }
        name = _field(body, "name", str, required=True)
        info = self.guarded(lambda: deploy_notebook(notebook, name, database=self.database(),
                                                    **options))
        return self.get_deployment(info.name)

    def trigger(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        from orchestrate_nb.deploy.deployments import trigger_deployment

        unknown = sorted(set(body) - {"parameters"})
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r} (a run takes: parameters)")
        parameters = _field(body, "parameters", dict) or {}
        run_id = self.guarded(lambda: trigger_deployment(name, parameters,
                                                         database=self.database()))
        return {"run": self._summary(run_id)}

    def set_paused(self, name: str, paused: bool) -> dict[str, Any]:
        from orchestrate_nb.store import deployments as store

        with self.write() as conn:
            store.set_paused(conn, name, paused, dt.datetime.now(UTC))
        return self.get_deployment(name)

    def delete_deployment(self, name: str) -> dict[str, Any]:
        from orchestrate_nb.deploy.deployments import remove_deployment

        dropped = self.guarded(lambda: remove_deployment(name, self.database()))
        return {"removed": 1, "runs_dropped": dropped}

    def schedule_preview(self, body: Mapping[str, Any]) -> dict[str, Any]:
        from orchestrate_nb.core.schedules import next_slots, require_next_slot
        from orchestrate_nb.deploy.deployments import build_schedule

        unknown = sorted(set(body) - {"cron", "interval", "rrule", "timezone"})
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r} (give cron, interval or rrule, "
                             "and timezone)")
        now = dt.datetime.now(UTC)
        kind, schedule = build_schedule(
            cron=_field(body, "cron", str), interval=_field(body, "interval", float),
            rrule=_field(body, "rrule", str),
            timezone=_field(body, "timezone", str) or "UTC", anchor=now)
        if schedule is None:
            raise BadRequest("give a schedule: cron, interval or rrule")
        first = require_next_slot(schedule, now)
        slots = [first, *next_slots(schedule, first, dt.datetime.max.replace(tzinfo=UTC), 4)]
        return {"kind": kind, "description": describe_schedule(kind, schedule),
                "next_runs": [iso(slot) for slot in slots]}

    def notebook_parameters(self, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        from orchestrate_nb.deploy.parameters import read_notebook_parameters

        path = _last(query, "path")
        if not path:
            raise BadRequest("give the notebook's path (relative to the Jupyter root): ?path=")
        notebook = self.root_path(path)
        declared = read_notebook_parameters(notebook)
        parameters = [{"name": p.name, "type": p.type.__name__ if p.type else None,
                       "default": _jsonable(p.default)} for p in declared.parameters.values()]
        return {"parameters": parameters, "has_parameters_cell": declared.has_cell,
                "schema": notebook_schema(declared)}

    def root_path(self, relative: str) -> Path:
        """A path given relative to the Jupyter root, refused if it leaves the root."""
        if not relative or "\x00" in relative:
            raise BadRequest("path must be a file in the Jupyter root")
        candidate = (self.root_dir / relative.lstrip("/")).resolve()
        if not candidate.is_relative_to(self.root_dir):
            raise BadRequest(f"path {relative!r} is outside the Jupyter root")
        return candidate

    # -- workers -----------------------------------------------------------------------
    def list_workers(self) -> dict[str, Any]:
        from orchestrate_nb.store.workers import list_workers

        with self.read() as conn:
            found = list_workers(conn)
        return {"workers": [{"id": w.id, "pool": w.pool, "host": w.host, "pid": w.pid,
                             "alive": w.alive, "started": iso(w.started),
                             "last_heartbeat": iso(w.heartbeat), "stopped": iso(w.stopped),
                             "runs": list(w.runs)} for w in found]}


def _last(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name) or ()
    return values[-1] if values else None


def _field(body: Mapping[str, Any], name: str, kind: type, required: bool = False) -> Any:
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


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
    return value


_JSON_TYPES = {"int": "integer", "float": "number", "bool": "boolean", "str": "string",
               "list": "array", "dict": "object"}


def _property(type_name: str | None, default: Any, has_default: bool) -> dict[str, Any]:
    prop: dict[str, Any] = {}
    if type_name in _JSON_TYPES:
        prop["type"] = _JSON_TYPES[type_name]
    if has_default:
        prop["default"] = _jsonable(default)
    if type_name:
        prop["title"] = type_name
    return prop


def notebook_schema(declared: Any) -> dict[str, Any]:
    """The JSON schema of a notebook's parameters cell (every parameter has a default)."""
    return {"type": "object", "additionalProperties": False, "properties": {
        p.name: _property(p.type.__name__ if p.type else None, p.default, True)
        for p in declared.parameters.values()}, "required": []}


def flow_file_schema(entrypoint: str) -> dict[str, Any] | None:
    """The JSON schema of ``file.py:fn``'s parameters, read from its source (the server
    never imports a user's module): annotations and literal defaults."""
    import ast

    file, _, function = entrypoint.rpartition(":")
    try:
        tree = ast.parse(Path(file).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            return _signature_schema(node.args)
    return None


def _signature_schema(args: ast.arguments) -> dict[str, Any]:
    positional = [*args.posonlyargs, *args.args]
    defaults: dict[str, ast.expr] = {}
    for arg, expression in zip(positional[len(positional) - len(args.defaults):],
                               args.defaults):
        defaults[arg.arg] = expression
    for arg, keyword_default in zip(args.kwonlyargs, args.kw_defaults):
        if keyword_default is not None:
            defaults[arg.arg] = keyword_default
    properties: dict[str, Any] = {}
    required: list[str] = []
    for arg in [*positional, *args.kwonlyargs]:
        annotation = arg.annotation
        type_name = None
        if isinstance(annotation, ast.Name):
            type_name = annotation.id
        elif isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name):
            type_name = annotation.value.id if annotation.value.id in ("list", "dict") else None
        has_default = arg.arg in defaults
        default: Any = None
        if has_default:
            try:
                default = ast.literal_eval(defaults[arg.arg])
            except ValueError:
                has_default = False
        properties[arg.arg] = _property(type_name, default, has_default)
        if arg.arg not in defaults:
            required.append(arg.arg)
    return {"type": "object", "additionalProperties": args.kwarg is not None,
            "properties": properties, "required": required}


def deployment_parameter_schema(info: Any) -> dict[str, Any] | None:
    """A deployment's parameters as a JSON schema (None: not known without running code)."""
    from orchestrate_nb.deploy.parameters import read_notebook_parameters

    try:
        if info.kind == "notebook":
            return notebook_schema(read_notebook_parameters(info.entrypoint))
        if info.kind == "python":
            return flow_file_schema(info.entrypoint)
    except (DeploymentError, OSError):
        return None
    return None  # a pickled flow: unpickling runs code, which the server never does


def describe_schedule(kind: str | None, schedule: Any) -> str:
    """The schedule in words ("At 07:00, Monday through Friday (Europe/Berlin)")."""
    if kind == "cron":
        try:
            from cron_descriptor import ExpressionDescriptor, Options

            options = Options()
            options.use_24hour_time_format = True
            words = ExpressionDescriptor(schedule.cron, options).get_description()
            return f"{words} ({schedule.timezone})" if schedule.timezone != "UTC" else words
        except Exception:  # an expression croniter takes and the describer does not
            return str(schedule.describe())
    return str(schedule.describe())


def deployment_schedule(info: Any, scheduled: dt.datetime | None) -> tuple[str, list[str | None]]:
    """(the schedule in words, its next five run times) — never an error: a schedule an
    older version stored that cannot fire says so."""
    from orchestrate_nb.core.schedules import next_slots
    from orchestrate_nb.deploy.deployments import schedule_of

    try:
        schedule = schedule_of(info)
        if schedule is None:
            return "no schedule (run on demand)", [iso(scheduled)] if scheduled else []
        description = describe_schedule(info.schedule_kind, schedule)
        if info.paused:
            return description, []
        now = dt.datetime.now(UTC)
        after = max(info.last_slot or info.created, now)
        slots: list[dt.datetime] = [scheduled] if scheduled is not None else []
        start = scheduled if scheduled is not None else after
        slots += next_slots(schedule, start, dt.datetime.max.replace(tzinfo=UTC),
                            5 - len(slots))
        return description, [iso(slot) for slot in slots[:5]]
    except (DeploymentError, ValueError, OverflowError):
        return "never: this schedule cannot fire (redeploy or remove it)", []


def _server_settings(settings: Settings) -> Settings:
    """A PostgreSQL URL without a connect timeout gets a short one: a server request must
    say "unreachable" in seconds, not hang."""
    url = settings.database_url
    if url.startswith("postgres") and "connect_timeout" not in url:
        url += ("&" if "?" in url else "?") + "connect_timeout=3"
        return Settings(**{**settings.__dict__, "database_url": url})
    return settings


# -- the change cursor --------------------------------------------------------------------
class ChangeTracker:
    """A number that changes whenever something the sidebar shows changes.

    ``poll()`` runs one cheap query (``queries.change_signature``); the cursor is the sum of
    the newest state-history and log ids plus a count of the other changes seen, so it only
    grows while this server runs. ``current()`` polls at most once a ``max_age`` seconds.
    """

    def __init__(self, service: OrchestrateService, max_age: float = 1.0) -> None:
        self.service = service
        self.max_age = max_age
        self.cursor = 0
        self._signature: tuple[Any, ...] | None = None
        self._generation = 0
        self._polled = 0.0
        self._lock = threading.Lock()

    def poll(self) -> tuple[int, bool]:
        """(cursor, whether it changed since the last poll)."""
        with self.service.read() as conn:
            signature = queries.change_signature(conn)
        with self._lock:
            self._polled = time.monotonic()
            previous = self._signature
            if previous is not None and signature[2:] != previous[2:]:
                self._generation += 1
            self._signature = signature
            cursor = signature[0] + signature[1] + self._generation
            if previous is not None and cursor == self.cursor and signature != previous:
                self._generation += 1
                cursor += 1
            changed = cursor != self.cursor
            self.cursor = cursor
            return cursor, changed

    def current(self) -> int:
        if self._signature is None or time.monotonic() - self._polled >= self.max_age:
            return self.poll()[0]
        return self.cursor


# -- the run graph ------------------------------------------------------------------------
def run_graph(row: Any, states: Sequence[Any], tasks: Sequence[Any], edges: Sequence[Any],
              subflows: Sequence[Any]) -> dict[str, Any]:
    """The run-graph snapshot the inline widget draws, folded from the stored run."""
    from orchestrate_nb.core.events import (
        DependencyEdge,
        FlowRunCreated,
        StateChanged,
        TaskRunCreated,
    )
    from orchestrate_nb.notebook.graph.model import GraphModel

    model = GraphModel(row.id)
    events: list[Any] = [FlowRunCreated(row.id, row.flow_name, row.name, {}, (), None, None,
                                        row.created, "PENDING", "Pending")]
    for sub in subflows:
        events.append(FlowRunCreated(sub.id, sub.flow_name, sub.name, {}, (), row.id,
                                     sub.parent_task_run_id, sub.created, sub.state_type,
                                     sub.state_name))
    for task in tasks:
        events.append(TaskRunCreated(task.id, row.id, task.task_name, task.task_key, task.name,
                                     (), task.map_index, task.created, "PENDING", "Pending"))
        if task.start_time is not None:
            events.append(StateChanged("task", task.id, row.id, "RUNNING", "Running", None,
                                       task.start_time))
        if task.state_type not in ("PENDING", "RUNNING") or task.start_time is None:
            events.append(StateChanged("task", task.id, row.id, task.state_type,
                                       task.state_name, task.state_message,
                                       task.end_time or task.start_time or task.created))
    for sub in subflows:
        if sub.start_time is not None:
            events.append(StateChanged("flow", sub.id, sub.id, "RUNNING", "Running", None,
                                       sub.start_time))
        events.append(StateChanged("flow", sub.id, sub.id, sub.state_type, sub.state_name,
                                   sub.state_message, sub.end_time or sub.created))
    events += [DependencyEdge(row.id, e.upstream_task_run_id, e.downstream_task_run_id,
                              e.input_name) for e in edges]
    events += [StateChanged("flow", row.id, row.id, s.type, s.name, s.message, s.timestamp)
               for s in states if s.task_run_id is None]
    model.apply_all(events)
    return model.snapshot(time.time())
