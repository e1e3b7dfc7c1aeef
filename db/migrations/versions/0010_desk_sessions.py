"""the desk: server-side sessions (ended at once by sign-out, a new password, a disabled account)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_desk_sessions")),
    )
    op.create_index(op.f("ix_desk_sessions_account"), "desk_sessions", ["account"])
    with op.batch_alter_table("accounts") as table:
        table.add_column(sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as table:
        table.drop_column("disabled")
    op.drop_index(op.f("ix_desk_sessions_account"), table_name="desk_sessions")
    op.drop_table("desk_sessions")
