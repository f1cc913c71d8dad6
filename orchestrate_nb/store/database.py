"""Engines for the run store: a SQLite file by default, PostgreSQL when machines share it.

SQLite is set up so that several processes and a notebook can write at once without
"database is locked": WAL (readers never block the writer), a 30 s busy timeout on every
connection, and write transactions that start with ``BEGIN IMMEDIATE``. pysqlite's deferred
``BEGIN`` would take the write lock only at the first write, and a read→write upgrade that
meets another writer fails at once with SQLITE_BUSY instead of waiting.

Engines never put bound parameters in their errors (``hide_parameters``): they hold run
parameters and log lines, which may be secret, and errors end up in logs. A URL is only
ever shown with its password masked.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from orchestrate_nb.errors import StoreError
from orchestrate_nb.private_files import private_dir, private_file
from orchestrate_nb.settings import Settings, load_settings, mask_url

BUSY_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 5  # PostgreSQL, unless the URL says otherwise (libpq waits forever)
# The page cache of a connection, in KiB. SQLite's pages are in the OS's file cache anyway;
# a bigger cache here only grows the process (16 MiB held ~14 MB at 100,000 mapped tasks).
SQLITE_CACHE_KIB = 2048
_WRITE_OPTION = "orchestrate_nb_write"


class Database:
    """An engine plus the two kinds of transaction the store uses."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def sqlite_path(self) -> Path | None:
        """The database file, for a file-backed SQLite database."""
        database = self.engine.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            return None
        return Path(database)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot; never blocks SQLite writers)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it holds the write lock from its first statement."""
        with self.engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True})
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def store_errors(database: Database, action: str = "query") -> Iterator[None]:
    """A database error inside becomes one line: a ``StoreError`` naming the store."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreError(f"run store {action} failed ({database.display_url}): {exc}") from exc


def normalise_url(url: str) -> URL:
    """``postgresql://`` means psycopg 3 here (the driver we depend on), not psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def create_database(settings: Settings) -> Database:
    """An engine for ``settings.database_url``; no connection is made yet."""
    try:
        url = normalise_url(settings.database_url)
        if url.get_backend_name() == "sqlite":
            return Database(_sqlite_engine(url, settings.home))
        _quiet_pipeline_exit()
        connect_args = {} if "connect_timeout" in url.query else {
            "connect_timeout": CONNECT_TIMEOUT_SECONDS}
        return Database(create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps,
                                      json_deserializer=_json_loads, hide_parameters=True,
                                      connect_args=connect_args))
    except (SQLAlchemyError, ImportError, ValueError, OSError) as exc:  # OSError: its folder
        raise StoreError(f"cannot use database URL {settings.masked_database_url!r}: "
                         f"{mask_url(str(exc))}") from exc


class _PipelineExitFilter(logging.Filter):
    """psycopg runs an ``executemany`` in a pipeline; when the statement fails (a lost
    connection), leaving the pipeline fails too and psycopg logs "error ignored terminating
    <psycopg.Pipeline [BAD]>" on top of raising the first error. That error is ours to
    handle (the writer retries it; a command says it in one line): the note is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("error ignored terminating")


def _quiet_pipeline_exit() -> None:
    psycopg_logger = logging.getLogger("psycopg")
    if not any(isinstance(f, _PipelineExitFilter) for f in psycopg_logger.filters):
        psycopg_logger.addFilter(_PipelineExitFilter())


def open_database(settings: Settings | None = None) -> Database:
    """An engine whose schema is at the newest revision (migrated on first use)."""
    from orchestrate_nb.store.schema import ensure_schema

    database = create_database(settings or load_settings())
    try:
        ensure_schema(database)
    except BaseException:
        database.dispose()
        raise
    return database


def _sqlite_engine(url: URL, home: Path) -> Engine:
    private_dir(home)
    if url.database and url.database != ":memory:":
        private_file(Path(url.database).expanduser())  # SQLite gives its -wal, -shm and journal files the same mode
    engine = create_engine(
        url, json_serializer=_json_dumps, json_deserializer=_json_loads, hide_parameters=True,
        connect_args={"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _json_dumps(value: Any) -> str:
    # Compact, and never failing: a value JSON cannot hold is recorded as its str().
    try:
        return json.dumps(value, default=str, separators=(",", ":"), allow_nan=False)
    except ValueError:  # inf or nan: PostgreSQL refuses JSON's unofficial Infinity and NaN
        return json.dumps(_tag_non_finite(value), default=str, separators=(",", ":"))


def _json_loads(text: str | bytes) -> Any:
    if (_FLOAT_TAG_BYTES if isinstance(text, bytes) else _FLOAT_TAG) not in text:  # type: ignore[operator]
        return json.loads(text)
    return json.loads(text, object_hook=_untag_non_finite)


# A float JSON cannot hold (inf, -inf, nan) is stored as {"$float": "inf"}, on every backend.
_FLOAT_TAG = "$float"
_FLOAT_TAG_BYTES = _FLOAT_TAG.encode()


def _tag_non_finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {_FLOAT_TAG: repr(value)}
    if isinstance(value, dict):
        return {key: _tag_non_finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_tag_non_finite(item) for item in value]
    return value


def _untag_non_finite(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and isinstance(obj.get(_FLOAT_TAG), str):
        return float(obj[_FLOAT_TAG])
    return obj


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own BEGIN is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
    finally:
        cursor.close()


def _begin_sqlite_transaction(conn: Connection) -> None:
    write = conn.get_execution_options().get(_WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
