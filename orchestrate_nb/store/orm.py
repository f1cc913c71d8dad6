"""The run store's schema as SQLAlchemy 2 typed models.

Strings have no length limit (PostgreSQL would refuse a long name and lose the record).
Rows are kept lean (a task run costs well under 2 KB with its state history and indexes):
history and log tables use integer keys, empty tags are NULL, the owner of a run is only
recorded where it is needed to detect a crash (flow runs, and task runs outside any flow).

The migrations in ``migrations/versions`` create exactly this schema; a test compares them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

UTC = dt.timezone.utc

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The text SQLAlchemy's SQLite DATETIME writes (it sorts chronologically).
_SQLITE_TEXT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _sqlite_bind(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None and value.tzinfo is not UTC:  # the engine's are UTC already
        value = value.astimezone(UTC)
    # %-formatting the fields costs two thirds of isoformat() and slicing off the offset.
    return _SQLITE_TEXT % (value.year, value.month, value.day, value.hour, value.minute,
                           value.second, value.microsecond)


def _sqlite_result(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromisoformat(value).replace(tzinfo=UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend (naive values are taken as UTC).

    PostgreSQL stores ``timestamptz``; SQLite stores SQLAlchemy's usual ISO text, written by
    one %-format and read by ``fromisoformat`` (not SQLAlchemy's regular expression) because
    the writer converts millions.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_bind
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_result
        return super().result_processor(dialect, coltype)

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_ESCAPE = "\ue000"  # a private-use character: escapes NUL (and itself) in message text
_ESCAPED = re.compile("\ue000(.)", re.DOTALL)


class NulSafeText(TypeDecorator[str]):
    """Text that may hold NUL characters (a log line, an exception message), on every backend.

    PostgreSQL's text cannot hold NUL, so NUL is stored as U+E000 "0" and U+E000 itself as
    U+E000 U+E000 (on SQLite too, so both read back the same); text without either is
    stored as it is.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or ("\x00" not in value and _ESCAPE not in value):
            return value
        return value.replace(_ESCAPE, _ESCAPE * 2).replace("\x00", _ESCAPE + "0")

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or _ESCAPE not in value:
            return value
        return _ESCAPED.sub(lambda m: "\x00" if m[1] == "0" else m[1], value)


# SQLite only makes ``INTEGER PRIMARY KEY`` an alias of the rowid (8 bytes saved per row).
BigIntKey = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON(none_as_null=True)}


class RunStateColumns:
    """The current state, denormalised from the state history for queries."""

    name: Mapped[str]
    tags: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    created: Mapped[dt.datetime]
    state_type: Mapped[str]
    state_name: Mapped[str]
    state_message: Mapped[str | None] = mapped_column(NulSafeText)
    start_time: Mapped[dt.datetime | None]  # first RUNNING
    end_time: Mapped[dt.datetime | None]  # entering the current final state
    run_count: Mapped[int] = mapped_column(default=0)  # RUNNING transitions


class OwnerColumns:
    """The process running the run: a dead owner means the run crashed.

    ``owner_token`` is the process start time, so a recycled pid is not taken for the owner.
    """

    owner_host: Mapped[str | None]
    owner_pid: Mapped[int | None]
    owner_token: Mapped[str | None]
    heartbeat: Mapped[dt.datetime | None]


class Flow(Base):
    __tablename__ = "flows"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    created: Mapped[dt.datetime]

    runs: Mapped[list[FlowRun]] = relationship(back_populates="flow", viewonly=True)


class FlowRun(RunStateColumns, OwnerColumns, Base):
    __tablename__ = "flow_runs"

    id: Mapped[str] = mapped_column(primary_key=True)
    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id"), index=True)
    parameters: Mapped[dict[str, Any] | None]
    parent_flow_run_id: Mapped[str | None]
    parent_task_run_id: Mapped[str | None]
    deployment_id: Mapped[str | None]
    # Runs of deployments: when a worker should start it, the pool it is for, retries so far.
    scheduled_time: Mapped[dt.datetime | None]
    pool: Mapped[str | None]
    attempt: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    executed_notebook: Mapped[str | None]  # a notebook run's output, stored by the worker
    # A paused run (``pause_flow_run``): the JSON schema of the input it waits for (NULL:
    # none), when the pause times out, and the input ``runs resume`` gave it.
    pause_input_schema: Mapped[dict[str, Any] | None]
    pause_expires: Mapped[dt.datetime | None]
    resume_input: Mapped[dict[str, Any] | None]

    flow: Mapped[Flow] = relationship(back_populates="runs", viewonly=True)

    __table_args__ = (
        Index(None, "created"),
        Index(None, "state_type"),
        Index(None, "state_type", "scheduled_time"),  # "due runs", for workers
        Index(None, "deployment_id", "state_type"),  # a deployment's runs; /metrics' counts
        Index(None, "end_time"),  # the alert sweep: runs that finished lately
    )


