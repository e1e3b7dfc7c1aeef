"""Report requests and submissions. Functions take the session; the caller commits.

A request is opened for each recipient that owes a report (the directive's `report.from`, else the units the
letter's writer directs) when its copy of a letter is accepted by the mail server: the recipient owes the
letter's issuer a report, by the deadline of its level, or on request until the issuer asks for the reports
(`reports request`), from which moment every letter that goes out carries its level's deadline.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from chidao.refusals import Refused
from chidao.settings import settings
from db import events
from db.base import utcnow
from db.cascades import cascade_inputs
from db.models import Event, LetterRecord, PendingConsolidation, Report, ReportAttachment, ReportRequest
from hierarchy.graph import Hierarchy
from inputs.vietnamese import file_name
from letters.directive import Directive
from reports.content import ReportContent


class ReportError(Exception):
    """A report that cannot be taken; the message says why."""


class NotReporter(Refused):
    def __init__(self, user: str, request: ReportRequest, allowed: list[str]) -> None:
        who = ", ".join(allowed) or "nobody"
        super().__init__(
            f"{user!r} may not report for {request.unit_code} (request {request.id}; may: {who})",
            user=user,
            cascade_id=request.cascade_id,
            action="report",
            request=request.id,
        )


def reporters_of(hierarchy: Hierarchy, unit_code: str) -> list[str]:
    unit = hierarchy.unit(unit_code)
    return [p.id for p in (*unit.reporters, *unit.approvers)]


def local_date(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(settings().timezone)).date()


def demanded_due(session: Session, cascade_id: int, before_seq: int | None = None) -> date | None:
    """The deadline the issuer gave its own recipients when it last asked for the reports of the cascade
    (`reports request`, the event report.demanded), or None; before_seq: as the record stood before that event."""
    query = select(Event.payload).where(Event.cascade_id == cascade_id, Event.kind == "report.demanded")
    if before_seq is not None:
        query = query.where(Event.seq < before_seq)
    payload = session.scalar(query.order_by(Event.seq.desc()).limit(1))
    return date.fromisoformat(json.loads(payload)["due"]) if payload else None


def as_asked(session: Session, cascade_id: int, directive: Directive, before_seq: int | None = None) -> Directive:
    """The cascade's directive as it stands: one that said 'on request', once its issuer has asked for the
    reports, carries the deadline asked for (Directive.asked), so that every letter signed and every request
    opened after that moment carries its level's deadline. Any other directive is returned as recorded."""
    if directive.report.due != "on_request":
        return directive
    due = demanded_due(session, cascade_id, before_seq)
    return directive.asked(due) if due is not None else directive


def rules_of(session: Session, cascade_id: int) -> tuple[Directive, Hierarchy]:
    """The cascade's recorded inputs, the directive as it stands now (as_asked)."""
    directive, hierarchy = cascade_inputs(session, cascade_id)
    return as_asked(session, cascade_id, directive), hierarchy


def drafts_report(directive: Directive, hierarchy: Hierarchy, letter: LetterRecord) -> bool:
    """Whether the unit that wrote `letter` consolidates its recipients' reports into a BÁO CÁO: not the
    hierarchy's root, which reports to nobody (the reports it receives end the cascade), nor a unit below the
    issuer that owes no report itself (report.from): its units' reports stay with it."""
    if hierarchy.parent(letter.unit_code) is None:
        return False
    return letter.depth == 0 or directive.report.owed_by(hierarchy, letter.unit_code)


def _reports_awaited(session: Session, letter: LetterRecord, directive: Directive, hierarchy: Hierarchy) -> None:
    """A request was just opened on this letter: its unit's BÁO CÁO waits for it (chidao.consolidation reads
    the pending rows instead of every letter of the cascade)."""
    if not drafts_report(directive, hierarchy, letter):
        return
    pending = session.get(PendingConsolidation, letter.id)
    if pending is not None:
        pending.reports_in = False  # a copy delivered late opened one more
        return
    drafted = session.scalar(
        select(LetterRecord.id).where(
            LetterRecord.cascade_id == letter.cascade_id,
            LetterRecord.unit_code == letter.unit_code,
            LetterRecord.kind == "report",
        )
    )
    if drafted is None:
        session.add(PendingConsolidation(letter_id=letter.id, cascade_id=letter.cascade_id, reports_in=False))


