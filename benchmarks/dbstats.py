"""Read an orchestrate_nb SQLite run store with the standard `sqlite3` module only.

The benchmarks count what reached the database themselves instead of asking the engine,
so a record the engine believes written but is not in the file counts as lost.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

DB_FILENAME = "orchestrate_nb.db"  # settings.load_settings(): sqlite:///<home>/orchestrate_nb.db
STATE_COLUMNS = ("state_type", "state", "state_name", "status")


def db_path(home: Path) -> Path:
    return home / DB_FILENAME


def _connect_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def _tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return [name for (name,) in rows]


def _find_table(tables: list[str], exact: str, fragment: str) -> str | None:
    """`exact` if present, else the one table whose name contains `fragment` (no history)."""
    if exact in tables:
        return exact
    matches = [t for t in tables if fragment in t and "state" not in t and "history" not in t]
    return matches[0] if len(matches) == 1 else None


def _state_column(conn: sqlite3.Connection, table: str) -> str | None:
    columns = [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]
    return next((c for c in STATE_COLUMNS if c in columns), None)


def _count_rows(conn: sqlite3.Connection, table: str | None) -> int:
    if table is None:
        return -1
    return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def _count_by_state(conn: sqlite3.Connection, table: str) -> dict[str, int]:
    column = _state_column(conn, table)
    if column is None:
        return {}
    rows = conn.execute(f'SELECT "{column}", count(*) FROM "{table}" GROUP BY 1').fetchall()
    return {str(state): int(count) for state, count in rows}


def count_task_runs(path: Path) -> int:
    """Rows in the task-run table, or 0 while the database or table does not exist yet."""
    if not path.exists():
        return 0
    try:
        with closing(_connect_read_only(path)) as conn:
            return max(0, _count_rows(conn, _find_table(_tables(conn), "task_runs", "task_run")))
    except sqlite3.OperationalError:  # being created, or locked past the timeout
        return 0


def summarize(path: Path) -> dict[str, object]:
    """Task-run and flow-run row counts, task runs by state, and the table names used."""
    if not path.exists():
        return {"task_table": None, "task_runs": 0, "task_runs_by_state": {}, "flow_runs": 0,
                "tables": [], "missing": str(path)}
    with closing(_connect_read_only(path)) as conn:
        tables = _tables(conn)
        task_table = _find_table(tables, "task_runs", "task_run")
        flow_table = _find_table(tables, "flow_runs", "flow_run")
        return {
            "task_table": task_table,
            "task_runs": _count_rows(conn, task_table),
            "task_runs_by_state": _count_by_state(conn, task_table) if task_table else {},
            "flow_runs": _count_rows(conn, flow_table),
            "tables": tables,
        }


def checkpointed_size(path: Path) -> int:
    """Bytes of the database file plus its WAL after a TRUNCATE checkpoint."""
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
