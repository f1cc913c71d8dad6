"""Workers as the store knows them: one row per worker process (its pool, when it started,
its last heartbeat, when it stopped), so the JupyterLab sidebar and ``worker ls`` can say
which workers are alive and which runs each holds.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
Timestamp = sa.DateTime(timezone=True)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("pool", sa.String(), nullable=False),
        sa.Column("host", sa.String(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(), nullable=False),
        sa.Column("started", Timestamp, nullable=False),
        sa.Column("heartbeat", Timestamp, nullable=False),
        sa.Column("stopped", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_index(op.f("ix_workers_heartbeat"), "workers", ["heartbeat"])


def downgrade() -> None:
    op.drop_index(op.f("ix_workers_heartbeat"), table_name="workers")
    op.drop_table("workers")
