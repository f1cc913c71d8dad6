"""Giving disk space back after ``db prune``.

SQLite keeps deleted pages inside the file for reuse: the file only shrinks when VACUUM
rewrites it. In WAL mode VACUUM's new pages land in the write-ahead log first, so a
TRUNCATE checkpoint follows, or the log would hold the space instead. PostgreSQL's
autovacuum makes the freed rows reusable on its own (only VACUUM FULL would shrink its
files, and it locks the tables), so nothing is done there.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orchestrate_nb.errors import StoreError
from orchestrate_nb.store.database import Database


def reclaim_space(database: Database) -> int | None:
    """VACUUM a file-backed SQLite store; the bytes its files shrank by (None elsewhere)."""
    path = database.sqlite_path
    if path is None:
        return None
    before = _size_on_disk(path)
    # the driver's own connection: SQLAlchemy's would open a transaction VACUUM refuses
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("VACUUM")
        # VACUUM may renumber the rowids of flow_runs (its key is a string), which the
        # trigram index of run names (migration 0010) refers to: build that index anew
        if cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                          "AND name = 'flow_run_names'").fetchone() is not None:
            cursor.execute("INSERT INTO flow_run_names (flow_run_names) VALUES ('rebuild')")
            raw.commit()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    except sqlite3.Error as exc:
        raise StoreError(f"run store VACUUM failed ({database.display_url}): {exc}") from exc
    finally:
        raw.close()
    return max(0, before - _size_on_disk(path))


def _size_on_disk(path: Path) -> int:
    """The database file plus its write-ahead log."""
    files = (path, path.with_name(path.name + "-wal"))
    return sum(file.stat().st_size for file in files if file.exists())
