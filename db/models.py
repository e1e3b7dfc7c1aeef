"""The tables: what a cascade ran on, its letters and their recipients, and the event log."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.base import Base, UTCDateTime, utcnow


class HierarchySnapshot(Base):
    """The hierarchy exactly as a cascade saw it; later edits of the file do not change it."""

    __tablename__ = "hierarchy_snapshots"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    version: Mapped[str] = mapped_column(String(100))
    units: Mapped[int] = mapped_column(Integer)
    data: Mapped[str] = mapped_column(Text, doc="canonical JSON of the hierarchy file")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DirectiveRecord(Base):
    __tablename__ = "directives"
    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    issuer_code: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text, doc="canonical JSON of the directive file")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Cascade(Base):
    """One directive run down one hierarchy version; the same inputs give the same cascade."""

    __tablename__ = "cascades"
    __table_args__ = (UniqueConstraint("directive_id", "snapshot_id", "draft_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    directive_id: Mapped[int] = mapped_column(ForeignKey("directives.id"))
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("hierarchy_snapshots.id"))
    issuer_code: Mapped[str] = mapped_column(String(64))
    draft_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="drafting")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    directive: Mapped[DirectiveRecord] = relationship(lazy="raise")
    snapshot: Mapped[HierarchySnapshot] = relationship(lazy="raise")


class LetterRecord(Base):
    """A letter of a cascade. content is the structured letter; markdown its rendering."""

    __tablename__ = "letters"
    __table_args__ = (
        UniqueConstraint("cascade_id", "unit_code", "kind"),
        UniqueConstraint("unit_code", "year", "number"),
        Index("ix_letters_status", "cascade_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cascade_id: Mapped[int] = mapped_column(ForeignKey("cascades.id"))
    unit_code: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="letter", doc="letter (down) or report (a BÁO CÁO, up)")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id"))
    depth: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    doc_type: Mapped[str] = mapped_column(String(40))
    notation: Mapped[str] = mapped_column(String(100))
    number: Mapped[int | None] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(Integer)
    issued_on: Mapped[date | None] = mapped_column(Date)
    subject: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text, doc="JSON of letters.content.Letter")
    generated: Mapped[str | None] = mapped_column(Text, doc="the content as generated, kept once an approver edits it")
    submitted_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, doc="a unit with drafters: when the drafter submitted it to the approvers (None: with the drafter)"
    )
    markdown: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recipients: Mapped[list[RecipientRecord]] = relationship(lazy="raise", order_by="RecipientRecord.position")


class LetterDocument(Base):
    """The issued letter as sent: the PDF with its two digital signatures, and its SHA-256 (also in the event
    log, so a changed file is found). Written once, at issue."""

    __tablename__ = "letter_documents"
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RecipientRecord(Base):
    """A unit a letter is addressed to; dispatch state lives here."""

    __tablename__ = "recipients"
    __table_args__ = (UniqueConstraint("letter_id", "unit_code"), Index("ix_recipients_status", "status"))
    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"))
    unit_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str] = mapped_column(String(300))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="pending", doc="pending, sending, sent, failed")
    message_id: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200), doc="the dispatcher sending it: host:pid")
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime, doc="a deferred copy is not tried before this")


class Event(Base):
    """Append-only and hash-chained per cascade; the database refuses UPDATE and DELETE."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("cascade_id", "seq"),
        Index("ix_events_kind", "cascade_id", "kind", "seq"),  # the latest of a kind (report.demanded) at once
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cascade_id: Mapped[int | None] = mapped_column(ForeignKey("cascades.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60))
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id"))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text, doc="canonical JSON")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Register(Base):
    """A unit's outgoing register (sổ đăng ký văn bản đi): numbers run from 01 each year, never reused."""

    __tablename__ = "registers"
    unit_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class ReportRequest(Base):
    """A unit owes the issuer of the letter it received a report, by a date or on request."""

    __tablename__ = "report_requests"
    __table_args__ = (
        UniqueConstraint("letter_id", "unit_code"),
        Index("ix_report_requests_open", "status", "due"),
        Index("ix_report_requests_unit", "cascade_id", "unit_code"),  # a unit's own request: one per cascade
        Index("ix_report_requests_letter", "letter_id", "status"),  # is any still open on this letter?
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    cascade_id: Mapped[int] = mapped_column(ForeignKey("cascades.id"), index=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"))
    unit_code: Mapped[str] = mapped_column(String(64))
    issuer_code: Mapped[str] = mapped_column(String(64))
    due: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open", doc="open, received, late")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PendingConsolidation(Base):
    """A sent letter whose unit has yet to draft its BÁO CÁO: consolidation reads these rows, not every letter
    and request of the cascade. Opened with the letter's first report requests, marked reports_in when the
    last one owed is answered (and unmarked if a late delivery opens another), removed once the BÁO CÁO is
    drafted. A unit that reports to nobody, or owes no report, has none."""

    __tablename__ = "pending_consolidations"
    __table_args__ = (Index("ix_pending_consolidations_ready", "cascade_id", "reports_in"),)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), primary_key=True)
    cascade_id: Mapped[int] = mapped_column(ForeignKey("cascades.id"))
    reports_in: Mapped[bool] = mapped_column(default=False, doc="every report owed on the letter has come in")


class Report(Base):
    """One submission; a correction is a new version, the earlier ones are kept."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("request_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("report_requests.id"))
    version: Mapped[int] = mapped_column(Integer)
    submitted_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(default=False)
    content: Mapped[str] = mapped_column(Text, doc="JSON of reports.model.ReportContent")
    source: Mapped[str] = mapped_column(Text, doc="the file as submitted")


class ReportAttachment(Base):
    """A file sent with a report (a scan, a spreadsheet), kept in the database with the report."""

    __tablename__ = "report_attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Reminder(Base):
    """A reminder or escalation sent for a request; unique per kind, so none goes out twice."""

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("request_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("report_requests.id"))
    kind: Mapped[str] = mapped_column(String(20), doc="due_soon, overdue, escalation")
    to_email: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="sending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Account(Base):
    """A person who signs in to the desk: someone the hierarchy names (approver, reporter), or an auditor."""

    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(200), primary_key=True, doc="the person's id in the hierarchy")
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20), doc="person (acts for the units naming them) or auditor (reads all)")
    password_hash: Mapped[str] = mapped_column(String(200), doc="Argon2id")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, doc="when the password last changed")
    disabled: Mapped[bool] = mapped_column(default=False, doc="may not sign in; its sessions ended")


class DeskSessionRow(Base):
    """A signed-in session of the desk, kept on the server so that it can be ended at once (sign-out, a new
    password, a disabled account); the cookie carries its id, the table only the id's SHA-256."""

    __tablename__ = "desk_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, doc="SHA-256 of the cookie's session id")
    account: Mapped[str] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SignInAttempt(Base):
    """Each sign-in attempt, kept to throttle guessing by account and by address."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_account", "account", "at"),
        Index("ix_sign_in_attempts_address", "address", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(default=False)


class IncomingEntry(Base):
    """A unit's incoming register (sổ đăng ký văn bản đến): each letter it received, numbered per year from 1
    (số đến) in the order they arrived, with the day it arrived."""

    __tablename__ = "incoming"
    __table_args__ = (UniqueConstraint("unit_code", "year", "number"), UniqueConstraint("unit_code", "letter_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer, doc="số đến")
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, doc="when the mail server accepted its copy")
    received_on: Mapped[date] = mapped_column(Date, doc="ngày đến, on the office's calendar")
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WorkNotice(Base):
    """An e-mail telling a person that a letter waits for them (a draft to prepare, to sign, sent back);
    the key (letter, what, round) is unique, so each goes once."""

    __tablename__ = "work_notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), doc="to_sign, to_draft, returned")
    to_email: Mapped[str] = mapped_column(String(300))
    people: Mapped[str] = mapped_column(Text, doc="the names it is addressed to")
    status: Mapped[str] = mapped_column(String(20), default="sending", doc="sending, sent, failed")
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
