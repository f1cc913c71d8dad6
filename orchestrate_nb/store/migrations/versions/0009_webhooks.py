"""Webhook triggers of deployments (only a hash of each secret is stored, so a database dump
cannot fire them; removing the row revokes one) and the deliveries seen in the last hour (one
row per webhook and delivery id: a replay finds it and creates no second run). The index on
flow runs' deployment becomes (deployment, state type), so /metrics counts runs by deployment
and state from the index alone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 23:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("deployment_id", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("mapping", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created", Timestamp, nullable=False),
        sa.Column("last_used", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_webhooks_secret_hash")),
    )
    op.create_index(op.f("ix_webhooks_deployment_id"), "webhooks", ["deployment_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("webhook_id", sa.String(), nullable=False),
        sa.Column("delivery_id", sa.String(), nullable=False),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.Column("created", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", "delivery_id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(op.f("ix_webhook_deliveries_created"), "webhook_deliveries", ["created"])
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_index(batch.f("ix_flow_runs_deployment_id"))
        batch.create_index(batch.f("ix_flow_runs_deployment_id_state_type"),
                           ["deployment_id", "state_type"])


def downgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_index(batch.f("ix_flow_runs_deployment_id_state_type"))
        batch.create_index(batch.f("ix_flow_runs_deployment_id"), ["deployment_id"])
    op.drop_index(op.f("ix_webhook_deliveries_created"), table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_webhooks_deployment_id"), table_name="webhooks")
    op.drop_table("webhooks")
