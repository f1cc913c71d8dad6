"""Inserting many rows the way each driver does it fastest.

The rows come from ``batch.py`` as tuples in the statement's column order, their values
already converted by SQLAlchemy's own bind processors of those columns, so nothing here
loops over rows in Python. The writer thread holds the GIL the flow's own threads need
whenever it is not inside the driver, and it must take the GIL back every time the driver
returns, which costs up to a switch interval (5 ms) while a flow keeps a core busy: so a
batch is written in few driver calls, each doing much with the GIL released.

- SQLite gets multi-row ``INSERT ... VALUES (...), (...)`` statements of a few fixed sizes
  (powers of two up to ``SQLITE_MAX_ROWS``, each prepared once and kept in the driver's
  statement cache): SQLite inserts all of a statement's rows in one step, without the
  GIL; ``executemany`` would give the GIL up and take it back for every row.
- PostgreSQL gets ``COPY`` (psycopg writes its rows in C) for history rows, and
  ``executemany`` (pipelined by psycopg) for runs, whose inserts must skip a row a replayed
  batch already wrote. Multi-row ``VALUES`` would cost more there: psycopg parses a long
  query's placeholders in Python each time (it caches short ones only).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.exc import DBAPIError

SQLITE_MAX_ROWS = 256  # rows of the largest statement (its prepared form is kept per size)
SQLITE_MAX_VARIABLES = 999  # SQLite before 3.32 allows no more bound values per statement


def _copy(conn: Connection, sql: str, values: Sequence[Sequence[Any]]) -> None:
    """psycopg's COPY, its errors raised as SQLAlchemy's (what ``failures.py`` classifies)."""
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        with cursor.copy(sql) as copy:
            write_row = copy.write_row
            for row in values:
                write_row(row)
    except conn.dialect.loaded_dbapi.Error as exc:
        invalidated = conn.dialect.is_disconnect(exc, dbapi_connection, cursor)
        if invalidated:
            conn.invalidate(exc)
        raise DBAPIError.instance(sql, None, exc, conn.dialect.loaded_dbapi.Error,
                                  hide_parameters=True, connection_invalidated=invalidated,
                                  dialect=conn.dialect) from exc
    finally:
        cursor.close()


class BulkInsert:
    """``INSERT INTO table (columns)`` of many rows; ``ignore_key``: skip rows already there."""

    def __init__(self, table: Table, columns: Sequence[str], dialect: Dialect,
                 ignore_key: str | None = None) -> None:
        quote = dialect.identifier_preparer.quote
        self.columns = tuple(columns)
        self._postgres = dialect.name == "postgresql"
        self._head = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
                      f"({', '.join(quote(c) for c in self.columns)}) VALUES ")
        marker = "%s" if self._postgres else "?"
        self._row_sql = f"({', '.join([marker] * len(self.columns))})"
        self._tail = f" ON CONFLICT ({quote(ignore_key)}) DO NOTHING" if ignore_key else ""
        self._sql = self._head + self._row_sql + self._tail
        # COPY cannot skip rows already there: only for tables whose rows are never replayed.
        self._copy_sql = (f"COPY {dialect.identifier_preparer.format_table(table)} "
                          f"({', '.join(quote(c) for c in self.columns)}) FROM STDIN"
                          if self._postgres and ignore_key is None else None)
        self._sizes: tuple[int, ...] | None = None  # SQLite: the statement sizes, largest first
        self._multi_sql: dict[int, str] = {}

    def execute(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` (each in ``columns`` order, values as the driver takes them)."""
        if not rows:
            return
        if self._copy_sql is not None:
            _copy(conn, self._copy_sql, rows)
        elif self._postgres:
            conn.exec_driver_sql(self._sql, list(map(tuple, rows)))
        else:
            self._sqlite_insert(conn, rows)

    def _sqlite_insert(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        sizes = self._sizes or self._sqlite_sizes(conn)
        start, left = 0, len(rows)
        for size in sizes:
            while left >= size:
                part = rows[start:start + size]
                conn.exec_driver_sql(self._multi_sql[size], tuple(chain.from_iterable(part)))
                start += size
                left -= size

    def _sqlite_sizes(self, conn: Connection) -> tuple[int, ...]:
        dbapi_connection = conn.connection.dbapi_connection
        import sqlite3

        getlimit = getattr(dbapi_connection, "getlimit", None)  # Python 3.11+
        which = getattr(sqlite3, "SQLITE_LIMIT_VARIABLE_NUMBER", None)
        limit = SQLITE_MAX_VARIABLES if getlimit is None or which is None else getlimit(which)
        largest = 1
        while largest * 2 <= min(SQLITE_MAX_ROWS, limit // len(self.columns)):
            largest *= 2
        sizes = []
        while largest >= 1:
            sizes.append(largest)
            self._multi_sql[largest] = (
                self._head + ", ".join([self._row_sql] * largest) + self._tail)
            largest //= 2
        self._sizes = tuple(sizes)
        return self._sizes
