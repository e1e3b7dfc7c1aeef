"""Dispatch: every recipient of an approved letter gets it by e-mail, once, even across crashes.

A letter goes out as one message addressed to all its recipients, as the letter itself is (one SMTP
transaction: an RCPT per recipient, one DATA), the server's reply for each recipient read apart.
Each (letter, recipient) row is the outbox. Before a message goes to the server the row is marked
'sending' and committed; after the server's answer it becomes 'sent', 'failed' (5xx, with the
server's text) or stays 'pending' (4xx or no connection after all retries). A process that dies in
between leaves 'sending' rows: resuming sends them again with the same Message-ID, so a receiver
that got the first copy can drop the second. Nothing accepted is ever marked unsent.
"""

from __future__ import annotations

import asyncio
import os
import socket
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import Message

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from chidao import progress
from chidao.approval import OUT
from chidao.consolidation import report_went_up
from chidao.drawing import docx_of, drawn_ahead
from chidao.reporting import open_requests
from chidao.settings import settings
from chidao.smtp_slots import smtp_slot
from db import events
from db.base import utcnow
from db.cascades import get_cascade, inputs_of, letter_content
from db.engine import transaction
from db.models import LetterDocument, LetterRecord, RecipientRecord
from letters.content import Letter
from mail.message import build_message, letter_message_id
from mail.smtp import Outcome, Sender, SmtpConfig

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
    gave_up: str = ""  # why this run stopped trying: the server could not be reached
    retry_at: datetime | None = None  # when the copies it deferred are tried again (UTC)

    def count(self, status: str) -> int:
        return sum(1 for d in self.deliveries if d.status == status)


# Recipients claimed, sent and recorded together: two commits per batch, not per message. Room for a letter of
# a hundred recipients on each connection: a province's letter to its hundred communes filled a batch of 100
# alone, and the four connections took turns instead of sending four letters at once (national 2025: 6.2 s
# -> 5.0 s). A dispatcher killed mid-batch sends that batch again (same Message-IDs), so it stays bounded.
BATCH = 400


@dataclass(frozen=True)
class _Outgoing:
    """What every message of one letter is made of, read once per dispatch."""

    letter: Letter
    sha256: str
    from_email: str
    docx: bytes
    pdf: bytes | None
    recipients: list[tuple[str, str]]  # all of the letter's, as its message's To names them


CONNECTIONS = 4  # SMTP connections used at once
LEASE = timedelta(minutes=10)  # a claim older than this belongs to a dispatcher presumed dead
UNREACHABLE = 3  # messages in a row that found no server: the run stops and defers the rest at once
RETRY_FIRST, RETRY_MOST = timedelta(minutes=1), timedelta(minutes=30)  # a deferred copy's wait, doubling


def retry_delay(attempts: int) -> timedelta:
    """How long a copy deferred after `attempts` tries waits: 1, 2, 4 … minutes, at most 30."""
    return min(RETRY_FIRST * int(2 ** min(max(attempts - 1, 0), 10)), RETRY_MOST)


