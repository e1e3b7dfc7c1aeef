"""The reminder sweep: units whose report is due soon or overdue are reminded, once; long-overdue ones
are escalated to the head of the unit above, once.

A reminder row (request, kind) is inserted and committed before its message is sent; the unique
constraint makes a second sweep, or a concurrent one, skip it. A row left 'sending' by a crash is
sent again, with the same Message-ID, by a sweep that starts after its lease has run out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import Message

from sqlalchemy import Select, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from chidao.dispatch import BATCH, CONNECTIONS
from chidao.reporting import local_date
from db import events
from db.base import utcnow
from db.cascades import cascade_inputs, directives_of, get_cascade, inputs_of, letter_content
from db.engine import transaction
from db.models import LetterRecord, Reminder, ReportRequest
from hierarchy.graph import Hierarchy
from letters.calendar import WorkingCalendar
from letters.content import Letter
from letters.dates import short_date
from letters.derive import Citation, derived_letter, root_letter
from letters.directive import Directive
from letters.render import render_markdown, sha256
from mail.message import plain_message
from mail.smtp import Outcome, Sender, SmtpConfig

SENDING_LEASE = timedelta(minutes=10)
# No directive reminds more than 30 working days ahead (letters.directive.Report): 60 calendar days
# cover that even across Tết, so requests due later are not read at all.
HORIZON = timedelta(days=60)


@dataclass
class Notice:
    request_id: int
    kind: str  # due_soon, overdue, escalation
    unit: str
    to: str
    status: str = "sending"


@dataclass
class SweepReport:
    day: date
    working_day: bool
    notices: list[Notice] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for n in self.notices if n.kind == kind and n.status == "sent")


def _kinds(directive: Directive, due: date, today: date) -> list[str]:
    """Which notices a request is owed today, by its deadline and the directive's rules."""
    calendar = directive.report.calendar()
    late = calendar.between(due, today)
    if due >= today:
        return ["due_soon"] if calendar.between(today, due) <= directive.report.remind_before else []
    kinds = ["overdue"]
    if late >= directive.report.escalate_after:
        kinds.append("escalation")
    return kinds


def due_requests(until: date) -> Select[tuple[int, int, str, str, date | None]]:
    """Open requests due by `until` (those past their deadline, or close enough to it, to be owed a notice):
    read through the (status, due) index, nothing due later."""
    return (
        select(
            ReportRequest.id,
            ReportRequest.cascade_id,
            ReportRequest.unit_code,
            ReportRequest.issuer_code,
            ReportRequest.due,
        )
        .where(ReportRequest.status == "open", ReportRequest.due <= until)
        .order_by(ReportRequest.due, ReportRequest.id)
    )


def reminding(session: Session, today: date) -> dict[int, tuple[Directive, date]]:
    """The cascades whose units may be chased today (nobody is on the issuer's day off), each with its
    directive and the latest deadline owed a notice: one within remind_before working days. The sweep then
    reads only the requests that deadline lets in (a third of the open ones in bench/sweep.py), not all
    within the horizon."""
    out = {}
    for cascade_id, directive in directives_of(session).items():
        calendar = directive.report.calendar()
        if calendar.is_working_day(today):
            first_too_far = calendar.plus(today, directive.report.remind_before + 1)
            out[cascade_id] = directive, min(first_too_far - timedelta(days=1), today + HORIZON)
    return out


def plan_notices(session: Session, today: date) -> list[Notice]:
    """Today's notices for every open request, before checking which went out already."""
    rules = reminding(session, today)
    if not rules:
        return []
    hierarchies: dict[int, Hierarchy] = {}
    kinds: dict[tuple[int, date], list[str]] = {}  # thousands of requests share a deadline
    wanted: list[Notice] = []
    until = max(last for _, last in rules.values())
    for request_id, cascade_id, unit, issuer, due in session.execute(due_requests(until)).all():
        assert due is not None  # the query compares it
        owed = kinds.get((cascade_id, due))
        if owed is None:
            rule = rules.get(cascade_id)
            owed = kinds[cascade_id, due] = _kinds(rule[0], due, today) if rule and due <= rule[1] else []
        if not owed:
            continue
        hierarchy = hierarchies.get(cascade_id)
        if hierarchy is None:
            hierarchy = hierarchies[cascade_id] = cascade_inputs(session, cascade_id)[1]
        for kind in owed:
            to = hierarchy.unit(issuer if kind == "escalation" else unit).email
            wanted.append(Notice(request_id, kind, unit, to))
    return wanted


