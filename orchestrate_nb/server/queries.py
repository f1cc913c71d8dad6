"""The SQL the REST API's service layer runs (read side), on SQLite and PostgreSQL alike.

The runs list is keyset-paginated on ``(created, id)``, newest first: a page is "the next
``limit`` runs older than the last one shown", which stays cheap at any depth (the
``flow_runs.created`` index gives the order) and never repeats or skips a run when new
ones are added meanwhile (they are newer than the first page).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
)

from orchestrate_nb.store.orm import (
    Alert,
    AlertDelivery,
    Artifact,
    BlockDocument,
    Deployment,
    Flow,
    FlowRun,
    FlowRunTag,
    LogLine,
    RunState,
    TaskRun,
    Variable,
    Worker,
)

SESSION_TAG = "notebook-session"  # engine/session.py's tag of a kernel's session run
ACTIVE_TYPES = ("PENDING", "RUNNING", "CANCELLING")

RUN_COLUMNS = (
    FlowRun.id, FlowRun.name, Flow.name.label("flow_name"), FlowRun.deployment_id,
    Deployment.name.label("deployment_name"), FlowRun.state_type, FlowRun.state_name,
    FlowRun.state_message, FlowRun.created, FlowRun.scheduled_time, FlowRun.start_time,
    FlowRun.end_time, FlowRun.tags, FlowRun.pool, FlowRun.parent_flow_run_id,
    FlowRun.attempt, FlowRun.run_count,
)


@dataclass(frozen=True)
class RunFilter:
    flows: Sequence[str] = ()
    state_types: Sequence[str] = ()
    deployments: Sequence[str] = ()
    tags: Sequence[str] = ()
    text: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    kind: str = "runs"  # "runs" | "sessions" | "all"
    extra: dict[str, Any] = field(default_factory=dict)


def _tags_text() -> Any:
    return cast(FlowRun.tags, Text)


def _has_tag(tag: str) -> Any:
    # tags are a JSON list of strings: '["a","b"]' (compact, as the store writes them)
    return _tags_text().contains(json.dumps(tag), autoescape=True)


def _tagged(tag: str) -> Any:
    """Runs carrying ``tag``, by the ``flow_run_tags`` index (kept by triggers)."""
    return FlowRun.id.in_(select(FlowRunTag.flow_run_id).where(FlowRunTag.tag == tag))


# SQLite's FTS5 trigram index of run names (migration 0010; absent where FTS5 is missing)
RUN_NAMES = table("flow_run_names", column("rowid"))
FLOW_RUN_ROWID: Any = literal_column("flow_runs.rowid")
TRIGRAM = 3  # the shortest text a trigram index can look up


@dataclass(frozen=True)
class TextMatch:
    """``q`` resolved: the flows and deployments whose names contain it (few rows, matched
    first) and whether run names go through SQLite's trigram index."""

    text: str
    flow_ids: tuple[int, ...]
    deployment_ids: tuple[str, ...]
    fts: bool = False


def resolve_text(conn: Connection, pattern: str) -> TextMatch:
    flows = conn.execute(select(Flow.id).where(
        Flow.name.icontains(pattern, autoescape=True))).scalars()
    deployments = conn.execute(select(Deployment.id).where(
        Deployment.name.icontains(pattern, autoescape=True))).scalars()
    fts = (conn.dialect.name == "sqlite" and len(pattern) >= TRIGRAM and conn.execute(text(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'flow_run_names'"
    )).first() is not None)
    return TextMatch(pattern, tuple(flows), tuple(deployments), fts)


def _fts_phrase(pattern: str) -> str:
    return '"' + pattern.replace('"', '""') + '"'


def _text_condition(match: TextMatch, dialect: str, by_index: bool) -> Any:
    """Run name, flow name or deployment name contains the text. ``by_index`` (SQLite):
    the run names are looked up in the trigram index first, the LIKE then decides."""
    name: Any = _contains(FlowRun.name, match.text, dialect)
    if by_index:
        found = select(RUN_NAMES.c.rowid).where(
            text("flow_run_names MATCH :phrase").bindparams(phrase=_fts_phrase(match.text)))
        name = and_(FLOW_RUN_ROWID.in_(found), name)
    terms = [name]
    if match.flow_ids:
        terms.append(FlowRun.flow_id.in_(list(match.flow_ids)))
    if match.deployment_ids:
        terms.append(FlowRun.deployment_id.in_(list(match.deployment_ids)))
    return or_(*terms) if len(terms) > 1 else terms[0]


