"""Writing a batch of RunEvents in one transaction, with one bulk statement per table.

ORM unit-of-work inserts cost ~35 µs a row; Core executemany ~5; the driver's own bulk
form of the rows (``bulk.py``) ~1, which is what the task runs and history rows take. A write
that fails for a transient reason (a lock, a dropped connection) is retried with backoff;
one that fails because of its data is split in halves until the offending event is isolated,
so one bad event costs one record, not the batch. One that fails because the store cannot be
written (unreachable, full, corrupt) is given up at once: ``failures.py`` says which is which.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Table, bindparam, func, select, update
from sqlalchemy.sql.dml import Insert, Update

from orchestrate_nb.core.events import RunEvent
from orchestrate_nb.processes import ProcessIdentity
from orchestrate_nb.store import orm
from orchestrate_nb.store.batch import (
    EDGE_COLUMNS,
    LOG_COLUMNS,
    STATE_COLUMNS,
    TASK_CHANGE_COLUMNS,
    TASK_RUN_COLUMNS,
    BatchPlan,
    Binders,
    Row,
    plan_batch,
)
from orchestrate_nb.store.bulk import TEMPORARY_TABLES, BulkInsert, BulkUpdate
from orchestrate_nb.store.database import Database
from orchestrate_nb.store.failures import Failure, StoreStatus, classify, is_transient

log = logging.getLogger("orchestrate_nb.store")
UTC = dt.timezone.utc

FLOWS = cast(Table, orm.Flow.__table__)
FLOW_RUNS = cast(Table, orm.FlowRun.__table__)
TASK_RUNS = cast(Table, orm.TaskRun.__table__)
RUN_STATES = cast(Table, orm.RunState.__table__)
EDGES = cast(Table, orm.TaskRunEdge.__table__)
LOGS = cast(Table, orm.LogLine.__table__)

_CHANGE_COLUMNS = ("state_type", "state_name", "state_message", "start_time", "end_time",
                   "run_count")
_FLOW_CHANGE_COLUMNS = (*_CHANGE_COLUMNS, "owner_host", "owner_pid", "owner_token", "heartbeat")
_TASK_CHANGE_VALUES = itemgetter(*(TASK_RUN_COLUMNS.index(c) for c in TASK_CHANGE_COLUMNS))


class BatchWriter:
    """Writes batches for one process (its identity owns the runs it creates)."""

    def __init__(self, database: Database, owner: ProcessIdentity,
                 retry_window: float = 120.0, status: StoreStatus | None = None) -> None:
        self.database = database
        self.owner = owner
        self.retry_window = retry_window
        self.status = status or StoreStatus(database.display_url)
        self._flow_ids: dict[str, int] = {}
        self._open_runs: dict[str, set[str]] = {"flow": set(), "task": set()}
        self._statements = _Statements(database.engine.dialect)
        self._postgres = database.dialect == "postgresql"
        self._durable = True
        self._undurable = False  # a batch was committed without waiting for the disk

    # -- writing ---------------------------------------------------------------------
    def write(self, events: Sequence[RunEvent], durable: bool = True) -> None:
        """Write ``events``; never raises (what cannot be written is logged and counted).

        ``durable=False`` (a writer process's batches while a flow runs): PostgreSQL may
        acknowledge the commit before its WAL reaches the disk (``synchronous_commit = off``
        for that transaction). The batch is committed and visible all the same; only a
        crash of the database server within a fraction of a second could lose it, and the
        next durable commit (the one a flush waits for) makes every earlier one durable too.
        """
        self._durable = durable
        self._undurable = self._undurable or (not durable and self._postgres)
        if not events:
            return
        if self.status.corrupt:  # said once; writing to a damaged file only damages it more
            self.status.lost += len(events)
            return
        try:
            self._write_retrying(events)
        except Exception as exc:
            if len(events) == 1 or classify(exc) is not Failure.BAD_DATA:
                self.status.lose(events, exc)
                return
            middle = len(events) // 2
            self.write(events[:middle])
            self.write(events[middle:])
        else:
            self.status.recorded()
            if durable:
                self._undurable = False

    def make_durable(self) -> None:
        """PostgreSQL: wait until every batch committed without waiting for the disk is on
        it (a transaction given an id commits a WAL record, and the server flushes all WAL
        before it; never raises)."""
        if not self._undurable or self.status.down:
            return
        try:
            with self.database.write() as conn:
                conn.exec_driver_sql("SELECT txid_current()")
            self._undurable = False
        except Exception as exc:
            log.debug("run store could not confirm its last batches durable: %s", exc)

    @property
    def lost_events(self) -> int:
        return self.status.lost

    def _write_retrying(self, events: Sequence[RunEvent]) -> None:
        deadline = time.monotonic() + self.retry_window
        delay = 0.05
        while True:
            try:
                self._write_once(events)
                return
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() + delay > deadline:
                    raise
                log.debug("run store busy, retrying in %.2f s: %s", delay, exc)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _write_once(self, events: Sequence[RunEvent]) -> None:
        plan = plan_batch(list(events), self.owner, dt.datetime.now(UTC),
                          self._statements.binders)
        info: dict[Any, Any] = {}
        try:
            with self.database.write() as conn:
                info = conn.connection.info
                if not self._durable and self._postgres:
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
                flow_ids = self._resolve_flow_ids(conn, plan.flow_names)
                self._execute_plan(conn, plan, flow_ids)
        except BaseException:
            # Temporary tables created in a transaction that did not commit are gone.
            info.pop(TEMPORARY_TABLES, None)
            raise
        self._flow_ids.update(flow_ids)
        for (kind, run_id), still_open in plan.owned_runs.items():
            (self._open_runs[kind].add if still_open else self._open_runs[kind].discard)(run_id)

    def _execute_plan(self, conn: Connection, plan: BatchPlan, flow_ids: dict[str, int]) -> None:
        s = self._statements
        if plan.new_flow_runs:
            rows = [_with_flow_id(row, flow_ids) for row in plan.new_flow_runs.values()]
            conn.execute(s.insert_flow_runs, rows)
        if plan.flow_run_changes:
            conn.execute(s.update_flow_runs, _bind(plan.flow_run_changes.values()))
        s.insert_task_runs.execute(conn, list(plan.new_task_runs.values()))
        if plan.task_run_changes:
            s.update_task_runs.execute(
                conn, list(map(_TASK_CHANGE_VALUES, plan.task_run_changes.values())))
        # History rows keep their order: their ids are the order states were entered in.
        s.insert_states.execute(conn, plan.states)
        s.insert_edges.execute(conn, plan.edges)
        s.insert_logs.execute(conn, plan.logs)

    def _resolve_flow_ids(self, conn: Connection, names: dict[str, dt.datetime]) -> dict[str, int]:
        ids = {name: self._flow_ids[name] for name in names if name in self._flow_ids}
        missing = [{"name": n, "created": c} for n, c in names.items() if n not in ids]
        if missing:
            conn.execute(self._statements.insert_flows, missing)
            query = select(FLOWS.c.name, FLOWS.c.id).where(
                FLOWS.c.name.in_([m["name"] for m in missing]))
            ids.update({row.name: row.id for row in conn.execute(query)})
        return ids

    # -- heartbeats ------------------------------------------------------------------
    @property
    def has_open_runs(self) -> bool:
        return bool(self._open_runs["flow"] or self._open_runs["task"])

    def heartbeat(self) -> None:
        """Tell other processes that this one still runs its unfinished runs."""
        now = dt.datetime.now(UTC)
        with self.database.write() as conn:
            for kind, statement in (("flow", self._statements.heartbeat_flow_runs),
                                    ("task", self._statements.heartbeat_task_runs)):
                ids = self._open_runs[kind]
                if ids:
                    conn.execute(statement, [{"b_id": i, "b_now": now} for i in list(ids)])


def _with_flow_id(row: Row, flow_ids: dict[str, int]) -> Row:
    row = dict(row)
    row["flow_id"] = flow_ids[row.pop("flow_name")]
    return row


def _bind(changes: Iterable[Row]) -> list[Row]:
    return [{f"b_{key}": value for key, value in change.items()} for change in changes]


class _Statements:
    """The writer's statements, built once (SQLAlchemy caches their compiled form)."""

    def __init__(self, dialect: Dialect) -> None:
        self.insert_flows = _insert_ignoring_duplicates(dialect.name, FLOWS, "name")
        self.insert_flow_runs = _insert_ignoring_duplicates(dialect.name, FLOW_RUNS, "id")
        self.insert_task_runs = BulkInsert(TASK_RUNS, TASK_RUN_COLUMNS, dialect, "id")
        self.insert_states = BulkInsert(RUN_STATES, STATE_COLUMNS, dialect)
        self.insert_edges = BulkInsert(EDGES, EDGE_COLUMNS, dialect)
        self.insert_logs = BulkInsert(LOGS, LOG_COLUMNS, dialect)
        self.update_flow_runs = _update_changes(FLOW_RUNS, _FLOW_CHANGE_COLUMNS)
        self.update_task_runs = BulkUpdate(TASK_RUNS, TASK_CHANGE_COLUMNS, "id", {
            # run_count is an increment, start_time a first RUNNING, cache_key kept if unset
            "start_time": "coalesce({old}, {new})", "run_count": "{old} + {new}",
            "cache_key": "coalesce({new}, {old})"}, dialect)
        self.binders = Binders(timestamp=_processor(RUN_STATES, "timestamp", dialect),
                               text=_processor(RUN_STATES, "message", dialect),
                               json=_processor(TASK_RUNS, "tags", dialect))
        self.heartbeat_flow_runs = _update_heartbeat(FLOW_RUNS)
        self.heartbeat_task_runs = _update_heartbeat(TASK_RUNS)


def _insert_ignoring_duplicates(dialect: str, table: Table, key: str) -> Insert:
    """A replayed batch (a commit whose acknowledgement was lost) must not fail as a whole."""
    if dialect == "postgresql":  # imported here: loading it costs a SQLite user ~10 MB
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=[key])
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])
    return table.insert()


def _update_changes(table: Table, columns: tuple[str, ...]) -> Update:
    c = table.c
    values: dict[str, Any] = {name: bindparam(f"b_{name}", type_=c[name].type) for name in columns}
    values["run_count"] = c.run_count + bindparam("b_run_count")
    values["start_time"] = func.coalesce(c.start_time, values["start_time"])
    return update(table).where(c.id == bindparam("b_id")).values(values)


def _processor(table: Table, column: str, dialect: Dialect) -> Callable[[Any], Any]:
    """SQLAlchemy's bind processor of ``column`` (what its executemany would call)."""
    processor = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    return processor if processor is not None else _same


def _same(value: Any) -> Any:
    return value


def _update_heartbeat(table: Table) -> Update:
    heartbeat = bindparam("b_now", type_=table.c.heartbeat.type)
    return update(table).where(table.c.id == bindparam("b_id")).values(heartbeat=heartbeat)
