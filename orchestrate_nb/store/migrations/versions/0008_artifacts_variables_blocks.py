"""Artifacts (keyed ones keep their history), variables, blocks (secret fields encrypted
with a key that is not in the database), alerts and their deliveries (one row per alert,
subject, event and notification block: nothing is sent twice), and an index on flow runs'
end time for the alert sweep of recently finished runs.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 23:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=True),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.Column("task_run_id", sa.String(), nullable=True),
        sa.Column("created", Timestamp, nullable=False),
        sa.Column("updated", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    )
    op.create_index(op.f("ix_artifacts_key_created"), "artifacts", ["key", "created"])
    op.create_index(op.f("ix_artifacts_flow_run_id"), "artifacts", ["flow_run_id"])
    op.create_table(
        "variables",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("tags", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created", Timestamp, nullable=False),
        sa.Column("updated", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_variables")),
    )
    op.create_table(
        "blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("block_type", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("class_path", sa.String(), nullable=False),
        sa.Column("data", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("secret_fields", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("encrypted", sa.Text(), nullable=True),
        sa.Column("created", Timestamp, nullable=False),
        sa.Column("updated", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocks")),
        sa.UniqueConstraint("block_type", "name", name=op.f("uq_blocks_block_type_name")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("events", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("deployment", sa.String(), nullable=True),
        sa.Column("flow", sa.String(), nullable=True),
        sa.Column("tag", sa.String(), nullable=True),
        sa.Column("no_success_for_seconds", sa.Float(), nullable=True),
        sa.Column("notify", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created", Timestamp, nullable=False),
        sa.Column("updated", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("name", name=op.f("uq_alerts_name")),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", Timestamp, nullable=True),
        sa.Column("claimed_until", Timestamp, nullable=True),
        sa.Column("subject_text", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created", Timestamp, nullable=False),
        sa.Column("updated", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint("alert_id", "subject", "event", "target",
                            name=op.f("uq_alert_deliveries_alert_id_subject_event_target")),
    )
    op.create_index(op.f("ix_alert_deliveries_status_next_attempt"), "alert_deliveries",
                    ["status", "next_attempt"])
    op.create_index(op.f("ix_flow_runs_end_time"), "flow_runs", ["end_time"])


def downgrade() -> None:
    op.drop_index(op.f("ix_flow_runs_end_time"), table_name="flow_runs")
    op.drop_index(op.f("ix_alert_deliveries_status_next_attempt"), table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_table("alerts")
    op.drop_table("blocks")
    op.drop_table("variables")
    op.drop_index(op.f("ix_artifacts_flow_run_id"), table_name="artifacts")
    op.drop_index(op.f("ix_artifacts_key_created"), table_name="artifacts")
    op.drop_table("artifacts")
