"""Reading (and pruning) run history: the query API of the CLI and the server extension.

Results are the frozen records of ``views``, safe to keep after the transaction.
Database failures surface as ``StoreError``, unknown ids as ``NotFound``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, and_, delete, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from orchestrate_nb.errors import NotFound, StoreError
from orchestrate_nb.settings import Settings, load_settings
from orchestrate_nb.store.batch import FINAL_STATE_TYPES
from orchestrate_nb.store.database import Database, open_database, store_errors
from orchestrate_nb.store.masking import mask_parameters
from orchestrate_nb.store.orm import (
    AlertDelivery,
    Artifact,
    Flow,
    FlowRun,
    LogLine,
    RunState,
    TaskRun,
    TaskRunEdge,
)
from orchestrate_nb.store.views import (
    EdgeInfo,
    FlowRunInfo,
    LogInfo,
    PruneSummary,
    StateInfo,
    TaskRunInfo,
)

if TYPE_CHECKING:
    from orchestrate_nb.store.recovery import RecoveryReport

UTC = dt.timezone.utc


_FLOW_RUN_COLUMNS = (
    FlowRun.id, Flow.name, FlowRun.name, FlowRun.state_type, FlowRun.state_name,
    FlowRun.state_message, FlowRun.created, FlowRun.start_time, FlowRun.end_time,
    FlowRun.run_count, FlowRun.parameters, FlowRun.tags, FlowRun.parent_flow_run_id,
    FlowRun.parent_task_run_id, FlowRun.deployment_id, FlowRun.owner_host, FlowRun.owner_pid,
    FlowRun.heartbeat, FlowRun.executed_notebook,
)
_TASK_RUN_COLUMNS = (
    TaskRun.id, TaskRun.flow_run_id, TaskRun.task_name, TaskRun.task_key, TaskRun.name,
    TaskRun.map_index, TaskRun.state_type, TaskRun.state_name, TaskRun.state_message,
    TaskRun.created, TaskRun.start_time, TaskRun.end_time, TaskRun.run_count,
    TaskRun.cache_key, TaskRun.tags,
)


def _flow_run_info(row: Any) -> FlowRunInfo:
    fields = list(row)
    fields[10] = mask_parameters(fields[10]) or {}  # a deployment's runs keep them in clear
    fields[11] = tuple(fields[11] or ())  # tags
    return FlowRunInfo(*fields)


def _task_run_info(row: Any) -> TaskRunInfo:
    fields = list(row)
    fields[-1] = tuple(fields[-1] or ())
    return TaskRunInfo(*fields)


def _select_flow_runs() -> Select[Any]:
    return select(*_FLOW_RUN_COLUMNS).join(Flow, Flow.id == FlowRun.flow_id)


class RunRepository:
    """Queries over one database. Use as a context manager, or call ``close``."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def __enter__(self) -> RunRepository:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.database.dispose()

    # -- flow runs ---------------------------------------------------------------------
    def list_flow_runs(self, state_types: Iterable[str] | None = None,
                       flow_name: str | None = None, since: dt.timedelta | None = None,
                       limit: int | None = 50) -> list[FlowRunInfo]:
        """Newest first."""
        query = _select_flow_runs().order_by(FlowRun.created.desc()).limit(limit)
        if state_types:
            query = query.where(FlowRun.state_type.in_(list(state_types)))
        if flow_name:
            query = query.where(Flow.name == flow_name)
        if since is not None:
            query = query.where(FlowRun.created >= dt.datetime.now(UTC) - since)
        with self._read() as conn:
            return [_flow_run_info(row) for row in conn.execute(query)]

    def get_flow_run(self, id_or_prefix: str) -> FlowRunInfo:
        """The flow run with this id, or the only one whose id starts with it."""
        if not id_or_prefix:
            raise NotFound("no flow run id given")
        with self._read() as conn:
            row = conn.execute(_select_flow_runs().where(FlowRun.id == id_or_prefix)).first()
            if row is not None:
                return _flow_run_info(row)
            prefix = FlowRun.id.startswith(id_or_prefix, autoescape=True)
            rows = conn.execute(_select_flow_runs().where(prefix).limit(2)).all()
        if not rows:
            raise NotFound(f"no flow run matches {id_or_prefix!r}")
        if len(rows) > 1:
            raise NotFound(f"{id_or_prefix!r} matches several flow runs; give more of the id")
        return _flow_run_info(rows[0])

    # -- a flow run's parts ------------------------------------------------------------
    def list_task_runs(self, flow_run_id: str, limit: int | None = None) -> list[TaskRunInfo]:
        """In creation order (mapped runs by map index); the first ``limit`` of them."""
        query = (select(*_TASK_RUN_COLUMNS).where(TaskRun.flow_run_id == flow_run_id)
                 .order_by(TaskRun.created, TaskRun.map_index).limit(limit))
        with self._read() as conn:
            return [_task_run_info(row) for row in conn.execute(query)]

    def count_task_runs(self, flow_run_id: str) -> dict[str, int]:
        """How many task runs the flow run has, by state name, most frequent first."""
        query = (select(TaskRun.state_name, func.count()).where(TaskRun.flow_run_id == flow_run_id)
                 .group_by(TaskRun.state_name).order_by(func.count().desc()))
        with self._read() as conn:
            return {name: count for name, count in conn.execute(query)}

    def count_edges(self, flow_run_id: str) -> int:
        query = select(func.count()).where(TaskRunEdge.flow_run_id == flow_run_id)
        with self._read() as conn:
            return conn.execute(query).scalar_one()

    def list_edges(self, flow_run_id: str, limit: int | None = None) -> list[EdgeInfo]:
        upstream, downstream = aliased(TaskRun), aliased(TaskRun)
        query = (
            select(TaskRunEdge.upstream_task_run_id, upstream.name,
                   TaskRunEdge.downstream_task_run_id, downstream.name, TaskRunEdge.input_name)
            .outerjoin(upstream, upstream.id == TaskRunEdge.upstream_task_run_id)
            .outerjoin(downstream, downstream.id == TaskRunEdge.downstream_task_run_id)
            .where(TaskRunEdge.flow_run_id == flow_run_id)
            .order_by(TaskRunEdge.id).limit(limit)
        )
        with self._read() as conn:
            return [EdgeInfo(*row) for row in conn.execute(query)]

    def list_logs(self, flow_run_id: str, after_id: int = 0,
                  limit: int | None = None) -> list[LogInfo]:
        """Log lines in order; ``after_id`` is the cursor of a follower (the last id seen)."""
        query = (
            select(LogLine.id, LogLine.timestamp, LogLine.level, LogLine.logger, LogLine.message,
                   LogLine.task_run_id, TaskRun.name)
            .outerjoin(TaskRun, TaskRun.id == LogLine.task_run_id)
            .where(LogLine.flow_run_id == flow_run_id, LogLine.id > after_id)
            .order_by(LogLine.id).limit(limit)
        )
        with self._read() as conn:
            return [LogInfo(*row) for row in conn.execute(query)]

    def state_history(self, flow_run_id: str | None,
                      task_run_id: str | None = None) -> list[StateInfo]:
        """The states a flow run (or one of its task runs) went through, oldest first.

        A task run called outside any flow has ``flow_run_id`` None.
        """
        flow_filter = (RunState.flow_run_id.is_(None) if flow_run_id is None
                       else RunState.flow_run_id == flow_run_id)
        task_filter = (RunState.task_run_id.is_(None) if task_run_id is None
                       else RunState.task_run_id == task_run_id)
        query = (select(RunState.type, RunState.name, RunState.message, RunState.timestamp,
                        RunState.task_run_id)
                 .where(flow_filter, task_filter).order_by(RunState.id))
        with self._read() as conn:
            return [StateInfo(*row) for row in conn.execute(query)]

    # -- maintenance -------------------------------------------------------------------
    def recover_crashed_runs(self) -> RecoveryReport:
        """Mark the unfinished runs of processes that died CRASHED (see ``recovery``)."""
        from orchestrate_nb.store.recovery import recover_crashed_runs

        try:
            return recover_crashed_runs(self.database)
        except SQLAlchemyError as exc:
            raise StoreError(f"crash recovery failed ({self.database.display_url}): {exc}") from exc

    def upgrade(self) -> str:
        """Apply pending migrations; returns the schema revision."""
        from orchestrate_nb.store.schema import upgrade

        return upgrade(self.database)

    def count_prunable(self, older_than: dt.timedelta) -> PruneSummary:
        """What ``prune(older_than)`` would delete (finished runs created before the cutoff)."""
        cutoff = dt.datetime.now(UTC) - older_than
        with self._read() as conn:
            flow_run_ids = _prunable_flow_runs(conn, cutoff)
            task_runs = _count_task_runs(conn, flow_run_ids)
            orphans = len(_prunable_orphan_task_runs(conn, cutoff))
        return PruneSummary(cutoff, len(flow_run_ids), task_runs + orphans)

    def prune(self, older_than: dt.timedelta, chunk_size: int = 200,
              progress: Callable[[int, int], None] | None = None) -> PruneSummary:
        """Delete finished runs created before now - ``older_than``, with everything of theirs.

        Deletes in chunks of ``chunk_size`` runs, one transaction each, so other writers are
        never held up for long; ``progress(done, total)`` counts flow runs and lone task runs.
        """
        cutoff = dt.datetime.now(UTC) - older_than
        with self._read() as conn:
            flow_run_ids = _prunable_flow_runs(conn, cutoff)
            orphan_ids = _prunable_orphan_task_runs(conn, cutoff)
        work = [(chunk, self._delete_flow_runs) for chunk in _chunks(flow_run_ids, chunk_size)]
        work += [(chunk, self._delete_orphan_task_runs) for chunk in _chunks(orphan_ids, chunk_size)]
        totals, done, total = [0, 0, 0], 0, len(flow_run_ids) + len(orphan_ids)
        for chunk, delete_chunk in work:
            _add(totals, delete_chunk(chunk))
            done += len(chunk)
            if progress:
                progress(done, total)
        return PruneSummary(cutoff, *totals)

    def _delete_flow_runs(self, ids: Sequence[str]) -> tuple[int, int, int]:
        with self._write() as conn:
            for model in (RunState, TaskRunEdge, Artifact, AlertDelivery):
                conn.execute(delete(model).where(model.flow_run_id.in_(ids)))
            logs = conn.execute(delete(LogLine).where(LogLine.flow_run_id.in_(ids))).rowcount
            tasks = conn.execute(delete(TaskRun).where(TaskRun.flow_run_id.in_(ids))).rowcount
            flows = conn.execute(delete(FlowRun).where(FlowRun.id.in_(ids))).rowcount
        return flows, tasks, logs

    def _delete_orphan_task_runs(self, ids: Sequence[str]) -> tuple[int, int, int]:
        no_flow = RunState.flow_run_id.is_(None)
        with self._write() as conn:
            conn.execute(delete(RunState).where(no_flow, RunState.task_run_id.in_(ids)))
            conn.execute(delete(TaskRunEdge).where(
                TaskRunEdge.flow_run_id.is_(None),
                or_(TaskRunEdge.upstream_task_run_id.in_(ids),
                    TaskRunEdge.downstream_task_run_id.in_(ids))))
            logs = conn.execute(delete(LogLine).where(
                LogLine.flow_run_id.is_(None), LogLine.task_run_id.in_(ids))).rowcount
            tasks = conn.execute(delete(TaskRun).where(TaskRun.id.in_(ids))).rowcount
        return 0, tasks, logs

    # -- transactions ------------------------------------------------------------------
    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with store_errors(self.database), self.database.read() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with store_errors(self.database, "write"), self.database.write() as conn:
            yield conn