def worker_name() -> str:
    """This process, as its claims name it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _claimer_is_gone(claimed_by: str | None) -> bool:
    """A claim by a process of this machine that no longer runs can be taken over at once."""
    if not claimed_by or ":" not in claimed_by:
        return True
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _claimable(now: datetime) -> ColumnElement[bool]:
    sending = and_(
        RecipientRecord.status == "sending",
        or_(RecipientRecord.claimed_at.is_(None), RecipientRecord.claimed_at < now - LEASE),
    )
    return or_(RecipientRecord.status == "pending", sending)


def due_recipients(url: str, letter_ids: list[int] | None = None, *, waiting: bool = False) -> list[tuple[int, int]]:
    """Outbox rows still to send, of letters that went out, as (row, letter), a letter's rows together: pending
    ones, and those a dead dispatcher left 'sending' (its claim expired, or its process on this machine is
    gone)."""
    now = utcnow()
    with transaction(url) as session:
        query = (
            select(
                RecipientRecord.id,
                RecipientRecord.letter_id,
                RecipientRecord.status,
                RecipientRecord.claimed_by,
                RecipientRecord.claimed_at,
            )
            .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
            .where(LetterRecord.status.in_(OUT), RecipientRecord.status.in_(("pending", "sending")))
        )
        if not waiting:  # only what is due: a deferred copy waits its turn
            query = query.where(or_(RecipientRecord.retry_at.is_(None), RecipientRecord.retry_at <= now))
        query = query.order_by(RecipientRecord.letter_id, RecipientRecord.position)
        if letter_ids is not None:
            query = query.where(RecipientRecord.letter_id.in_(letter_ids))
        return [
            (rid, letter_id)
            for rid, letter_id, status, by, at in session.execute(query)
            if status == "pending" or at is None or at < now - LEASE or _claimer_is_gone(by)
        ]


def batches(rows: list[tuple[int, int]], size: int) -> list[list[int]]:
    """The rows (row, letter) in batches of at most `size`, cut between two letters where the batch holds one
    (a letter's recipients in one batch are one message); a letter with more recipients than that is cut."""
    out: list[list[int]] = []
    start = 0
    while start < len(rows):
        end = min(start + size, len(rows))
        if end < len(rows) and rows[end][1] == rows[end - 1][1]:  # the cut would split a letter
            first = end - 1
            while first > start and rows[first - 1][1] == rows[end][1]:
                first -= 1
            if first > start:
                end = first  # the letter goes whole into the next batch
        out.append([rid for rid, _ in rows[start:end]])
        start = end
    return out


def dispatch(
    url: str, config: SmtpConfig | None = None, letter_ids: list[int] | None = None, *, waiting: bool = True
) -> DispatchReport:
    """Send what is still to send (all letters, or the given ones); waiting: deferred copies too, before their
    time (a person asked), else only what is due. Safe to run again at any time and from several processes."""
    return asyncio.run(_dispatch(url, config or smtp_config(), due_recipients(url, letter_ids, waiting=waiting)))


@dataclass
class _Item:
    rid: int
    letter_id: int
    unit: str
    to: tuple[str, str]
    message_id: str
    outcome: Outcome | None = None


async def _dispatch(url: str, config: SmtpConfig, due: list[tuple[int, int]]) -> DispatchReport:
    """Claim, send, record, batch after batch, each step in the shadow of another: while a batch is sent, the
    next is claimed (in a thread) and the one before recorded (in another), so the database and the mail
    server work at the same time. Every batch claimed is recorded before this returns or raises: sent, or,
    once the server is found unreachable, deferred untried."""
    report = DispatchReport()
    senders = [Sender(config) for _ in range(CONNECTIONS)]
    letters: dict[int, _Outgoing] = {}
    me = worker_name()
    recording: asyncio.Future[None] | None = None
    breaker = _Breaker()
    pool, drawn = drawn_ahead(url, list(dict.fromkeys(letter_id for _, letter_id in due)))
    cut = batches(due, BATCH)
    letter_of = dict(due)

    def claim(batch: list[int]) -> asyncio.Future[list[_Item]]:
        return asyncio.ensure_future(asyncio.to_thread(_claim, url, batch, me, letters, drawn))

    async def record(items: list[_Item]) -> None:
        nonlocal recording
        if recording is not None:
            await recording
        recording = asyncio.ensure_future(asyncio.to_thread(_record, url, items, report))

    claiming = claim(cut[0]) if cut else None
    try:
        done = 0
        for i, batch in enumerate(cut):
            assert claiming is not None
            items = await claiming
            claiming = claim(cut[i + 1]) if i + 1 < len(cut) and not breaker.open else None
            await _send_all(items, senders, letters, breaker)  # with the server unreachable: deferred untried
            ahead = {letter_of[rid] for rid in cut[i + 1]} if i + 1 < len(cut) else set()
            for letter_id in {item.letter_id for item in items} - ahead:
                letters.pop(letter_id, None)  # its PDF and DOCX are not kept for the whole run (800 letters: 200 MB)
            await record(items)
            done += len(batch)
            progress.report("messages", done, len(due))
            if breaker.open:
                break  # the rest stays pending, untried: nothing more claimed, nothing lost
        if breaker.in_a_row:  # the run ended finding no server: what it deferred waits for the server
            report.gave_up = breaker.reason
    finally:
        try:
            if claiming is not None:  # claimed ahead and never sent (an error above): put back, untried
                left = await claiming
                breaker.stop("the dispatch stopped")
                await _send_all(left, senders, letters, breaker)
                await record(left)
            if recording is not None:
                await recording
        finally:
            for sender in senders:
                await sender.close()
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
    return report


def _claim(
    url: str, ids: list[int], me: str, letters: dict[int, _Outgoing], drawn: dict[int, Future[bytes]]
) -> list[_Item]:
    """Mark the rows 'sending' under this process's name, committed before anything goes to the server.
    Rows another dispatcher has claimed meanwhile are skipped: the UPDATE takes only what is still free."""
    now = utcnow()
    gone = set()
    with transaction(url) as session:
        for rid, by in session.execute(
            select(RecipientRecord.id, RecipientRecord.claimed_by).where(
                RecipientRecord.id.in_(ids), RecipientRecord.status == "sending"
            )
        ):
            if _claimer_is_gone(by):
                gone.add(rid)
        free = or_(_claimable(now), and_(RecipientRecord.status == "sending", RecipientRecord.id.in_(gone)))
        claimed = set(
            session.scalars(
                update(RecipientRecord)
                .where(RecipientRecord.id.in_(ids), free)
                .values(status="sending", claimed_by=me, claimed_at=now, attempts=RecipientRecord.attempts + 1)
                .returning(RecipientRecord.id)
            )
        )
        items = []
        rows = session.scalars(
            select(RecipientRecord).where(RecipientRecord.id.in_(claimed)).order_by(RecipientRecord.id)
        ).all()
        for row in rows:
            if row.letter_id not in letters:
                record = session.get_one(LetterRecord, row.letter_id)
                content = letter_content(record)
                document = session.get(LetterDocument, record.id)
                everyone = session.execute(
                    select(RecipientRecord.name, RecipientRecord.email)
                    .where(RecipientRecord.letter_id == record.id)
                    .order_by(RecipientRecord.position)
                )
                letters[row.letter_id] = _Outgoing(
                    content,
                    record.sha256,
                    _issuer_email(session, record),
                    docx_of(drawn.get(record.id), content),
                    document.pdf if document is not None else None,
                    [(name, email) for name, email in everyone],
                )
            outgoing = letters[row.letter_id]
            row.message_id = row.message_id or letter_message_id(
                row.letter_id, outgoing.sha256, _domain(outgoing.from_email)
            )
            items.append(_Item(row.id, row.letter_id, row.unit_code, (row.name, row.email), row.message_id))
    order = {rid: i for i, rid in enumerate(ids)}
    return sorted(items, key=lambda item: order[item.rid])


class _Breaker:
    """Counts messages in a row that found no server; past UNREACHABLE the run stops trying."""

    def __init__(self) -> None:
        self.in_a_row, self.reason = 0, ""

    @property
    def open(self) -> bool:
        return self.in_a_row >= UNREACHABLE

    def stop(self, reason: str) -> None:
        """Open it: what is still to send is deferred untried."""
        self.in_a_row, self.reason = UNREACHABLE, self.reason or reason

    def saw(self, outcomes: list[Outcome]) -> None:
        """One message's outcomes (one per recipient): it found no server if none of them did."""
        if outcomes and all(o.unreachable for o in outcomes):
            self.in_a_row += 1
            self.reason = f"the mail server could not be reached ({outcomes[0].detail})"
        elif any(not o.deferred for o in outcomes):
            self.in_a_row = 0


async def _send_all(
    items: list[_Item], senders: list[Sender], letters: dict[int, _Outgoing], breaker: _Breaker
) -> None:
    """Each connection takes the next message (a letter's recipients in this batch, sharing one Message-ID)
    until none is left. Whatever goes wrong with one message is its own outcome: the others go on. Once the
    server is found unreachable, the rest is deferred untried."""
    groups: dict[tuple[int, str], list[_Item]] = {}
    for item in items:
        groups.setdefault((item.letter_id, item.message_id), []).append(item)
    queue = iter(groups.values())
    built: dict[str, Message] = {}

    async def work(sender: Sender) -> None:
        async with smtp_slot():  # a connection is open only while it holds a slot (a Prefect server's limit)
            try:
                await send_share(sender)
            finally:
                await sender.close()

    async def send_share(sender: Sender) -> None:
        for group in queue:
            if breaker.open:
                for item in group:
                    item.outcome = Outcome(False, f"not tried: {breaker.reason}", 0, deferred=True, unreachable=True)
                continue
            first = group[0]
            outgoing = letters[first.letter_id]
            try:
                message = built.get(first.message_id)
                if message is None:
                    message = built[first.message_id] = build_message(
                        outgoing.letter,
                        sender=(outgoing.letter.issuer_name, outgoing.from_email),
                        recipients=outgoing.recipients,
                        msg_id=first.message_id,
                        sent=datetime.now().astimezone(),
                        docx=outgoing.docx,
                        pdf=outgoing.pdf,
                    )
                outcomes = await sender.send_many(message, outgoing.from_email, [item.to[1] for item in group])
                for item in group:
                    item.outcome = outcomes[item.to[1]]
            except Exception as exc:  # a fault of this message alone: recorded as its failure, the batch goes on
                for item in group:
                    item.outcome = Outcome(False, f"cannot be sent: {type(exc).__name__}: {exc}", 1)
            breaker.saw([item.outcome for item in group if item.outcome is not None])

    await asyncio.gather(*(work(sender) for sender in senders[: max(1, min(len(senders), len(groups)))]))


def _record(url: str, items: list[_Item], report: DispatchReport) -> None:
    """The server's answers, in one transaction: each row's state, its event, the report it now owes."""
    with transaction(url) as session:
        touched: dict[int, LetterRecord] = {}
        owing: dict[int, list[str]] = {}  # letter -> recipients that now owe a report
        rows = {
            r.id: r
            for r in session.scalars(select(RecipientRecord).where(RecipientRecord.id.in_([i.rid for i in items])))
        }
        for item in items:
            outcome = item.outcome
            assert outcome is not None, "every claimed item was attempted"
            status = "sent" if outcome.sent else ("pending" if outcome.deferred else "failed")
            row = rows[item.rid]
            row.status, row.last_error = status, (None if outcome.sent else outcome.detail)
            row.sent_at = utcnow() if outcome.sent else None
            row.claimed_by = row.claimed_at = None
            row.retry_at = utcnow() + retry_delay(row.attempts) if status == "pending" else None
            if row.retry_at is not None:
                report.retry_at = min(report.retry_at or row.retry_at, row.retry_at)
            kind = {"sent": "message.sent", "failed": "message.failed", "pending": "message.deferred"}[status]
            record = touched.get(item.letter_id) or touched.setdefault(
                item.letter_id, session.get_one(LetterRecord, item.letter_id)
            )
            events.record(
                session,
                record.cascade_id,
                kind,
                "chidao",
                {
                    "unit": item.unit,
                    "email": item.to[1],
                    "message_id": item.message_id,
                    "sha256": record.sha256,
                    "detail": outcome.detail,
                    "attempts": outcome.attempts,
                },
                letter_id=record.id,
            )
            if outcome.sent and record.kind == "letter":
                owing.setdefault(record.id, []).append(item.unit)
            elif outcome.sent:
                report_went_up(session, record)  # a BÁO CÁO the level above has is the unit's report
            report.deliveries.append(Delivery(item.letter_id, item.unit, item.to[1], status, outcome.detail))
        for letter_id, units in owing.items():
            open_requests(session, touched[letter_id], units)
        session.flush()
        for record in touched.values():
            _settle(session, record)


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


class SendingUnavailable(Exception):
    """Letters cannot be sent as configured now (the Prefect server or its dispatch deployment is missing)."""


def check_sending() -> None:
    """What sending after a signature needs, checked before anything is numbered: a well-formed SMTP URL
    (ValueError), or, with CHIDAO_DISPATCH=deployment, a reachable Prefect server that has the `dispatch`
    deployment (SendingUnavailable)."""
    smtp_config()
    if settings().dispatch != "deployment":
        return
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name("dispatch/dispatch")
    except ObjectNotFound:
        raise SendingUnavailable(
            "CHIDAO_DISPATCH=deployment, but the Prefect server has no 'dispatch/dispatch' deployment "
            "(prefect --no-prompt deploy --all)"
        ) from None
    except Exception as exc:  # httpx's and Prefect's many ways of saying the server is not there
        raise SendingUnavailable(f"the Prefect server cannot be reached ({type(exc).__name__}: {exc})") from None


def send_letters(url: str, letter_ids: list[int] | None) -> DispatchReport:
    """These letters now (their deferred copies too), and any other copy whose time has come: where no
    schedule runs (the embedded default), the next command that sends mail sends what is due."""
    config = smtp_config()
    report = dispatch(url, config, letter_ids)
    if letter_ids is not None and not report.gave_up:
        report.deliveries += dispatch(url, config, None, waiting=False).deliveries
    return report
