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
- PostgreSQL gets ``COPY`` (psycopg writes its rows in C). History rows are copied into
  their table; runs, whose inserts must skip a row a replayed batch already wrote, into a
  temporary table of the same columns (one per connection, emptied at every commit), then
  moved with one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` (a role that may not
  create temporary tables gets ``executemany``). ``executemany`` costs ~30 µs of Python a
  row even pipelined, and multi-row ``VALUES`` more: psycopg parses
  a long query's placeholders in Python each time (it caches short ones only).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.exc import DBAPIError

SQLITE_MAX_ROWS = 256  # rows of the largest statement (its prepared form is kept per size)
TEMPORARY_TABLES = "orchestrate_nb_temporary_tables"  # in a connection's info: those it has
SQLITE_MAX_VARIABLES = 999  # SQLite before 3.32 allows no more bound values per statement


def _copy(conn: Connection, sql: str, values: Sequence[Sequence[Any]]) -> None:
    """psycopg's COPY, its errors raised as SQLAlchemy's (what ``failures.py`` classifies)."""
    with _driver_cursor(conn, sql) as cursor, cursor.copy(sql) as copy:
        write_row = copy.write_row
        for row in values:
            write_row(row)


@contextmanager
def _driver_cursor(conn: Connection, sql: str) -> Iterator[Any]:
    """The driver's own cursor (SQLAlchemy's execution costs ~25 µs a statement, which a
    batch of many small statements feels), its errors raised as SQLAlchemy would raise them
    (what ``failures.py`` classifies); bound parameters never in them."""
    dbapi_connection = conn.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        yield cursor
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
        names = ", ".join(quote(c) for c in self.columns)
        target = dialect.identifier_preparer.format_table(table)
        self._copy_sql = f"COPY {target} ({names}) FROM STDIN" if self._postgres else None
        self._stage_sql: tuple[str, str] | None = None
        if self._postgres and ignore_key is not None:
            # COPY cannot skip rows already there: a replayable table's rows go through a
            # temporary table (in pg_temp, named so it cannot shadow the target).
            stage = quote(f"orchestrate_nb_stage_{table.name}")
            self._copy_sql = f"COPY {stage} ({names}) FROM STDIN"
            self._stage_sql = (
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} "
                f"(LIKE {target} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
                f"INSERT INTO {target} ({names}) SELECT {names} FROM {stage}{self._tail}")
        self._sizes: tuple[int, ...] | None = None  # SQLite: the statement sizes, largest first
        self._multi_sql: dict[int, str] = {}
        self._can_stage: bool | None = None

    def execute(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` (each in ``columns`` order, values as the driver takes them)."""
        if not rows:
            return
        if self._stage_sql is not None and self._can_stage is None:
            self._can_stage = may_create_temporary_tables(conn)
        if self._stage_sql is not None and not self._can_stage:
            conn.exec_driver_sql(self._head + self._row_sql + self._tail, list(map(tuple, rows)))
        elif self._stage_sql is not None:
            create, move = self._stage_sql
            _create_once(conn, create)
            _copy(conn, self._copy_sql, rows)  # type: ignore[arg-type]
            conn.exec_driver_sql(move)
        elif self._copy_sql is not None:
            _copy(conn, self._copy_sql, rows)
        else:
            self._sqlite_insert(conn, rows)

    def _sqlite_insert(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        _execute_in_chunks(conn, self._sizes or self._sqlite_sizes(conn), self._multi_sql, rows)

    def _sqlite_sizes(self, conn: Connection) -> tuple[int, ...]:
        sizes = _sqlite_statement_sizes(conn, len(self.columns))
        for size in sizes:
            self._multi_sql[size] = self._head + ", ".join([self._row_sql] * size) + self._tail
        self._sizes = sizes
        return sizes


class BulkUpdate:
    """``UPDATE table`` of many rows by ``key``, each row's values in ``columns`` order.

    ``assignments`` maps a column to its new value, written with ``{old}`` (the row's value)
    and ``{new}`` (the given one), e.g. ``"coalesce({old}, {new})"``. SQLite (3.33+) joins
    multi-row ``VALUES`` of fixed sizes; PostgreSQL a temporary table filled by ``COPY``; an
    older SQLite gets one ``executemany``.
    """

    def __init__(self, table: Table, columns: Sequence[str], key: str,
                 assignments: dict[str, str], dialect: Dialect) -> None:
        quote = dialect.identifier_preparer.quote
        self.columns = tuple(columns)
        self._postgres = dialect.name == "postgresql"
        target = dialect.identifier_preparer.format_table(table)
        index = {name: i for i, name in enumerate(self.columns)}
        if self._postgres:
            source = {name: f"s.{quote(name)}" for name in self.columns}
        else:  # the columns of SQLite's VALUES are column1, column2, ...
            source = {name: f"s.column{index[name] + 1}" for name in self.columns}
        sets = ", ".join(
            f"{quote(name)} = " + assignments.get(name, "{new}").format(
                old=f"t.{quote(name)}", new=source[name])
            for name in self.columns if name != key)
        join = f"t.{quote(key)} = {source[key]}"
        names = ", ".join(quote(c) for c in self.columns)
        if self._postgres:
            stage = quote(f"orchestrate_nb_stage_{table.name}_changes")
            self._create = (f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS "
                            f"AS SELECT {names} FROM {target} WITH NO DATA")
            self._copy = f"COPY {stage} ({names}) FROM STDIN"
            self._update = f"UPDATE {target} AS t SET {sets} FROM {stage} AS s WHERE {join}"
        else:
            self._head = f"UPDATE {target} AS t SET {sets} FROM (VALUES "
            self._tail = f") AS s WHERE {join}"
            self._row_sql = f"({', '.join(['?'] * len(self.columns))})"
        # One row a time: for an older SQLite, and a role that may not create temporary tables.
        marker = "%s" if self._postgres else "?"
        plain_sets = ", ".join(
            f"{quote(name)} = " + assignments.get(name, "{new}").format(old=quote(name),
                                                                        new=marker)
            for name in self.columns if name != key)
        self._plain = f"UPDATE {target} SET {plain_sets} WHERE {quote(key)} = {marker}"
        self._order = itemgetter(*(index[n] for n in self.columns if n != key), index[key])
        self._sizes: tuple[int, ...] | None = None
        self._multi_sql: dict[int, str] = {}
        self._can_stage: bool | None = None

    def execute(self, conn: Connection, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self._postgres:
            if self._can_stage is None:
                self._can_stage = may_create_temporary_tables(conn)
            if not self._can_stage:
                conn.exec_driver_sql(self._plain, list(map(self._order, rows)))
                return
            _create_once(conn, self._create)
            _copy(conn, self._copy, rows)
            conn.exec_driver_sql(self._update)
            return
        if sqlite_version_info() < (3, 33):  # no UPDATE ... FROM
            conn.exec_driver_sql(self._plain, list(map(self._order, rows)))
            return
        _execute_in_chunks(conn, self._sizes or self._sqlite_sizes(conn), self._multi_sql, rows)

    def _sqlite_sizes(self, conn: Connection) -> tuple[int, ...]:
        sizes = _sqlite_statement_sizes(conn, len(self.columns))
        for size in sizes:
            self._multi_sql[size] = self._head + ", ".join([self._row_sql] * size) + self._tail
        self._sizes = sizes
        return sizes


def _execute_in_chunks(conn: Connection, sizes: Sequence[int], sql: dict[int, str],
                       rows: Sequence[Sequence[Any]]) -> None:
    """One statement of ``sql[size]`` for each chunk of ``rows``: as many of the largest size
    as fit, then at most one of each smaller size."""
    start, left = 0, len(rows)
    with _driver_cursor(conn, sql[sizes[0]]) as cursor:
        for size in sizes:
            while left >= size:
                part = rows[start:start + size]
                cursor.execute(sql[size], tuple(chain.from_iterable(part)))
                start += size
                left -= size


def _create_once(conn: Connection, create: str) -> None:
    """A temporary table lives as long as its connection: created on a connection's first
    batch only (a round trip less per batch; a new connection has a new ``info``)."""
    made = conn.connection.info.setdefault(TEMPORARY_TABLES, set())
    if create not in made:
        conn.exec_driver_sql(create)
        made.add(create)


def may_create_temporary_tables(conn: Connection) -> bool:
    """PostgreSQL: whether this role may create temporary tables here (a hardened database
    may revoke TEMPORARY from PUBLIC)."""
    return bool(conn.exec_driver_sql(
        "SELECT has_database_privilege(current_database(), 'TEMPORARY')").scalar())


def sqlite_version_info() -> tuple[int, ...]:
    import sqlite3

    return sqlite3.sqlite_version_info


def _sqlite_statement_sizes(conn: Connection, columns: int) -> tuple[int, ...]:
    """Powers of two, largest first, up to ``SQLITE_MAX_ROWS`` rows and the driver's limit
    of bound values."""
    import sqlite3

    getlimit = getattr(conn.connection.dbapi_connection, "getlimit", None)  # Python 3.11+
    which = getattr(sqlite3, "SQLITE_LIMIT_VARIABLE_NUMBER", None)
    limit = SQLITE_MAX_VARIABLES if getlimit is None or which is None else getlimit(which)
    largest = 1
    while largest * 2 <= min(SQLITE_MAX_ROWS, limit // columns):
        largest *= 2
    sizes = []
    while largest >= 1:
        sizes.append(largest)
        largest //= 2
    return tuple(sizes)
