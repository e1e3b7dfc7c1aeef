"""Dispatch: every recipient of an approved letter gets it by e-mail, once, even across crashes.

Each (letter, recipient) row is the outbox. Before a message goes to the server the row is marked
'sending' and committed; after the server's answer it becomes 'sent', 'failed' (5xx, with the
server's text) or stays 'pending' (4xx or no connection after all retries). A process that dies in
between leaves 'sending' rows: resuming sends them again with the same Message-ID, so a receiver
that got the first copy can drop the second. Nothing accepted is ever marked unsent.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from chidao.approval import OUT
from chidao.consolidation import report_went_up
from chidao.reporting import open_request
from db import events
from db.base import utcnow
from db.cascades import get_cascade, inputs_of, letter_content
from db.engine import transaction
from db.models import LetterRecord, RecipientRecord
from letters.content import Letter
from letters.docx import render_docx
from mail.message import build_message, message_id
from mail.smtp import Sender, SmtpConfig

DEFAULT_SMTP_URL = "smtp://127.0.0.1:8025"


def smtp_config() -> SmtpConfig:
    return SmtpConfig.from_url(os.environ.get("CHIDAO_SMTP_URL", DEFAULT_SMTP_URL))


@dataclass
class Delivery:
    letter_id: int
    unit: str
    email: str
    status: str
    detail: str


@dataclass
class DispatchReport:
    deliveries: list[Delivery] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for d in self.deliveries if d.status == status)


def due_recipients(url: str, letter_ids: list[int] | None = None) -> list[int]:
    """Outbox rows still to send: of letters that went out, not yet sent nor failed for good."""
    with transaction(url) as session:
        query = (
            select(RecipientRecord.id)
            .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
            .where(LetterRecord.status.in_(OUT), RecipientRecord.status.in_(("pending", "sending")))
            .order_by(RecipientRecord.letter_id, RecipientRecord.position)
        )
        if letter_ids is not None:
            query = query.where(RecipientRecord.letter_id.in_(letter_ids))
        return list(session.scalars(query))


def dispatch(url: str, config: SmtpConfig | None = None, letter_ids: list[int] | None = None) -> DispatchReport:
    """Send what is due (all letters, or the given ones); safe to run again at any time."""
    return asyncio.run(_dispatch(url, config or smtp_config(), due_recipients(url, letter_ids)))


async def _dispatch(url: str, config: SmtpConfig, recipient_ids: list[int]) -> DispatchReport:
    report = DispatchReport()
    sender = Sender(config)
    letters: dict[int, tuple[Letter, str, str, bytes]] = {}
    try:
        for rid in recipient_ids:
            with transaction(url) as session:
                row = session.get_one(RecipientRecord, rid)
                if row.status not in ("pending", "sending"):
                    continue  # another dispatcher got there first
                if row.letter_id not in letters:
                    record = session.get_one(LetterRecord, row.letter_id)
                    content = letter_content(record)
                    letters[row.letter_id] = (
                        content,
                        record.sha256,
                        _issuer_email(session, record),
                        render_docx(content),
                    )
                letter, sha, from_email, docx = letters[row.letter_id]
                row.message_id = row.message_id or message_id(row.letter_id, row.unit_code, sha, _domain(from_email))
                row.status, row.attempts = "sending", row.attempts + 1
                to = (row.name, row.email)
                msg_id, letter_id, unit = row.message_id, row.letter_id, row.unit_code
            message = build_message(
                letter,
                sender=(letter.issuer_name, from_email),
                recipient=to,
                msg_id=msg_id,
                sent=datetime.now().astimezone(),
                docx=docx,
            )
            outcome = await sender.send(message, from_email, to[1])
            status = "sent" if outcome.sent else ("pending" if outcome.detail.startswith("gave up") else "failed")
            with transaction(url) as session:
                row = session.get_one(RecipientRecord, rid)
                row.status, row.last_error = status, (None if outcome.sent else outcome.detail)
                row.sent_at = utcnow() if outcome.sent else None
                kind = {"sent": "message.sent", "failed": "message.failed", "pending": "message.deferred"}[status]
                record = session.get_one(LetterRecord, letter_id)
                events.record(
                    session,
                    record.cascade_id,
                    kind,
                    "chidao",
                    {
                        "unit": unit,
                        "email": to[1],
                        "message_id": msg_id,
                        "detail": outcome.detail,
                        "attempts": outcome.attempts,
                    },
                    letter_id=letter_id,
                )
                if outcome.sent and record.kind == "letter":
                    open_request(session, record, unit)  # the recipient now owes a report
                elif outcome.sent:
                    report_went_up(session, record)  # a BÁO CÁO the level above has is the unit's report
                _settle(session, record)
            report.deliveries.append(Delivery(letter_id, unit, to[1], status, outcome.detail))
    finally:
        await sender.close()
    return report


def _settle(session: Session, record: LetterRecord) -> None:
    """A letter is 'sent' once every recipient has it."""
    statuses = set(session.scalars(select(RecipientRecord.status).where(RecipientRecord.letter_id == record.id)))
    if statuses == {"sent"} and record.status != "sent":
        record.status = "sent"


def _issuer_email(session: Session, record: LetterRecord) -> str:
    _, hierarchy = inputs_of(session, get_cascade(session, record.cascade_id))
    return hierarchy.unit(record.unit_code).email


def _domain(email: str) -> str:
    return email.rsplit("@", 1)[-1]


def resend(url: str, letter_id: int, unit: str | None = None) -> int:
    """Put failed recipients of a letter back in the outbox; returns how many."""
    with transaction(url) as session:
        rows = session.scalars(
            select(RecipientRecord).where(RecipientRecord.letter_id == letter_id, RecipientRecord.status == "failed")
        ).all()
        rows = [r for r in rows if unit is None or r.unit_code == unit]
        for row in rows:
            row.status = "pending"
        return len(rows)


def failed(url: str) -> list[Delivery]:
    with transaction(url) as session:
        rows = session.scalars(
            select(RecipientRecord)
            .where(RecipientRecord.status == "failed")
            .order_by(RecipientRecord.letter_id, RecipientRecord.position)
        )
        return [Delivery(r.letter_id, r.unit_code, r.email, r.status, r.last_error or "") for r in rows]
