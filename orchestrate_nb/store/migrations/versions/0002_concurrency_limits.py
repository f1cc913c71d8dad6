"""Concurrency limits and the slots held against them.

Revision ID: 0002
Revises: 0001
Create Date: 2024-07-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen copies of the model types: a migration must not change when orm.py does.
Timestamp = sa.DateTime(timezone=True)
SlotKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "concurrency_limits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("limit", sa.Integer(), nullable=False),
        sa.Column("slot_decay_per_second", sa.Float(), nullable=True),
        sa.Column("created", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concurrency_limits")),
        sa.UniqueConstraint("name", name=op.f("uq_concurrency_limits_name")),
    )
    op.create_table(
        "concurrency_slots",
        sa.Column("id", SlotKey, autoincrement=True, nullable=False),
        sa.Column("limit_name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("holder_name", sa.String(), nullable=True),
        sa.Column("occupy", sa.Integer(), nullable=False),
        sa.Column("owner_host", sa.String(), nullable=False),
        sa.Column("owner_pid", sa.Integer(), nullable=False),
        sa.Column("owner_token", sa.String(), nullable=False),
        sa.Column("acquired_at", Timestamp, nullable=False),
        sa.Column("heartbeat", Timestamp, nullable=False),
        sa.Column("expires_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_concurrency_slots")),
    )
    op.create_index(op.f("ix_concurrency_slots_limit_name"), "concurrency_slots",
                    ["limit_name"])


def downgrade() -> None:
    op.drop_table("concurrency_slots")  # its index goes with it
    op.drop_table("concurrency_limits")
