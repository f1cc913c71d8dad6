"""Inserting many rows the way each driver does it fastest, with SQLAlchemy's own bind types.

SQLAlchemy's executemany costs ~5 µs of Python a row (parameter dicts compiled per row), and
the writer thread holds the GIL the flow's own threads need. Here a statement is built once
per table; rows become tuples through ``operator.itemgetter`` (C), and only the columns
whose type converts values (timestamps, JSON, NUL-safe text) go through that type's bind
processor, the same one SQLAlchemy would call. SQLite gets one ``executemany`` (its loop is
C, and it releases the GIL while SQLite works). PostgreSQL gets ``COPY`` (psycopg writes
its rows in C) for history rows, and ``executemany`` (pipelined by psycopg) for runs, whose
inserts must skip a row a replayed batch already wrote. Multi-row ``VALUES`` would cost more:
psycopg parses a long query's placeholders in Python each time (it caches short ones only).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.exc import DBAPIError

Row = dict[str, Any]


def _copy(conn: Connection, sql: str, values: list[Any]) -> None:
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
        self._get = itemgetter(*self.columns)
        self._processors: list[tuple[int, Callable[[Any], Any]]] = []
        for index, name in enumerate(self.columns):
            column_type = table.c[name].type
            processor = column_type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self._processors.append((index, processor))

    def execute(self, conn: Connection, rows: Sequence[Row]) -> None:
        if not rows:
            return
        if self._copy_sql is None:
            conn.exec_driver_sql(self._sql, self._values(rows))
        else:
            _copy(conn, self._copy_sql, self._values(rows))

    def _values(self, rows: Sequence[Row]) -> list[Any]:
        get = self._get
        if len(self.columns) == 1:
            return [(get(row),) for row in rows]
        if not self._processors:
            return [get(row) for row in rows]
        processors = self._processors
        values = []
        for row in rows:
            value = list(get(row))
            for index, process in processors:
                value[index] = process(value[index])
            values.append(tuple(value))
        return values
