"""Paused flow runs (``pause_flow_run``): the input a pause waits for, when it times out,
and the input it was resumed with.

Revision ID: 0005
Revises: 0004
Create Date: 2024-10-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("pause_input_schema", sa.JSON(none_as_null=True),
                                   nullable=True))
        batch.add_column(sa.Column("pause_expires", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resume_input", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_column("resume_input")
        batch.drop_column("pause_expires")
        batch.drop_column("pause_input_schema")