def _prunable_flow_runs(conn: Connection, cutoff: dt.datetime) -> list[str]:
    query = select(FlowRun.id).where(
        FlowRun.created < cutoff, FlowRun.state_type.in_(sorted(FINAL_STATE_TYPES)))
    return list(conn.execute(query).scalars())


def _prunable_orphan_task_runs(conn: Connection, cutoff: dt.datetime) -> list[str]:
    query = select(TaskRun.id).where(and_(
        TaskRun.flow_run_id.is_(None), TaskRun.created < cutoff,
        TaskRun.state_type.in_(sorted(FINAL_STATE_TYPES))))
    return list(conn.execute(query).scalars())


def _count_task_runs(conn: Connection, flow_run_ids: Sequence[str]) -> int:
    total = 0
    for chunk in _chunks(flow_run_ids, 500):
        query = select(func.count()).select_from(TaskRun).where(TaskRun.flow_run_id.in_(chunk))
        total += conn.execute(query).scalar_one()
    return total


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _add(totals: list[int], counts: tuple[int, int, int]) -> None:
    for index, count in enumerate(counts):
        totals[index] += count


def upgrade_store(settings: Settings | None = None) -> tuple[str | None, str, str]:
    """Migrate the store to the newest schema: (revision before, revision now, database)."""
    from orchestrate_nb.store.database import create_database
    from orchestrate_nb.store.schema import current_revision, upgrade

    database = create_database(settings or load_settings())
    try:
        before = current_revision(database)
        return before, upgrade(database), database.display_url
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the run store at {database.display_url}: {exc}") from exc
    finally:
        database.dispose()


def open_repository(settings: Settings | None = None, *, recover: bool = True) -> RunRepository:
    """Open the run store (migrating it on first use) and mark runs of dead processes CRASHED."""
    repository = RunRepository(open_database(settings or load_settings()))
    if recover:
        try:
            repository.recover_crashed_runs()
        except StoreError:
            repository.close()
            raise
    return repository
