"""recipients become the outbox: Message-ID, attempts, last error, time sent

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recipients") as batch:
        batch.add_column(sa.Column("message_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_recipients_status", "recipients", ["status"])


def downgrade() -> None:
    op.drop_index("ix_recipients_status", "recipients")
    with op.batch_alter_table("recipients") as batch:
        for column in ("sent_at", "last_error", "attempts", "message_id"):
            batch.drop_column(column)
