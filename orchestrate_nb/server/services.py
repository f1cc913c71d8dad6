"""The REST API's service layer: plain functions from a query to a JSON-ready dict.

It knows nothing of HTTP servers: the Jupyter server extension's tornado handlers call it
(off the event loop), and any other web adapter can. Every method is synchronous and
thread-safe (one SQLAlchemy engine, a connection per call). What it raises is a
``ServiceError`` carrying the HTTP status and one line (``error_status`` maps the
package's own errors the same way), never a traceback.

The contract is ``docs/server-api.md``.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from orchestrate_nb.errors import ResumeError, StoreError
from orchestrate_nb.server import queries
from orchestrate_nb.server.errors import (  # noqa: F401 (adapters import them from here)
    BadRequest,
    Conflict,
    Forbidden,
    NotFoundError,
    ServiceError,
    Unavailable,
    error_status,
    one_line,
)
from orchestrate_nb.server.graph import run_graph
from orchestrate_nb.server.schemas import (
    deployment_parameter_schema,
    deployment_schedule,
    describe_schedule,
    notebook_schema,
)
from orchestrate_nb.server.values import (  # noqa: F401 (adapters import them from here)
    FINAL_TYPES,
    STATE_TYPES,
    body_field,
    decode_cursor,
    duration_seconds,
    encode_cursor,
    iso,
    jsonable,
    last_value,
    parse_body,
    parse_int,
    run_filter,
    run_summary,
)
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
ARTIFACT_LIMIT = 200  # a run page shows its newest 200 artifacts
DELIVERY_LIMIT = 5  # GET alerts shows each alert's newest 5 deliveries
TASK_RUN_LIMIT = 5000  # a run page lists at most this many task runs (and its graph folds them)
DOWN_SECONDS = 2.0  # after the store failed, answer 503 at once for this long
COPIES_FOLDER = "orchestrate-runs"  # read-only copies of executed notebooks, in the root


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
        limit = parse_int(last_value(query, "limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        before_text = last_value(query, "before")
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
                "end_time": iso(t.end_time), "duration_seconds": duration_seconds(t.start_time,
                                                                           t.end_time),
                "run_count": t.run_count} for t in tasks],
            "task_runs_total": sum(counts.values()),
            "edges": [{"upstream": e.upstream_task_run_id, "downstream":
                       e.downstream_task_run_id, "input_name": e.input_name} for e in edges],
            "graph": run_graph(row, states, tasks, edges, subflows),
            "artifacts": self._artifacts(row.id, ARTIFACT_LIMIT),
        }

    def run_artifacts(self, id_or_prefix: str,
                      query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        """The artifacts a run (and its task runs) made, newest first."""
        limit = parse_int(last_value(query, "limit"), "limit", ARTIFACT_LIMIT, 1, MAX_LIMIT)
        with self.read() as conn:
            row = self.resolve_run(conn, id_or_prefix)
        return {"artifacts": self._artifacts(row.id, limit)}

    def _artifacts(self, run_id: str, limit: int) -> list[dict[str, Any]]:
        from orchestrate_nb.store.artifacts import describe, list_artifacts

        found = self.guarded(lambda: list_artifacts(self.database(), flow_run_id=run_id,
                                                    limit=limit))
        return [{"id": a.id, "key": a.key, "type": a.type, "data": a.data,
                 "description": a.description, "summary": describe(a.type, a.data),
                 "flow_run_id": a.flow_run_id, "task_run_id": a.task_run_id,
                 "created": iso(a.created), "updated": iso(a.updated)} for a in found]

    def run_logs(self, id_or_prefix: str, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        after = parse_int(last_value(query, "after"), "after", 0, 0, 2**62)
        limit = parse_int(last_value(query, "limit"), "limit", DEFAULT_LOG_LIMIT, 1, MAX_LOG_LIMIT)
        level_text = last_value(query, "level")
        level = parse_int(level_text, "level", 0, 0, 100) if level_text else None
        text = (last_value(query, "q") or "").strip() or None
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

    def executed_notebook(self, id_or_prefix: str) -> Path:
        """The run's executed notebook file (404 when it has none, or its file is gone)."""
        with self.read() as conn:
            row = self.resolve_run(conn, id_or_prefix)
            details = queries.run_details(conn, row.id)
        source = details.executed_notebook
        if not source or not Path(source).is_file():
            raise NotFoundError(f"flow run {row.name} has no executed notebook"
                                + (" (its file is gone)" if source else ""))
        return Path(source)

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
            temporary = folder / f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp"
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
        given = parse_int(last_value(query, "cursor"), "cursor", -1, -1, 2**62)
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
        notebook = self.root_path(body_field(body, "path", str, required=True))
        if notebook.suffix != ".ipynb":
            raise BadRequest(f"path must name a notebook (.ipynb), got {body['path']!r}")
        options: dict[str, Any] = {
            "cron": body_field(body, "cron", str), "interval": body_field(body, "interval", float),
            "rrule": body_field(body, "rrule", str),
            "timezone": body_field(body, "timezone", str) or "UTC",
            "parameters": body_field(body, "parameters", dict) or {},
            "pool": body_field(body, "pool", str) or "default",
            "retries": body_field(body, "retries", int) or 0,
            "retry_delay_seconds": body_field(body, "retry_delay_seconds", float) or 0,
            "timeout_seconds": body_field(body, "timeout_seconds", float),
            "cache": body_field(body, "cache", str) or "refresh",
            "tags": body_field(body, "tags", list), "kernel": body_field(body, "kernel", str),
            "paused": bool(body_field(body, "paused", bool)),
        }
        name = body_field(body, "name", str, required=True)
        info = self.guarded(lambda: deploy_notebook(notebook, name, database=self.database(),
                                                    **options))
        return self.get_deployment(info.name)

    def trigger(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        from orchestrate_nb.deploy.deployments import trigger_deployment

        unknown = sorted(set(body) - {"parameters"})
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r} (a run takes: parameters)")
        parameters = body_field(body, "parameters", dict) or {}
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
            cron=body_field(body, "cron", str), interval=body_field(body, "interval", float),
            rrule=body_field(body, "rrule", str),
            timezone=body_field(body, "timezone", str) or "UTC", anchor=now)
        if schedule is None:
            raise BadRequest("give a schedule: cron, interval or rrule")
        first = require_next_slot(schedule, now)
        slots = [first, *next_slots(schedule, first, dt.datetime.max.replace(tzinfo=UTC), 4)]
        return {"kind": kind, "description": describe_schedule(kind, schedule),
                "next_runs": [iso(slot) for slot in slots]}

    def notebook_parameters(self, query: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        from orchestrate_nb.deploy.parameters import read_notebook_parameters

        path = last_value(query, "path")
        if not path:
            raise BadRequest("give the notebook's path (relative to the Jupyter root): ?path=")
        notebook = self.root_path(path)
        declared = read_notebook_parameters(notebook)
        parameters = [{"name": p.name, "type": p.type.__name__ if p.type else None,
                       "default": jsonable(p.default)} for p in declared.parameters.values()]
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

    # -- variables, blocks, alerts (read-only) -------------------------------------------
    def list_variables(self) -> dict[str, Any]:
        """Every variable: name, JSON value, tags, when set."""
        from orchestrate_nb.store.variables import list_variables

        found = self.guarded(lambda: list_variables(self.database()))
        return {"variables": [{**v.to_json(), **_times(v)} for v in found]}

    def list_blocks(self) -> dict[str, Any]:
        """Every saved block: its type, name and fields, secret fields as the mask (never a
        value, never the encrypted token)."""
        from orchestrate_nb.store.blocks import list_blocks

        found = self.guarded(lambda: list_blocks(self.database()))
        return {"blocks": [{**b.to_json(), **_times(b)} for b in found]}

    def list_alerts(self) -> dict[str, Any]:
        """Every alert with its newest deliveries (state, when, run, target, error line)."""
        from orchestrate_nb.store.alerts import list_alerts, list_deliveries

        def load() -> list[dict[str, Any]]:
            database = self.database()
            return [{**alert.to_json(), **_times(alert),
                     "deliveries": [_delivery(d) for d in list_deliveries(
                         database, alert_id=alert.id, limit=DELIVERY_LIMIT)]}
                    for alert in list_alerts(database)]

        return {"alerts": self.guarded(load)}


def _times(record: Any) -> dict[str, Any]:
    return {"created": iso(record.created), "updated": iso(record.updated)}


def _delivery(d: Any) -> dict[str, Any]:
    """A delivery for the API: its state and error line, not the message it carried."""
    return {"id": d.id, "event": d.event, "target": d.target, "flow_run_id": d.flow_run_id,
            "status": d.status, "attempts": d.attempts, "subject": d.subject_text,
            "error": one_line(d.last_error) if d.last_error else None,
            "next_attempt": iso(d.next_attempt), "created": iso(d.created),
            "updated": iso(d.updated)}


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
