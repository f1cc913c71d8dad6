"""Deployments, and the columns scheduled flow runs need (scheduled time, pool, attempt).

Revision ID: 0003
Revises: 0002
Create Date: 2024-08-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copies of the model types: a migration must not change when orm.py does.
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("entrypoint", sa.String(), nullable=False),
        sa.Column("flow_name", sa.String(), nullable=False),
        sa.Column("parameters", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("pool", sa.String(), nullable=False),
        sa.Column("schedule_kind", sa.String(), nullable=True),
        sa.Column("cron", sa.String(), nullable=True),
        sa.Column("interval_seconds", sa.Float(), nullable=True),
        sa.Column("rrule", sa.Text(), nullable=True),
        sa.Column("timezone", sa.String(), nullable=False),
        sa.Column("anchor", Timestamp, nullable=True),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("catchup", sa.String(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("retry_delay_seconds", sa.Float(), nullable=False),
        sa.Column("timeout_seconds", sa.Float(), nullable=True),
        sa.Column("tags", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created", Timestamp, nullable=False),
        sa.Column("updated", Timestamp, nullable=False),
        sa.Column("last_slot", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint("name", name=op.f("uq_deployments_name")),
    )
    op.create_index(op.f("ix_deployments_last_slot"), "deployments", ["last_slot"])
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("scheduled_time", Timestamp, nullable=True))
        batch.add_column(sa.Column("pool", sa.String(), nullable=True))
        batch.add_column(sa.Column("attempt", sa.Integer(), nullable=False,
                                   server_default=sa.text("0")))
        batch.create_index(batch.f("ix_flow_runs_state_type_scheduled_time"),
                           ["state_type", "scheduled_time"])
        batch.create_index(batch.f("ix_flow_runs_deployment_id"), ["deployment_id"])


def downgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_index(batch.f("ix_flow_runs_deployment_id"))
        batch.drop_index(batch.f("ix_flow_runs_state_type_scheduled_time"))
        batch.drop_column("attempt")
        batch.drop_column("pool")
        batch.drop_column("scheduled_time")
    op.drop_table("deployments")  # its index goes with it
