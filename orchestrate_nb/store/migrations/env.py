"""Alembic environment, configured in code by ``orchestrate_nb.store.schema``.

The caller passes an open connection (already inside the transaction that holds the
migration lock) in ``config.attributes["connection"]``; there is no alembic.ini.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from orchestrate_nb.store.orm import Base, include_name


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("orchestrate_nb migrations run online, on a connection")
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("pass a connection in config.attributes['connection']")
    run_migrations(connection)


main()
