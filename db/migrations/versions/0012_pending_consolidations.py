"""consolidation as reports come in: the letters whose BÁO CÁO is yet to be drafted; indexes for a unit's own
request, the requests still open on a letter, and the latest event of a kind

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Every letter that has report requests and whose unit has no BÁO CÁO yet; reports_in where none is open.
# A unit that reports to nobody (the hierarchy's root) or owes no report is told apart by the hierarchy, which
# SQL cannot read: the first consolidation that looks at such a row removes it.
SEED = """
INSERT INTO pending_consolidations (letter_id, cascade_id, reports_in)
SELECT l.id, l.cascade_id,
       CASE WHEN EXISTS (SELECT 1 FROM report_requests o WHERE o.letter_id = l.id AND o.status = 'open')
            THEN {false} ELSE {true} END
FROM letters l
WHERE l.kind = 'letter'
  AND EXISTS (SELECT 1 FROM report_requests q WHERE q.letter_id = l.id)
  AND NOT EXISTS (
      SELECT 1 FROM letters r WHERE r.cascade_id = l.cascade_id AND r.unit_code = l.unit_code AND r.kind = 'report'
  )
"""


def upgrade() -> None:
    op.create_table(
        "pending_consolidations",
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("cascade_id", sa.Integer(), nullable=False),
        sa.Column("reports_in", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["cascade_id"], ["cascades.id"], name=op.f("fk_pending_consolidations_cascade_id_cascades")
        ),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letters.id"], name=op.f("fk_pending_consolidations_letter_id_letters")
        ),
        sa.PrimaryKeyConstraint("letter_id", name=op.f("pk_pending_consolidations")),
    )
    op.create_index("ix_pending_consolidations_ready", "pending_consolidations", ["cascade_id", "reports_in"])
    op.create_index("ix_report_requests_unit", "report_requests", ["cascade_id", "unit_code"])
    op.create_index("ix_report_requests_letter", "report_requests", ["letter_id", "status"])
    op.create_index("ix_events_kind", "events", ["cascade_id", "kind", "seq"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.execute(SEED.format(true="1" if sqlite else "TRUE", false="0" if sqlite else "FALSE"))


def downgrade() -> None:
    op.drop_index("ix_events_kind", "events")
    op.drop_index("ix_report_requests_letter", "report_requests")
    op.drop_index("ix_report_requests_unit", "report_requests")
    op.drop_index("ix_pending_consolidations_ready", "pending_consolidations")
    op.drop_table("pending_consolidations")