def select_runs() -> Select[Any]:
    query: Select[Any] = select(*RUN_COLUMNS)  # type: ignore[assignment]
    return (query.join(Flow, Flow.id == FlowRun.flow_id)
            .outerjoin(Deployment, Deployment.id == FlowRun.deployment_id))


def _contains(column: Any, text: str, dialect: str) -> Any:
    """Case-insensitive substring match: SQLite's LIKE already ignores ASCII case (cheaper
    than lower() on every row); PostgreSQL's ILIKE."""
    if dialect == "sqlite":
        return column.contains(text, autoescape=True)
    # the pattern goes into the SQL text: a prepared statement's generic plan, made for any
    # pattern, would not use the trigram index
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = bindparam(None, f"%{escaped}%", type_=String(), literal_execute=True)
    return column.ilike(pattern, escape="/")


def filtered_runs(query: Select[Any], where: RunFilter, dialect: str = "sqlite",
                  walk_created: bool = False, text_match: TextMatch | None = None,
                  text_by_index: bool = False, tags_by_index: bool = True) -> Select[Any]:
    """``query`` filtered by ``where``. ``walk_created``: compare the indexed columns as
    expressions (``state_type || ''``), which SQLite cannot look up by their own index, so
    it walks the creation-time index in page order instead."""
    state_type: Any = FlowRun.state_type
    flow_id: Any = FlowRun.flow_id
    deployment_id: Any = FlowRun.deployment_id
    if walk_created:
        state_type, flow_id, deployment_id = state_type + "", flow_id + 0, deployment_id + ""
    if where.flows:
        query = query.where(flow_id.in_(select(Flow.id).where(Flow.name.in_(list(where.flows)))))
    if where.state_types:
        query = query.where(state_type.in_(list(where.state_types)))
    if where.deployments:
        query = query.where(deployment_id.in_(
            select(Deployment.id).where(Deployment.name.in_(list(where.deployments)))))
    for tag in where.tags:
        query = query.where(_tagged(tag) if tags_by_index else _has_tag(tag))
    if where.text and text_match is not None:
        query = query.where(_text_condition(text_match, dialect, text_by_index))
    elif where.text:
        # flows and deployments are few: match their names first, then compare ids, so the
        # scan of flow_runs evaluates one LIKE a row, not two joins and three LIKEs
        pattern = where.text
        flows = select(Flow.id).where(Flow.name.icontains(pattern, autoescape=True))
        deployments = select(Deployment.id).where(
            Deployment.name.icontains(pattern, autoescape=True))
        query = query.where(or_(_contains(FlowRun.name, pattern, dialect),
                                FlowRun.flow_id.in_(flows),
                                FlowRun.deployment_id.in_(deployments)))
    if where.since is not None:
        query = query.where(FlowRun.created >= where.since)
    if where.until is not None:
        query = query.where(FlowRun.created < where.until)
    if where.kind == "runs":
        query = query.where(or_(FlowRun.tags.is_(None), not_(_has_tag(SESSION_TAG))))
    elif where.kind == "sessions":
        # PostgreSQL misjudges LIKE on the JSON text and sorts every session; SQLite walks
        # the creation-time index and meets sessions soon enough
        query = query.where(_has_tag(SESSION_TAG) if dialect == "sqlite"
                            else _tagged(SESSION_TAG))
    return query


def list_runs(conn: Connection, where: RunFilter, limit: int,
              before: tuple[dt.datetime, str] | None) -> list[Any]:
    """Up to ``limit`` runs matching ``where``, newest first, older than ``before``."""
    # SQLite would find the matches by the state/flow/deployment index and sort them all;
    # when they are many, walking the creation-time index and stopping after one page is
    # far cheaper (PostgreSQL's planner makes that choice by itself)
    dialect = conn.dialect.name
    match = resolve_text(conn, where.text) if where.text else None
    walk = dialect == "sqlite" and _many_match(conn, where)
    # a text few runs match: look their names up in the trigram index and sort the few;
    # one many runs match: walk the creation-time index, a page fills up soon
    by_index = bool(match is not None and match.fts and not walk
                    and not _many_text_matches(conn, match))
    # SQLite: a tag many runs carry is found sooner by walking the creation-time index
    # than by sorting all its runs (PostgreSQL's planner weighs that itself)
    tags_by_index = dialect != "sqlite" or not (walk or _many_tagged(conn, where.tags))
    query = filtered_runs(select_runs(), where, dialect, walk_created=walk,
                          text_match=match, text_by_index=by_index,
                          tags_by_index=tags_by_index)
    if before is not None:
        created, run_id = before
        query = query.where(FlowRun.created <= created,
                            or_(FlowRun.created < created, FlowRun.id < run_id))
    query = query.order_by(FlowRun.created.desc(), FlowRun.id.desc()).limit(limit)
    return list(conn.execute(query))