class FlowRunTag(Base):
    """One row per tag of a flow run, for the runs list's tag filter. Kept in step with
    ``flow_runs.tags`` by triggers in the database (migration 0010), never written by the
    store itself. On SQLite, ``flow_run_names`` (an FTS5 trigram index of run names, also
    kept by triggers) sits beside it; see ``DATABASE_ONLY_NAMES``."""

    __tablename__ = "flow_run_tags"

    flow_run_id: Mapped[str] = mapped_column(primary_key=True)
    tag: Mapped[str] = mapped_column(primary_key=True, index=True)


# Objects that migration 0010 makes in the database and the models do not describe (an FTS5
# table and its shadow tables, PostgreSQL's trigram index): schema comparisons skip them.
DATABASE_ONLY_NAMES = frozenset({
    "flow_run_names", "flow_run_names_data", "flow_run_names_idx", "flow_run_names_docsize",
    "flow_run_names_config", "flow_run_names_content", "ix_flow_runs_name_trgm",
})


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name`` hook: leave out ``DATABASE_ONLY_NAMES``."""
    return name not in DATABASE_ONLY_NAMES


class TaskRun(RunStateColumns, OwnerColumns, Base):
    """A task run; the owner columns are only filled for a task called outside any flow."""

    __tablename__ = "task_runs"

    id: Mapped[str] = mapped_column(primary_key=True)
    # No foreign key: a task run may be committed (by a worker process) before its flow run.
    flow_run_id: Mapped[str | None]
    task_name: Mapped[str]
    task_key: Mapped[str]
    map_index: Mapped[int] = mapped_column(default=-1)
    cache_key: Mapped[str | None]

    # One index for "the task runs of a flow run" and for crash recovery's "unfinished ones".
    __table_args__ = (Index(None, "flow_run_id", "state_type"),)


class RunState(Base):
    """Append-only state history: one row per state a flow run or task run entered.

    ``task_run_id`` is NULL for a flow run's own states; ``flow_run_id`` is NULL for a task
    called outside any flow. Indexed by flow run only: its rows are appended in order, where
    an index on (flow run, task run) would insert at random places (2x slower writes, +25%
    size); one task run's history is read from its flow run's.
    """

    __tablename__ = "run_states"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str | None]
    task_run_id: Mapped[str | None]
    type: Mapped[str]
    name: Mapped[str]
    message: Mapped[str | None] = mapped_column(NulSafeText)
    timestamp: Mapped[dt.datetime]

    __table_args__ = (Index(None, "flow_run_id"),)


class TaskRunEdge(Base):
    """A dependency: the upstream task run's result (or completion) fed the downstream one."""

    __tablename__ = "task_run_edges"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str | None]
    upstream_task_run_id: Mapped[str]
    downstream_task_run_id: Mapped[str]
    input_name: Mapped[str]

    __table_args__ = (Index(None, "flow_run_id"),)


class LogLine(Base):
    __tablename__ = "logs"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    flow_run_id: Mapped[str | None]
    task_run_id: Mapped[str | None]
    level: Mapped[int]
    logger: Mapped[str]
    message: Mapped[str] = mapped_column(NulSafeText)
    timestamp: Mapped[dt.datetime]

    __table_args__ = (Index(None, "flow_run_id", "id"),)


class ConcurrencyLimit(Base):
    """A limit on concurrent slots: tagged task runs, ``concurrency(name)`` blocks, and —
    with ``slot_decay_per_second`` — ``rate_limit(name)`` calls."""

    __tablename__ = "concurrency_limits"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    limit: Mapped[int]
    slot_decay_per_second: Mapped[float | None] = mapped_column(Float)
    created: Mapped[dt.datetime]


class ConcurrencySlot(Base):
    """One holder's occupancy of a limit, owned by a process (a dead owner frees it)."""

    __tablename__ = "concurrency_slots"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True, autoincrement=True)
    limit_name: Mapped[str] = mapped_column(index=True)
    holder: Mapped[str]
    holder_name: Mapped[str | None]
    occupy: Mapped[int]
    owner_host: Mapped[str]
    owner_pid: Mapped[int]
    owner_token: Mapped[str]
    acquired_at: Mapped[dt.datetime]
    heartbeat: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime | None]


class Deployment(Base):
    """A notebook or Python flow that runs on a schedule or on demand (SPEC §5).

    ``last_slot`` is the latest schedule slot already turned into a run: the scheduler only
    looks past it, so a pass is idempotent and a slot never becomes two runs.
    """

    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    kind: Mapped[str]  # "notebook" | "python"
    entrypoint: Mapped[str]  # a notebook path, or "path/file.py:flow_fn"
    flow_name: Mapped[str]
    parameters: Mapped[dict[str, Any] | None]
    pool: Mapped[str]
    schedule_kind: Mapped[str | None]  # "cron" | "interval" | "rrule"; NULL: on demand only
    cron: Mapped[str | None]
    interval_seconds: Mapped[float | None] = mapped_column(Float)
    rrule: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str]
    anchor: Mapped[dt.datetime | None]
    paused: Mapped[bool]
    catchup: Mapped[str]  # "latest" | "all" | "none"
    retries: Mapped[int]
    retry_delay_seconds: Mapped[float] = mapped_column(Float)
    timeout_seconds: Mapped[float | None] = mapped_column(Float)
    tags: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    created: Mapped[dt.datetime]
    updated: Mapped[dt.datetime]
    last_slot: Mapped[dt.datetime | None] = mapped_column(index=True)
    cache: Mapped[str] = mapped_column(server_default="refresh")  # "refresh" | "reuse"
    kernel: Mapped[str | None]  # NULL: the notebook's kernelspec (python3 without one)
    cwd: Mapped[str | None]  # NULL: the notebook's folder


