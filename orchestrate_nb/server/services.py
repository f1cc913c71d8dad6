"""The REST API's service layer: plain functions from a query to a JSON-ready dict.

It knows nothing of HTTP servers: the Jupyter server extension's tornado handlers call it
(off the event loop), and any other web adapter can. Every method is synchronous and
thread-safe (one SQLAlchemy engine, a connection per call). What it raises is a
``ServiceError`` carrying the HTTP status and one line (``error_status`` maps the
package's own errors the same way), never a traceback.

The contract is ``docs/server-api.md``.
"""

from __future__ import annotations

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
from typing import Any, TypeVar

from sqlalchemy import Connection

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
WORKER_STALE_SECONDS = 60.0  # a worker with no heartbeat for this long is not alive


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
                try:
                    from orchestrate_nb.store.database import open_database

                    self._database = open_database(_server_settings(self.settings))
                except StoreError as exc:
                    raise self._down(exc) from None
            return self._database

    def _fail_fast(self) -> None:
        if time.monotonic() < self._down_until:
            raise Unavailable(self._down_message)

    def _down(self, exc: BaseException) -> Unavailable:
        detail = one_line(mask_url(str(exc)))
        self._down_message = f"run store unreachable at {self.display_url}: {detail}"[:500]
        self._down_until = time.monotonic() + DOWN_SECONDS
        return Unavailable(self._down_message)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        self._fail_fast()
        database = self.database()
        from sqlalchemy.exc import SQLAlchemyError

        try:
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


def _last(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name) or ()
    return values[-1] if values else None


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
