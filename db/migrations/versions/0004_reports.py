"""report requests, reports (versioned), reminders

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cascade_id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("issuer_code", sa.String(length=64), nullable=False),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cascade_id"], ["cascades.id"], name=op.f("fk_report_requests_cascade_id_cascades")),
        sa.ForeignKeyConstraint(["letter_id"], ["letters.id"], name=op.f("fk_report_requests_letter_id_letters")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_requests")),
        sa.UniqueConstraint("letter_id", "unit_code", name=op.f("uq_report_requests_letter_id_unit_code")),
    )
    op.create_index("ix_report_requests_open", "report_requests", ["status", "due"])
    op.create_index(op.f("ix_report_requests_cascade_id"), "report_requests", ["cascade_id"])
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["report_requests.id"], name=op.f("fk_reports_request_id_report_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("request_id", "version", name=op.f("uq_reports_request_id_version")),
    )
    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("to_email", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["report_requests.id"], name=op.f("fk_reminders_request_id_report_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint("request_id", "kind", name=op.f("uq_reminders_request_id_kind")),
    )


def downgrade() -> None:
    op.drop_table("reminders")
    op.drop_table("reports")
    op.drop_index(op.f("ix_report_requests_cascade_id"), "report_requests")
    op.drop_index("ix_report_requests_open", "report_requests")
    op.drop_table("report_requests")
