"""The executed notebook of a deployment's run (a path under ORCHESTRATE_NB_HOME/runs).

Revision ID: 0004
Revises: 0003
Create Date: 2024-09-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("executed_notebook", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.drop_column("executed_notebook")
