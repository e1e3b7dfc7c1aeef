"""recipients gain a claim (who is sending, since when), so two dispatchers never send the same message

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recipients", sa.Column("claimed_by", sa.String(length=200), nullable=True))
    op.add_column("recipients", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recipients") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")
