"""letters gain a kind: a unit writes one letter down and one consolidated report (BÁO CÁO) up per cascade

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On SQLite this rebuilds the table; db.migrate runs it with foreign keys off and checks them after.
    with op.batch_alter_table("letters") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=20), nullable=False, server_default="letter"))
        batch.drop_constraint("uq_letters_cascade_id_unit_code", type_="unique")
        batch.create_unique_constraint("uq_letters_cascade_id_unit_code_kind", ["cascade_id", "unit_code", "kind"])


def downgrade() -> None:
    with op.batch_alter_table("letters") as batch:
        batch.drop_constraint("uq_letters_cascade_id_unit_code_kind", type_="unique")
        batch.create_unique_constraint("uq_letters_cascade_id_unit_code", ["cascade_id", "unit_code"])
        batch.drop_column("kind")