class Worker(Base):
    """A worker process (``orchestrate-nb worker start``): it heartbeats while alive; a worker
    whose heartbeat is older than a few intervals, or whose ``stopped`` is set, is not."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(primary_key=True)  # host:pid:token
    pool: Mapped[str]
    host: Mapped[str]
    pid: Mapped[int]
    token: Mapped[str]
    started: Mapped[dt.datetime]
    heartbeat: Mapped[dt.datetime] = mapped_column(index=True)
    stopped: Mapped[dt.datetime | None]


class Artifact(Base):
    """An artifact (``orchestrate_nb.artifacts``): attached to the task run or flow run that
    made it, or standalone. Artifacts with a key are its versions, newest first by created."""

    __tablename__ = "artifacts"

    id: Mapped[str] = mapped_column(primary_key=True)
    key: Mapped[str | None]
    type: Mapped[str]  # markdown | table | link | image | progress
    data: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    description: Mapped[str | None] = mapped_column(Text)
    flow_run_id: Mapped[str | None] = mapped_column(index=True)
    task_run_id: Mapped[str | None]
    created: Mapped[dt.datetime]
    updated: Mapped[dt.datetime]

    __table_args__ = (Index(None, "key", "created"),)


class Variable(Base):
    """A named JSON value (``orchestrate_nb.variables.Variable``): plaintext, like Prefect's."""

    __tablename__ = "variables"

    name: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    tags: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    created: Mapped[dt.datetime]
    updated: Mapped[dt.datetime]


class BlockDocument(Base):
    """A saved block: its plain fields as JSON, its secret fields as one Fernet token made
    with a key that is not in the database (``orchestrate_nb.blocks.crypto``)."""

    __tablename__ = "blocks"

    id: Mapped[int] = mapped_column(primary_key=True)
    block_type: Mapped[str]  # the class's slug, e.g. "secret", "slack-webhook"
    name: Mapped[str]
    class_path: Mapped[str]  # module:qualname, so Block.load("type/name") finds the class
    data: Mapped[dict[str, Any] | None]
    secret_fields: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    encrypted: Mapped[str | None] = mapped_column(Text)
    created: Mapped[dt.datetime]
    updated: Mapped[dt.datetime]

    __table_args__ = (UniqueConstraint("block_type", "name"),)


class Alert(Base):
    """A rule: when a matching run enters one of ``events`` (or a deployment has had no
    Completed run for ``no_success_for_seconds``), notify the blocks named in ``notify``."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    events: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    deployment: Mapped[str | None]
    flow: Mapped[str | None]
    tag: Mapped[str | None]
    no_success_for_seconds: Mapped[float | None] = mapped_column(Float)
    notify: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    created: Mapped[dt.datetime]
    updated: Mapped[dt.datetime]


class AlertDelivery(Base):
    """One notification of one block for one alert, subject (a run, or a deployment's
    freshness window) and event. The unique row is the claim: whoever inserts it sends."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int]
    subject: Mapped[str]  # a flow run id, or "deployment-id@last-success" for freshness
    event: Mapped[str]
    target: Mapped[str]  # the notification block, "type/name"
    flow_run_id: Mapped[str | None]
    status: Mapped[str]  # sending | retrying | sent | failed
    attempts: Mapped[int]
    next_attempt: Mapped[dt.datetime | None]
    claimed_until: Mapped[dt.datetime | None]
    subject_text: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    created: Mapped[dt.datetime]
    updated: Mapped[dt.datetime]

    __table_args__ = (UniqueConstraint("alert_id", "subject", "event", "target"),
                      Index(None, "status", "next_attempt"))


class Webhook(Base):
    """A webhook trigger of a deployment: a POST to ``/orchestrate/hooks/<secret>`` creates a
    run. Only the secret's SHA-256 is kept; deleting the row revokes it."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(index=True)
    secret_hash: Mapped[str] = mapped_column(unique=True)
    mapping: Mapped[dict[str, Any] | None]  # parameter -> template over the body
    created: Mapped[dt.datetime]
    last_used: Mapped[dt.datetime | None]


class WebhookDelivery(Base):
    """A delivery id seen by a webhook in the last hour, and the run it created."""

    __tablename__ = "webhook_deliveries"

    webhook_id: Mapped[str] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(primary_key=True)
    flow_run_id: Mapped[str | None]
    created: Mapped[dt.datetime] = mapped_column(index=True)