def demand(url: str, config: SmtpConfig, cascade_id: int, user: str, due: date, at: datetime) -> list[Notice]:
    """A report asked for on a directive that said 'on request': `due` is the deadline of the issuer's own
    recipients, as a dated directive's `report.due`; every open request of the cascade gets its level's deadline
    (due, less lead_days per level below the issuer) and one notice, as a letter would carry it down. The drafts
    not yet signed are derived again so that they state their recipients' deadline, and every letter that goes
    out afterwards opens its requests with it (chidao.reporting.as_asked). Only the issuer's approvers may ask."""
    from chidao.approval import NotAllowed, approvers_of

    notices: list[Notice] = []
    with transaction(url) as session:
        cascade = get_cascade(session, cascade_id)
        directive, hierarchy = inputs_of(session, cascade)
        allowed = approvers_of(hierarchy, cascade.issuer_code)
        root = session.scalars(
            select(LetterRecord).where(
                LetterRecord.cascade_id == cascade_id, LetterRecord.depth == 0, LetterRecord.kind == "letter"
            )
        ).one()
        if user not in allowed:
            raise NotAllowed(user, root, "ask for the reports of", allowed)
        report = directive.report.asked(due)
        depths = {
            letter_id: depth
            for letter_id, depth in session.execute(
                select(LetterRecord.id, LetterRecord.depth).where(
                    LetterRecord.cascade_id == cascade_id, LetterRecord.kind == "letter"
                )
            ).all()
        }
        dues: dict[str, str | None] = {}
        reserved = []
        for request in session.scalars(
            select(ReportRequest).where(
                ReportRequest.cascade_id == cascade_id, ReportRequest.status == "open", ReportRequest.due.is_(None)
            )
        ):
            request.due = report.due_for(depths[request.letter_id])
            dues[request.unit_code] = request.due.isoformat() if request.due else None
            to = hierarchy.unit(request.unit_code).email
            reserved.append({"request_id": request.id, "kind": "demand", "to_email": to})
            notices.append(Notice(request.id, "demand", request.unit_code, to))
        if reserved:  # one INSERT for them all (as ORM objects, SQLite took one each)
            session.execute(insert(Reminder), reserved)
        events.record(
            session,
            cascade_id,
            "report.demanded",
            user,
            {"due": due.isoformat(), "requests": len(notices), "dues": dues},
            letter_id=root.id,
            at=at,
        )
        if directive.report.due == "on_request":
            refresh_drafts(session, cascade_id, directive.asked(due), hierarchy)
    asyncio.run(_send(url, config, notices, at))
    return notices


def refresh_drafts(session: Session, cascade_id: int, directive: Directive, hierarchy: Hierarchy) -> list[int]:
    """Derive the cascade's letters not yet signed again from this directive (the one its issuer asked the
    reports of), as approval's refresh_children does when the letter above is numbered: an approver's recorded
    edits are applied again; only what derives from the directive changes. Returns the letters changed."""
    from chidao.approval import OPEN
    from chidao.edits import apply_edits, recorded_edits

    cascade = get_cascade(session, cascade_id)
    changed = []
    rows = session.scalars(
        select(LetterRecord)
        .where(LetterRecord.cascade_id == cascade_id, LetterRecord.kind == "letter", LetterRecord.status.in_(OPEN))
        .order_by(LetterRecord.depth, LetterRecord.id)
    ).all()
    for row in rows:
        if row.parent_id is None:
            fresh: Letter | None = root_letter(directive, hierarchy, cascade.draft_date)
        else:
            above = Citation.of(letter_content(session.get_one(LetterRecord, row.parent_id)))
            fresh = derived_letter(directive, hierarchy, row.unit_code, above, cascade.draft_date)
        if fresh is None:
            continue
        if row.generated is not None:  # edited: the approver's edits stand
            fresh = apply_edits(fresh, recorded_edits(session, row.id))
        content = fresh.model_dump_json()
        if content != row.content:
            markdown = render_markdown(fresh)
            row.content, row.markdown, row.sha256 = content, markdown, sha256(markdown)
            changed.append(row.id)
    return changed


