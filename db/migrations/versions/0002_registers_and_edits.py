"""outgoing registers; letters keep their generated content once edited

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registers",
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "year", name=op.f("pk_registers")),
    )
    with op.batch_alter_table("letters") as batch:
        batch.add_column(sa.Column("generated", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("letters") as batch:
        batch.drop_column("generated")
    op.drop_table("registers")