# Built once: a statement run with every report is not built and keyed again each time. On the table, not
# the ORM class: nothing for the session to synchronise (the row is only read by consolidation).
_PENDING = PendingConsolidation.metadata.tables[PendingConsolidation.__tablename__]
_MARK_REPORTS_IN = (
    update(_PENDING)
    .where(
        _PENDING.c.letter_id == bindparam("letter"),
        ~exists().where(ReportRequest.letter_id == bindparam("letter"), ReportRequest.status == "open"),
    )
    .values(reports_in=True)
)


def open_requests(session: Session, letter: LetterRecord, unit_codes: list[str]) -> list[str]:
    """Open the requests these recipients owe for this letter, each once, for those that owe a report
    (report.from, else the units the letter's writer directs: a unit only asked to cooperate owes none and is
    not chased); returns the units whose request was opened now. One read for them all and one INSERT, as a
    dispatch batch records hundreds of deliveries at a time (as ORM objects, SQLite took one INSERT each)."""
    found = set(
        session.scalars(
            select(ReportRequest.unit_code).where(
                ReportRequest.letter_id == letter.id, ReportRequest.unit_code.in_(unit_codes)
            )
        )
    )
    new = [code for code in dict.fromkeys(unit_codes) if code not in found]
    if not new:
        return []
    directive, hierarchy = rules_of(session, letter.cascade_id)
    new = [code for code in new if directive.report.owed_by(hierarchy, code)]
    if not new:
        return []
    root_issued = session.scalar(
        select(LetterRecord.issued_on).where(
            LetterRecord.cascade_id == letter.cascade_id, LetterRecord.depth == 0, LetterRecord.kind == "letter"
        )
    )
    due = directive.report.due_for(letter.depth, root_issued)
    session.execute(
        insert(ReportRequest),
        [
            {
                "cascade_id": letter.cascade_id,
                "letter_id": letter.id,
                "unit_code": code,
                "issuer_code": letter.unit_code,
                "due": due,
            }
            for code in new
        ],
    )
    for code in new:
        events.record(
            session,
            letter.cascade_id,
            "report.requested",
            "chidao",
            {"unit": code, "to": letter.unit_code, "due": due.isoformat() if due else None},
            letter_id=letter.id,
        )
    _reports_awaited(session, letter, directive, hierarchy)
    return new


def find_request(
    session: Session, request_id: int | None = None, cascade_id: int | None = None, unit: str | None = None
) -> ReportRequest:
    """By id, or by cascade and unit (a unit receives one letter per cascade)."""
    if request_id is not None:
        request = session.get(ReportRequest, request_id)
        if request is None:
            raise ReportError(f"no report request with id {request_id}")
        return request
    found = session.scalar(
        select(ReportRequest).where(ReportRequest.cascade_id == cascade_id, ReportRequest.unit_code == unit)
    )
    if found is None:
        raise ReportError(
            f"unit {unit} owes no report in cascade {cascade_id} (its letter may not have reached it yet)"
        )
    return found


@dataclass(frozen=True)
class Attachment:
    """A file sent with a report; its name is kept without any folder or control character."""

    filename: str
    content_type: str
    data: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "filename", file_name(self.filename))


MAX_ATTACHMENT = 10 * 1024 * 1024


def authorise(session: Session, request: ReportRequest, user: str) -> None:
    """NotReporter unless this person reports for the request's unit (its reporters and approvers)."""
    _, hierarchy = cascade_inputs(session, request.cascade_id)
    allowed = reporters_of(hierarchy, request.unit_code)
    if user not in allowed:
        raise NotReporter(user, request, allowed)


def submit(
    session: Session,
    request: ReportRequest,
    user: str,
    content: ReportContent,
    source: str,
    at: datetime | None = None,
    attachment: Attachment | None = None,
) -> Report:
    """Take a report (or a correction: a new version, the earlier kept); a late one is taken and marked late."""
    authorise(session, request, user)
    if attachment is not None and len(attachment.data) > MAX_ATTACHMENT:
        raise ReportError(f"the attachment {attachment.filename!r} is over {MAX_ATTACHMENT // 1024 // 1024} MB")
    return record_report(session, request, user, content, source, at, attachment)