def sweep(url: str, config: SmtpConfig, at: datetime) -> SweepReport:
    """One sweep at the given moment: reserve, then send, the reminders and escalations owed."""
    today = local_date(at)
    with transaction(url) as session:
        wanted = plan_notices(session, today)
        # Left 'sending' by a crash, not by a sweep still at work: older than the lease.
        stale = utcnow() - SENDING_LEASE
        stuck = session.scalars(select(Reminder).where(Reminder.status == "sending", Reminder.created_at < stale)).all()
        resend = {(r.request_id, r.kind) for r in stuck}
    report = SweepReport(today, WorkingCalendar().is_working_day(today))
    fresh = [notice for notice in wanted if (notice.request_id, notice.kind) not in resend]
    reserved: set[tuple[int, str]] = set(resend)
    for start in range(0, len(fresh), RESERVE):
        with transaction(url) as session:
            reserved |= _reserve(session, fresh[start : start + RESERVE])
    report.notices = [notice for notice in wanted if (notice.request_id, notice.kind) in reserved]
    asyncio.run(_send(url, config, report.notices, at))
    return report


RESERVE = 1000  # reminder rows inserted by one statement: a sweep of 60,000 notices commits 60 times, not 60,000


def _reserve(session: Session, notices: list[Notice]) -> set[tuple[int, str]]:
    """Insert these notices' rows, skipping those already there (sent, or being sent by another sweep: the
    unique (request, kind) decides, and PostgreSQL makes a concurrent insert of the same row wait for the
    other's outcome); returns those this sweep reserved."""
    if not notices:
        return set()
    insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
    now = utcnow()
    rows = [
        {"request_id": n.request_id, "kind": n.kind, "to_email": n.to, "status": "sending", "created_at": now}
        for n in notices
    ]
    statement = (
        insert(Reminder)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["request_id", "kind"])
        .returning(Reminder.request_id, Reminder.kind)
    )
    return {(request_id, kind) for request_id, kind in session.execute(statement).tuples()}


async def _send(url: str, config: SmtpConfig, notices: list[Notice], at: datetime) -> None:
    """In batches, as dispatch does: compose a batch in one transaction, send it over a few connections at
    once, record the outcomes in one transaction."""
    senders = [Sender(config) for _ in range(CONNECTIONS)]
    try:
        for start in range(0, len(notices), BATCH):
            batch = notices[start : start + BATCH]
            with transaction(url) as session:
                composed = _messages(session, batch, at)
            outcomes = await _send_batch(senders, composed)
            with transaction(url) as session:
                _record(session, batch, outcomes, at)
    finally:
        for sender in senders:
            await sender.close()


async def _send_batch(senders: list[Sender], composed: list[tuple[Notice, Message, str]]) -> dict[int, Outcome]:
    """Each connection takes the next notice until none is left."""
    outcomes: dict[int, Outcome] = {}
    queue = iter(enumerate(composed))

    async def work(sender: Sender) -> None:
        for i, (notice, message, issuer_email) in queue:
            outcomes[i] = await sender.send(message, issuer_email, notice.to)

    await asyncio.gather(*(work(sender) for sender in senders))
    return outcomes


def _requests(session: Session, notices: list[Notice]) -> dict[int, ReportRequest]:
    ids = [n.request_id for n in notices]
    return {r.id: r for r in session.scalars(select(ReportRequest).where(ReportRequest.id.in_(ids)))}


