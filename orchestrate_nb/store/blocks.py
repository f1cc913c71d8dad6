"""Saved blocks as rows: plain fields as JSON, secret fields as one encrypted token.

These functions take an open ``Database`` and never see a secret in clear: encrypting and
decrypting is ``orchestrate_nb.blocks``' business.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.exc import IntegrityError

from orchestrate_nb.errors import BlockError, BlockNotFound
from orchestrate_nb.store.database import Database, store_errors
from orchestrate_nb.store.orm import BlockDocument

UTC = dt.timezone.utc
TABLE = cast(Table, BlockDocument.__table__)


@dataclass(frozen=True)
class BlockRecord:
    block_type: str
    name: str
    class_path: str
    data: dict[str, Any]
    secret_fields: list[str]
    encrypted: str | None
    created: dt.datetime
    updated: dt.datetime

    @property
    def ref(self) -> str:
        return f"{self.block_type}/{self.name}"


def save_block(database: Database, record: BlockRecord, overwrite: bool) -> None:
    """Insert ``record``, or replace the block of that type and name when ``overwrite``."""
    values = {"block_type": record.block_type, "name": record.name,
              "class_path": record.class_path, "data": record.data,
              "secret_fields": record.secret_fields or None, "encrypted": record.encrypted,
              "updated": record.updated}
    where = (BlockDocument.block_type == record.block_type, BlockDocument.name == record.name)
    taken = BlockError(f"a block named {record.name!r} of type {record.block_type!r} exists "
                       "already: save it with overwrite=True (--overwrite) to replace it")
    with store_errors(database, "save"):
        try:
            with database.write() as conn:
                exists = conn.execute(select(BlockDocument.id).where(*where)).first()
                if exists is not None and not overwrite:
                    raise taken
                if exists is None:
                    conn.execute(TABLE.insert(),
                                 [{**values, "created": record.created}])
                else:
                    conn.execute(update(BlockDocument).where(*where).values(values))
        except IntegrityError:  # saved by another process meanwhile
            raise taken from None


def find_blocks(database: Database, name: str, block_type: str | None = None) -> list[BlockRecord]:
    """Blocks named ``name`` (of ``block_type`` when given; ``name`` may be "type/name")."""
    if block_type is None and "/" in name:
        block_type, name = name.split("/", 1)
    query = select(TABLE).where(BlockDocument.name == name)
    if block_type is not None:
        query = query.where(BlockDocument.block_type == block_type)
    with store_errors(database), database.read() as conn:
        return [_record(row) for row in conn.execute(query.order_by(BlockDocument.block_type))]


def get_block(database: Database, name: str, block_type: str | None = None) -> BlockRecord:
    """The one block ``name`` names; a missing or ambiguous name is one clear line."""
    found = find_blocks(database, name, block_type)
    if not found:
        kind = f" of type {block_type!r}" if block_type else ""
        raise BlockNotFound(f"no block named {name!r}{kind} (orchestrate-nb block ls "
                            "lists them)")
    if len(found) > 1:
        refs = ", ".join(record.ref for record in found)
        raise BlockError(f"{name!r} names several blocks ({refs}): say which as TYPE/NAME")
    return found[0]


def list_blocks(database: Database, block_type: str | None = None) -> list[BlockRecord]:
    query = select(TABLE).order_by(BlockDocument.block_type, BlockDocument.name)
    if block_type is not None:
        query = query.where(BlockDocument.block_type == block_type)
    with store_errors(database), database.read() as conn:
        return [_record(row) for row in conn.execute(query)]


def delete_block(database: Database, name: str, block_type: str | None = None) -> BlockRecord:
    record = get_block(database, name, block_type)
    with store_errors(database, "delete"), database.write() as conn:
        conn.execute(delete(BlockDocument).where(BlockDocument.block_type == record.block_type,
                                                 BlockDocument.name == record.name))
    return record


def _record(row: Any) -> BlockRecord:
    return BlockRecord(row.block_type, row.name, row.class_path, dict(row.data or {}),
                       list(row.secret_fields or []), row.encrypted, row.created, row.updated)
