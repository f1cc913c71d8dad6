"""Schema versions: Alembic migrations applied on first use, once, across processes.

Opening the store costs one small query when the schema is current: Alembic itself is only
imported when the version table is missing or behind. Upgrades are serialised between
processes (a file lock next to a SQLite database, a transaction-scoped advisory lock on
PostgreSQL), and the version is checked again under the lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from orchestrate_nb.errors import StoreError
from orchestrate_nb.private_files import open_private

if TYPE_CHECKING:
    from alembic.config import Config

    from orchestrate_nb.store.database import Database  # which imports this module lazily

HEAD_REVISION = "0010"  # a test checks this against the migration scripts
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
_PG_MIGRATION_LOCK_KEY = 0x6F6E625F6D6967  # "onb_mig"


def ensure_schema(database: Database) -> None:
    """Bring the schema to ``HEAD_REVISION`` unless it is there already."""
    try:
        with _migration_file_lock(database):
            if current_revision(database) != HEAD_REVISION:
                _upgrade_under_file_lock(database)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the run store at {database.display_url}: {exc}") from exc


def current_revision(database: Database) -> str | None:
    with database.read() as conn:
        return _revision(conn)


def upgrade(database: Database) -> str:
    """Apply every migration not yet applied; returns the revision the database is at."""
    try:
        with _migration_file_lock(database):
            _upgrade_under_file_lock(database)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot upgrade the run store at {database.display_url}: {exc}") from exc
    return HEAD_REVISION


def _upgrade_under_file_lock(database: Database) -> None:
    with database.write() as conn:
        if database.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY})
        revision = _revision(conn)
        if revision != HEAD_REVISION:
            _run_alembic_upgrade(conn, revision)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configured in code: the scripts live in the package, no alembic.ini."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def _run_alembic_upgrade(conn: Connection, revision: str | None) -> None:
    from alembic import command
    from alembic.util import CommandError

    try:
        command.upgrade(alembic_config(conn), "head")
    except CommandError as exc:
        raise StoreError(
            f"the run store's schema is at revision {revision!r}, which this version of "
            f"orchestrate_nb does not know (upgrade orchestrate_nb): {exc}"
        ) from exc


@contextmanager
def _migration_file_lock(database: Database) -> Iterator[None]:
    """Serialise opening a SQLite file (switching it to WAL, migrating) across processes."""
    path = database.sqlite_path
    try:
        import fcntl
    except ImportError:  # Windows: BEGIN IMMEDIATE alone serialises the migration
        fcntl = None  # type: ignore[assignment]
    if path is None or fcntl is None:
        yield
        return
    fd = open_private(f"{path}.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