def _messages(session: Session, notices: list[Notice], at: datetime) -> list[tuple[Notice, Message, str]]:
    """Each notice's message and the address it comes from; each letter read once per batch."""
    requests = _requests(session, notices)
    letters: dict[int, Letter] = {}
    out = []
    for notice in notices:
        request = requests[notice.request_id]
        if request.letter_id not in letters:
            letters[request.letter_id] = letter_content(session.get_one(LetterRecord, request.letter_id))
        letter = letters[request.letter_id]
        _, hierarchy = cascade_inputs(session, request.cascade_id)  # asked of the database once per batch
        message = _compose(notice, request, letter.reference, letter.subject, hierarchy, at)
        out.append((notice, message, hierarchy.unit(request.issuer_code).email))
    return out


def _record(session: Session, notices: list[Notice], outcomes: dict[int, Outcome], at: datetime) -> None:
    """Each reserved row's outcome, and its event."""
    requests = _requests(session, notices)
    rows = {
        (r.request_id, r.kind): r
        for r in session.scalars(select(Reminder).where(Reminder.request_id.in_(list(requests))))
    }
    for i, notice in enumerate(notices):
        outcome = outcomes[i]
        notice.status = "sent" if outcome.sent else "failed"
        rows[(notice.request_id, notice.kind)].status = notice.status
        request = requests[notice.request_id]
        kind = {"escalation": "escalation.sent", "demand": "demand.sent"}.get(notice.kind, "reminder.sent")
        events.record(
            session,
            request.cascade_id,
            kind if outcome.sent else "reminder.failed",
            "chidao",
            {
                "request": request.id,
                "unit": request.unit_code,
                "kind": notice.kind,
                "to": notice.to,
                "detail": outcome.detail,
            },
            letter_id=request.letter_id,
            at=at,
        )


def _compose(
    notice: Notice, request: ReportRequest, reference: str, subject: str, hierarchy: Hierarchy, at: datetime
) -> Message:
    unit, issuer = hierarchy.unit(request.unit_code), hierarchy.unit(request.issuer_code)
    assert request.due is not None
    due = short_date(request.due)
    cited = f"Công văn số {reference} về việc {subject}"
    if notice.kind == "demand":
        title = f"Yêu cầu báo cáo trước ngày {due}"
        body = (
            f"Kính gửi: {unit.name}.\n\n{issuer.name} đề nghị báo cáo kết quả thực hiện {cited} "
            f"về {issuer.self_name} trước ngày {due}.\n"
        )
        to_name = unit.name
    elif notice.kind == "due_soon":
        title = f"Nhắc báo cáo: hạn {due}"
        body = (
            f"Kính gửi: {unit.name}.\n\n{issuer.name} nhắc: báo cáo kết quả thực hiện {cited} "
            f"cần gửi về {issuer.self_name} trước ngày {due}.\n"
        )
        to_name = unit.name
    elif notice.kind == "overdue":
        title = f"Báo cáo quá hạn từ ngày {due}"
        body = (
            f"Kính gửi: {unit.name}.\n\nBáo cáo kết quả thực hiện {cited} đã quá hạn (hạn {due}). "
            f"Đề nghị gửi ngay về {issuer.self_name}.\n"
        )
        to_name = unit.name
    else:
        head = issuer.signer.name if issuer.signer else issuer.name
        title = f"Báo cáo của {unit.name} quá hạn"
        body = (
            f"Kính gửi: {head}.\n\n{unit.name} chưa gửi báo cáo kết quả thực hiện {cited}, hạn {due}. "
            "Đề nghị đôn đốc.\n"
        )
        to_name = head
    msg_id = f"<reminder-{request.id}.{notice.kind}@{issuer.email.rsplit('@', 1)[-1]}>"
    return plain_message(
        title, body, sender=(issuer.name, issuer.email), recipient=(to_name, notice.to), msg_id=msg_id, sent=at
    )
