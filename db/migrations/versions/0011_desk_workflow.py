"""the desk's working day: letters submitted by their drafter, the incoming register, notices of work waiting

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("letters") as table:
        table.add_column(sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "incoming",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["letter_id"], ["letters.id"], name=op.f("fk_incoming_letter_id_letters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incoming")),
        sa.UniqueConstraint("unit_code", "year", "number", name=op.f("uq_incoming_unit_code_year_number")),
        sa.UniqueConstraint("unit_code", "letter_id", name=op.f("uq_incoming_unit_code_letter_id")),
    )
    op.create_table(
        "work_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("to_email", sa.String(length=300), nullable=False),
        sa.Column("people", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["letter_id"], ["letters.id"], name=op.f("fk_work_notices_letter_id_letters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_work_notices_key")),
    )
    op.create_index(op.f("ix_work_notices_letter_id"), "work_notices", ["letter_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_work_notices_letter_id"), "work_notices")
    op.drop_table("work_notices")
    op.drop_table("incoming")
    with op.batch_alter_table("letters") as table:
        table.drop_column("submitted_at")