INDEX_WALK_THRESHOLD = 2000  # matches past which a page walks the creation-time index


def _many_match(conn: Connection, where: RunFilter) -> bool:
    """Whether the indexed filters (state, flow, deployment) match many runs: one count
    over their index, stopped at the threshold."""
    if not (where.state_types or where.flows or where.deployments):
        return False
    query = select(FlowRun.id)
    if where.state_types:
        query = query.where(FlowRun.state_type.in_(list(where.state_types)))
    if where.flows:
        query = query.where(FlowRun.flow_id.in_(
            select(Flow.id).where(Flow.name.in_(list(where.flows)))))
    if where.deployments:
        query = query.where(FlowRun.deployment_id.in_(
            select(Deployment.id).where(Deployment.name.in_(list(where.deployments)))))
    limited = query.limit(INDEX_WALK_THRESHOLD + 1).subquery()
    count = conn.execute(select(func.count()).select_from(limited)).scalar_one()
    return bool(count > INDEX_WALK_THRESHOLD)


def _many_tagged(conn: Connection, tags: Sequence[str]) -> bool:
    """Whether the rarest of ``tags`` is on more runs than the threshold (no tags: False)."""
    for tag in tags:
        limited = (select(FlowRunTag.flow_run_id).where(FlowRunTag.tag == tag)
                   .limit(INDEX_WALK_THRESHOLD + 1).subquery())
        if conn.execute(select(func.count()).select_from(limited)).scalar_one() \
                <= INDEX_WALK_THRESHOLD:
            return False
    return bool(tags)


def _many_text_matches(conn: Connection, match: TextMatch) -> bool:
    """Whether (an upper bound of) the runs ``match`` finds passes the threshold: the
    trigram index's candidates plus the runs of the matched flows and deployments, each
    count stopped at the threshold."""
    total = 0
    phrase = _fts_phrase(match.text)
    counts = [select(RUN_NAMES.c.rowid).where(
        text("flow_run_names MATCH :phrase").bindparams(phrase=phrase))]
    if match.flow_ids:
        counts.append(select(FlowRun.id).where(FlowRun.flow_id.in_(list(match.flow_ids))))
    if match.deployment_ids:
        counts.append(select(FlowRun.id).where(
            FlowRun.deployment_id.in_(list(match.deployment_ids))))
    for query in counts:
        limited = query.limit(INDEX_WALK_THRESHOLD + 1 - total).subquery()
        total += conn.execute(select(func.count()).select_from(limited)).scalar_one()
        if total > INDEX_WALK_THRESHOLD:
            return True
    return False


def get_run(conn: Connection, run_id: str) -> Any | None:
    return conn.execute(select_runs().where(FlowRun.id == run_id)).first()


def find_run_ids(conn: Connection, prefix: str) -> list[str]:
    """Ids equal to ``prefix``, else (at most two) starting with it."""
    exact = conn.execute(select(FlowRun.id).where(FlowRun.id == prefix)).scalar()
    if exact is not None:
        return [exact]
    query = select(FlowRun.id).where(FlowRun.id.startswith(prefix, autoescape=True)).limit(2)
    return list(conn.execute(query).scalars())


def run_details(conn: Connection, run_id: str) -> Any:
    return conn.execute(select(FlowRun.parameters, FlowRun.executed_notebook,
                               FlowRun.pause_input_schema, FlowRun.pause_expires)
                        .where(FlowRun.id == run_id)).first()


