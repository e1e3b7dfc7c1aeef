"""E-mail telling people that a letter waits for them: a unit's approvers when a draft is theirs to sign (its
letter above has gone out, and, in a unit with drafters, the drafter has submitted it), a unit's drafters when
a draft is theirs to prepare or has been sent back to them with a reason.

Each notice goes once: its key (letter, what, round) is a unique row reserved (committed) before the message
is sent, so a second run, or a concurrent one, skips it; a round is each submission or sending back, so a
letter sent back twice is told twice. The hierarchy gives people no address of their own: a notice goes to the
unit's address, addressed to the people by name. Deferred (the mail server did not answer) notices go again
on the next run; refused ones stay failed with the server's reply.

Escalations (a unit long overdue with its report) are told to the head of the unit above, the issuer of the
letter it answers, by chidao.reminders: that is not repeated here.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chidao import approval, inbox
from chidao.dispatch import smtp_config
from chidao.settings import settings
from db.base import utcnow
from db.cascades import get_cascade, inputs_of, letter_content
from db.engine import transaction
from db.models import Event, LetterRecord, WorkNotice
from mail.message import plain_message
from mail.smtp import Sender, SmtpConfig

log = logging.getLogger("chidao.notices")


@dataclass
class Owed:
    key: str
    letter_id: int
    kind: str  # to_sign, to_draft, returned
    to_email: str
    people: list[str]  # names


def owed(session: Session) -> list[Owed]:
    """Every notice the letters waiting now call for, sent or not."""
    waiting = inbox.pending(session)
    rounds: dict[tuple[int, str], int] = {
        (letter_id, kind): count
        for letter_id, kind, count in session.execute(
            select(Event.letter_id, Event.kind, func.count())
            .where(
                Event.letter_id.in_([w.id for w in waiting]),
                Event.kind.in_(("letter.submitted", "letter.rejected")),
            )
            .group_by(Event.letter_id, Event.kind)
        ).all()
        if letter_id is not None
    }
    out = []
    for letter in waiting:
        _, hierarchy = inputs_of(session, get_cascade(session, letter.cascade_id))
        unit = hierarchy.unit(letter.unit_code)
        waits = approval.waiting_for(hierarchy, letter)
        if waits == "approver":
            kind, round_ = "to_sign", rounds.get((letter.id, "letter.submitted"), 0)
            people = [p.name for p in unit.approvers]
        elif letter.status == "rejected":
            kind, round_ = "returned", rounds.get((letter.id, "letter.rejected"), 0)
            people = [p.name for p in unit.drafters]
        else:
            kind, round_ = "to_draft", 0
            people = [p.name for p in unit.drafters]
        if people:
            out.append(Owed(f"{letter.id}.{kind}.{round_}", letter.id, kind, unit.email, people))
    return out


def notify(url: str, config: SmtpConfig | None = None, at: datetime | None = None) -> list[WorkNotice]:
    """Send the notices owed and not sent yet (and those deferred before); returns what was tried."""
    config = config or smtp_config()
    moment = at or utcnow()
    with transaction(url) as session:
        wanted = owed(session)
        known = set(session.scalars(select(WorkNotice.key).where(WorkNotice.key.in_([w.key for w in wanted]))))
        retry = list(session.scalars(select(WorkNotice.id).where(WorkNotice.status == "pending")))
    reserved: list[int] = list(retry)
    for notice in wanted:
        if notice.key in known:
            continue
        try:
            with transaction(url) as session:
                row = WorkNotice(
                    key=notice.key,
                    letter_id=notice.letter_id,
                    kind=notice.kind,
                    to_email=notice.to_email,
                    people=", ".join(notice.people),
                )
                session.add(row)
                session.flush()
                reserved.append(row.id)
        except IntegrityError:
            continue  # reserved by another run at the same moment
    if not reserved:
        return []
    asyncio.run(_send(url, config, reserved, moment))
    with transaction(url) as session:
        return list(session.scalars(select(WorkNotice).where(WorkNotice.id.in_(reserved))))


def notify_quietly(url: str) -> None:
    """notify(), for a face that has already done its work: a problem is logged, never raised (the notices
    owed stay owed and go with a later run)."""
    try:
        notify(url)
    except Exception:
        log.exception("notices of letters waiting were not sent")


async def _send(url: str, config: SmtpConfig, ids: list[int], at: datetime) -> None:
    sender = Sender(config, attempts=2, timeout=15)
    try:
        for notice_id in ids:
            with transaction(url) as session:
                row = session.get_one(WorkNotice, notice_id)
                message, from_address = _compose(session, row, at)
            outcome = await sender.send(message, from_address, row.to_email)
            with transaction(url) as session:
                row = session.get_one(WorkNotice, notice_id)
                row.status = "sent" if outcome.sent else ("pending" if outcome.deferred else "failed")
                row.detail = outcome.detail
    finally:
        await sender.close()


SUBJECTS = {
    "to_sign": "Dự thảo chờ ký: {subject}",
    "to_draft": "Dự thảo cần soạn: {subject}",
    "returned": "Dự thảo bị trả lại: {subject}",
}


def _compose(session: Session, row: WorkNotice, at: datetime) -> tuple[Message, str]:
    letter = session.get_one(LetterRecord, row.letter_id)
    content = letter_content(letter)
    _, hierarchy = inputs_of(session, get_cascade(session, letter.cascade_id))
    unit = hierarchy.unit(letter.unit_code)
    what = f"{content.doc_type} của {unit.name} ({unit.area}) về việc {content.subject}"
    if row.kind == "to_sign":
        body = f"Kính gửi: {row.people}.\n\nDự thảo {what} đang chờ anh/chị ký duyệt."
    elif row.kind == "returned":
        reason = approval.returned_reason(session, letter.id)
        why = f" Lý do: {reason[0]}" if reason else ""
        body = f"Kính gửi: {row.people}.\n\nDự thảo {what} đã bị lãnh đạo trả lại.{why}\nĐề nghị sửa và trình lại."
    else:
        body = f"Kính gửi: {row.people}.\n\nDự thảo {what} đã sẵn sàng để anh/chị soạn và trình lãnh đạo ký."
    body += (
        f"\n\nVăn bản số {letter.id}, đợt {letter.cascade_id}: mở Bàn làm việc chidao, mục Văn bản chờ xử lý.\n"
        f"(Thư tự động từ chidao, múi giờ {settings().timezone}.)\n"
    )
    domain = unit.email.rsplit("@", 1)[-1]
    message = plain_message(
        SUBJECTS[row.kind].format(subject=content.subject),
        body,
        sender=(unit.name, unit.email),
        recipient=(row.people, row.to_email),
        msg_id=f"<notice-{row.key}@{domain}>",
        sent=at,
    )
    return message, unit.email
