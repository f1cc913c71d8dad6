"""How a deployment's runs execute: ``cache`` ("refresh": compute afresh, the default, also
for deployments made before; "reuse": read results cached by others), the notebook's
``kernel`` (NULL: the notebook's own kernelspec) and the working directory ``cwd`` (NULL:
the notebook's folder).

Revision ID: 0006
Revises: 0005
Create Date: 2024-11-01 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(sa.Column("cache", sa.String(), nullable=False,
                                   server_default="refresh"))
        batch.add_column(sa.Column("kernel", sa.String(), nullable=True))
        batch.add_column(sa.Column("cwd", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deployments") as batch:
        batch.drop_column("cwd")
        batch.drop_column("kernel")
        batch.drop_column("cache")