def task_run_counts(conn: Connection, run_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """{flow run id: {state type: count}} for the given flow runs."""
    counts: dict[str, dict[str, int]] = {run_id: {} for run_id in run_ids}
    if not run_ids:
        return counts
    query = (select(TaskRun.flow_run_id, TaskRun.state_type, func.count())
             .where(TaskRun.flow_run_id.in_(list(run_ids)))
             .group_by(TaskRun.flow_run_id, TaskRun.state_type))
    for flow_run_id, state_type, count in conn.execute(query):
        counts[str(flow_run_id)][state_type] = count
    return counts


def task_runs(conn: Connection, flow_run_id: str, limit: int) -> list[Any]:
    query = (select(TaskRun.id, TaskRun.name, TaskRun.task_name, TaskRun.task_key,
                    TaskRun.map_index, TaskRun.state_type, TaskRun.state_name,
                    TaskRun.state_message, TaskRun.created, TaskRun.start_time,
                    TaskRun.end_time, TaskRun.run_count, TaskRun.tags)
             .where(TaskRun.flow_run_id == flow_run_id)
             .order_by(TaskRun.created, TaskRun.map_index).limit(limit))
    return list(conn.execute(query))


def subflow_runs(conn: Connection, flow_run_id: str) -> list[Any]:
    return list(conn.execute(select_runs().add_columns(FlowRun.parent_task_run_id)
                             .where(FlowRun.parent_flow_run_id == flow_run_id)
                             .order_by(FlowRun.created)))


def count_task_runs(conn: Connection, flow_run_id: str) -> int:
    return int(conn.execute(select(func.count()).select_from(TaskRun)
                            .where(TaskRun.flow_run_id == flow_run_id)).scalar_one())


def logs(conn: Connection, flow_run_id: str, after: int, limit: int, text: str | None,
         level: int | None) -> list[Any]:
    query = (select(LogLine.id, LogLine.timestamp, LogLine.level, LogLine.logger,
                    LogLine.message, LogLine.task_run_id, TaskRun.name.label("task_name"))
             .outerjoin(TaskRun, TaskRun.id == LogLine.task_run_id)
             .where(LogLine.flow_run_id == flow_run_id, LogLine.id > after))
    if text:
        query = query.where(LogLine.message.icontains(text, autoescape=True))
    if level is not None:
        query = query.where(LogLine.level >= level)
    return list(conn.execute(query.order_by(LogLine.id).limit(limit)))


def last_log_id(conn: Connection, flow_run_id: str) -> int:
    return int(conn.execute(select(func.coalesce(func.max(LogLine.id), 0))
                            .where(LogLine.flow_run_id == flow_run_id)).scalar_one())


def status_counts(conn: Connection) -> dict[str, int]:
    """Runs by state type among the ones the status bar counts (sessions left out)."""
    not_session = or_(FlowRun.tags.is_(None), not_(_has_tag(SESSION_TAG)))
    query = (select(FlowRun.state_type, func.count())
             .where(FlowRun.state_type.in_([*ACTIVE_TYPES, "PAUSED", "SCHEDULED"]), not_session)
             .group_by(FlowRun.state_type))
    return {state_type: count for state_type, count in conn.execute(query)}


def change_signature(conn: Connection) -> tuple[Any, ...]:
    """What changes whenever anything the sidebar shows changes: the newest state-history
    row and log line, and the versions (count, newest update) of deployments, workers,
    variables, blocks, alerts, alert deliveries and artifacts. One aggregate each."""
    states = conn.execute(select(func.max(RunState.id))).scalar() or 0
    log_id = conn.execute(select(func.max(LogLine.id))).scalar() or 0
    deployments, updated = conn.execute(
        select(func.count(), func.max(Deployment.updated))).one()
    workers, stopped = conn.execute(
        select(func.count(), func.count(Worker.stopped))).one()
    versions = tuple(
        (int(count or 0), str(newest)) for count, newest in (
            conn.execute(select(func.count(), func.max(table.updated))).one()
            for table in (Variable, BlockDocument, Alert, AlertDelivery, Artifact)))
    return (int(states), int(log_id), int(deployments or 0), str(updated), int(workers or 0),
            int(stopped or 0), versions)


def deployment_last_runs(conn: Connection, deployment_ids: Sequence[str],
                         per_deployment: int = 5) -> dict[str, list[Any]]:
    """The newest runs of each deployment (by creation), at most ``per_deployment`` each."""
    found: dict[str, list[Any]] = {d: [] for d in deployment_ids}
    for deployment_id in deployment_ids:  # an index range each: cheap for tens of them
        query = (select_runs().where(FlowRun.deployment_id == deployment_id,
                                     FlowRun.state_type != "SCHEDULED")
                 .order_by(FlowRun.created.desc(), FlowRun.id.desc()).limit(per_deployment))
        found[deployment_id] = list(conn.execute(query))
    return found

