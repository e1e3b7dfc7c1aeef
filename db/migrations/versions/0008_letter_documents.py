"""signed letters: the issued PDF of each letter (two PAdES signatures) and its SHA-256

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "letter_documents",
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["letter_id"], ["letters.id"], name=op.f("fk_letter_documents_letter_id_letters")),
        sa.PrimaryKeyConstraint("letter_id", name=op.f("pk_letter_documents")),
    )


def downgrade() -> None:
    op.drop_table("letter_documents")
