"""Initial run store: flows, flow runs, task runs, state history, dependency edges, logs.

Revision ID: 0001
Revises:
Create Date: 2024-06-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the model types: a migration must not change when orm.py does.
Timestamp = sa.DateTime(timezone=True)
HistoryKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _run_state_columns() -> list[sa.Column]:
    return [
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("tags", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created", Timestamp, nullable=False),
        sa.Column("state_type", sa.String(), nullable=False),
        sa.Column("state_name", sa.String(), nullable=False),
        sa.Column("state_message", sa.Text(), nullable=True),
        sa.Column("start_time", Timestamp, nullable=True),
        sa.Column("end_time", Timestamp, nullable=True),
        sa.Column("run_count", sa.Integer(), nullable=False),
        sa.Column("owner_host", sa.String(), nullable=True),
        sa.Column("owner_pid", sa.Integer(), nullable=True),
        sa.Column("owner_token", sa.String(), nullable=True),
        sa.Column("heartbeat", Timestamp, nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flows")),
        sa.UniqueConstraint("name", name=op.f("uq_flows_name")),
    )
    op.create_table(
        "flow_runs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("parameters", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("parent_flow_run_id", sa.String(), nullable=True),
        sa.Column("parent_task_run_id", sa.String(), nullable=True),
        sa.Column("deployment_id", sa.String(), nullable=True),
        *_run_state_columns(),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_flow_runs_flow_id_flows")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_runs")),
    )
    op.create_index(op.f("ix_flow_runs_created"), "flow_runs", ["created"])
    op.create_index(op.f("ix_flow_runs_flow_id"), "flow_runs", ["flow_id"])
    op.create_index(op.f("ix_flow_runs_state_type"), "flow_runs", ["state_type"])
    op.create_table(
        "task_runs",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.Column("task_name", sa.String(), nullable=False),
        sa.Column("task_key", sa.String(), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("cache_key", sa.String(), nullable=True),
        *_run_state_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_runs")),
    )
    op.create_index(
        op.f("ix_task_runs_flow_run_id_state_type"), "task_runs", ["flow_run_id", "state_type"]
    )
    op.create_table(
        "run_states",
        sa.Column("id", HistoryKey, autoincrement=True, nullable=False),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.Column("task_run_id", sa.String(), nullable=True),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("timestamp", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_states")),
    )
    op.create_index(op.f("ix_run_states_flow_run_id"), "run_states", ["flow_run_id"])
    op.create_table(
        "task_run_edges",
        sa.Column("id", HistoryKey, autoincrement=True, nullable=False),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.Column("upstream_task_run_id", sa.String(), nullable=False),
        sa.Column("downstream_task_run_id", sa.String(), nullable=False),
        sa.Column("input_name", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_run_edges")),
    )
    op.create_index(op.f("ix_task_run_edges_flow_run_id"), "task_run_edges", ["flow_run_id"])
    op.create_table(
        "logs",
        sa.Column("id", HistoryKey, autoincrement=True, nullable=False),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.Column("task_run_id", sa.String(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("logger", sa.String(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("timestamp", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logs")),
    )
    op.create_index(op.f("ix_logs_flow_run_id_id"), "logs", ["flow_run_id", "id"])


def downgrade() -> None:
    for table in ("logs", "task_run_edges", "run_states", "task_runs", "flow_runs", "flows"):
        op.drop_table(table)
