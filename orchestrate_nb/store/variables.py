"""Variables as rows: a name and a JSON value (plaintext, like Prefect's)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.exc import IntegrityError

from orchestrate_nb.errors import VariableError
from orchestrate_nb.store.database import Database, store_errors
from orchestrate_nb.store.orm import Variable

TABLE = cast(Table, Variable.__table__)


@dataclass(frozen=True)
class VariableInfo:
    name: str
    value: Any
    tags: list[str]
    created: dt.datetime
    updated: dt.datetime


def set_variable(database: Database, name: str, value: Any, tags: list[str] | None,
                 overwrite: bool, now: dt.datetime) -> None:
    taken = VariableError(f"variable {name!r} exists already: pass overwrite=True "
                          "(--overwrite) to replace it")
    with store_errors(database, "write"):
        try:
            with database.write() as conn:
                exists = conn.execute(select(Variable.name).where(Variable.name == name)).first()
                if exists is not None and not overwrite:
                    raise taken
                if exists is None:
                    conn.execute(TABLE.insert(), [{"name": name, "value": value, "tags": tags,
                                                   "created": now, "updated": now}])
                else:
                    conn.execute(update(Variable).where(Variable.name == name)
                                 .values(value=value, tags=tags, updated=now))
        except IntegrityError:
            raise taken from None


def get_variable(database: Database, name: str) -> VariableInfo | None:
    with store_errors(database), database.read() as conn:
        row = conn.execute(select(TABLE).where(Variable.name == name)).first()
    return None if row is None else _info(row)


def list_variables(database: Database) -> list[VariableInfo]:
    with store_errors(database), database.read() as conn:
        return [_info(row) for row in conn.execute(select(TABLE).order_by(Variable.name))]


def unset_variable(database: Database, name: str) -> bool:
    with store_errors(database, "write"), database.write() as conn:
        return bool(conn.execute(delete(Variable).where(Variable.name == name)).rowcount)


def _info(row: Any) -> VariableInfo:
    return VariableInfo(row.name, row.value, list(row.tags or []), row.created, row.updated)