def record_report(
    session: Session,
    request: ReportRequest,
    user: str,
    content: ReportContent,
    source: str,
    at: datetime | None = None,
    attachment: Attachment | None = None,
) -> Report:
    """Record a report once its sender is known to be allowed (a person, or the unit's signed BÁO CÁO); returns
    it as recorded (not attached to the session).

    Plain statements on the session's connection, each built once: the report, its attachment, the request's
    new status, and whether this was the last report the unit's BÁO CÁO waited for; the event is written
    with them at commit. Through the ORM a clerk's report cost seven times what its rows cost to write."""
    moment = at or utcnow()
    late = request.due is not None and local_date(moment) > request.due
    version = 1  # an open request has no report yet: only a correction asks which version it is
    if request.status != "open":
        version += session.scalar(select(func.max(Report.version)).where(Report.request_id == request.id)) or 0
    payload: dict[str, object] = {"request": request.id, "unit": request.unit_code, "version": version, "late": late}
    digest = hashlib.sha256(attachment.data).hexdigest() if attachment is not None else ""
    if attachment is not None:
        payload["attachment"] = {"filename": attachment.filename, "sha256": digest}
    events.record(  # first: on PostgreSQL it takes the cascade's lock, so of two last reports the later sees both
        session,
        request.cascade_id,
        "report.submitted" if version == 1 else "report.corrected",
        user,
        payload,
        letter_id=request.letter_id,
        at=moment,
    )
    row = {
        "request_id": request.id,
        "version": version,
        "submitted_by": user,
        "submitted_at": moment,
        "late": late,
        "content": content.model_dump_json(),
        "source": source,
    }
    session.flush()  # what the session holds unwritten (a delivery's pending BÁO CÁO row) before the statements
    connection = session.connection()
    report_id = connection.execute(_ADD_REPORT, row).scalar_one()
    if attachment is not None:
        connection.execute(
            _ADD_ATTACHMENT,
            {
                "report_id": report_id,
                "filename": attachment.filename,
                "content_type": attachment.content_type,
                "size": len(attachment.data),
                "sha256": digest,
                "data": attachment.data,
            },
        )
    if version == 1:
        status = "late" if late else "received"
        connection.execute(_RECEIVED, {"request": request.id, "status": status, "at": moment})
        set_committed_value(request, "status", status)  # the caller's object says what the row says
        set_committed_value(request, "received_at", moment)
        connection.execute(_MARK_REPORTS_IN, {"letter": request.letter_id})  # the unit's BÁO CÁO may be due
        pending = session.identity_map.get(session.identity_key(PendingConsolidation, request.letter_id))
        if pending is not None:  # read in this transaction (a delivery recorded with it): read it again
            session.expire(pending)
    return Report(id=report_id, **row)


_REPORTS = Report.metadata.tables[Report.__tablename__]
_REQUESTS = ReportRequest.metadata.tables[ReportRequest.__tablename__]
_ADD_REPORT = insert(_REPORTS).returning(_REPORTS.c.id)
_ADD_ATTACHMENT = insert(ReportAttachment.metadata.tables[ReportAttachment.__tablename__])
_RECEIVED = (
    update(_REQUESTS)
    .where(_REQUESTS.c.id == bindparam("request"))
    .values(status=bindparam("status"), received_at=bindparam("at"))
)


def latest(session: Session, request_id: int) -> ReportContent | None:
    source = session.scalar(
        select(Report.content).where(Report.request_id == request_id).order_by(Report.version.desc()).limit(1)
    )
    return ReportContent.model_validate(json.loads(source)) if source else None


def owed_by(session: Session, user: str) -> list[ReportRequest]:
    """Every report request of the units this person reports for, soonest deadline first (received ones too)."""
    requests = session.scalars(select(ReportRequest).order_by(ReportRequest.cascade_id, ReportRequest.id)).all()
    allowed: dict[tuple[int, str], bool] = {}
    out = []
    for request in requests:
        key = (request.cascade_id, request.unit_code)
        if key not in allowed:
            _, hierarchy = cascade_inputs(session, request.cascade_id)
            allowed[key] = user in reporters_of(hierarchy, request.unit_code)
        if allowed[key]:
            out.append(request)
    return sorted(out, key=lambda r: (r.status != "open", r.due or date.max, r.id))


def versions(session: Session, request_id: int) -> list[Report]:
    return list(session.scalars(select(Report).where(Report.request_id == request_id).order_by(Report.version)))
