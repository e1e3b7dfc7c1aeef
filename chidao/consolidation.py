"""Consolidation: when a unit's units have all reported, or its own deadline has come, its BÁO CÁO is drafted.

The BÁO CÁO is a letter of kind 'report': approved by the unit's approvers (numbered BC in its register),
sent up by e-mail like any letter, and once the level above has it, it counts as the unit's own report.
Functions take the session; the caller commits.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from chidao.reporting import local_date, record_report, rules_of
from db import events
from db.cascades import get_cascade, inputs_of, letter_content, store_letter
from db.models import LetterRecord, Report, ReportRequest
from letters.content import Letter
from letters.derive import Citation
from letters.plan import Draft
from reports.consolidate import Received, consolidated, summary
from reports.content import ReportContent


def received_by(session: Session, letter: LetterRecord) -> list[Received]:
    """Each recipient of a letter that owes a report (report.from, else the units the writer directs), and what
    it sent up, in the letter's recipient order; a unit only asked to cooperate is not listed as owing one."""
    directive, hierarchy = inputs_of(session, get_cascade(session, letter.cascade_id))
    requests = {
        r.unit_code: r for r in session.scalars(select(ReportRequest).where(ReportRequest.letter_id == letter.id))
    }
    answered = [r.id for r in requests.values() if r.status != "open"]
    first = dict(
        session.execute(
            select(Report.request_id, Report.submitted_at).where(Report.request_id.in_(answered), Report.version == 1)
        )
        .tuples()
        .all()
    )
    last: dict[int, str] = {}
    for request_id, text in session.execute(
        select(Report.request_id, Report.content).where(Report.request_id.in_(answered)).order_by(Report.version)
    ):
        last[request_id] = text  # the highest version wins
    out = []
    for code in letter_content(letter).recipient_units:
        request = requests.get(code)
        if request is None and not directive.report.owed_by(hierarchy, code):
            continue
        name = hierarchy.unit(code).name
        if request is None or request.status == "open":
            out.append(Received(code, name, "missing"))
            continue
        submitted = first.get(request.id)
        content = ReportContent.model_validate_json(last[request.id]) if request.id in last else None
        out.append(Received(code, name, request.status, local_date(submitted) if submitted else None, content))
    return out


def report_content(session: Session, letter: LetterRecord, today: date) -> Letter:
    """The BÁO CÁO of the unit that wrote `letter`, from what its recipients have sent so far."""
    directive, hierarchy = inputs_of(session, get_cascade(session, letter.cascade_id))
    above = session.get(LetterRecord, letter.parent_id) if letter.parent_id else None
    return consolidated(
        directive,
        hierarchy,
        letter.unit_code,
        Citation.of(letter_content(above)) if above else None,
        Citation.of(letter_content(letter)),
        received_by(session, letter),
        today,
    )


def own_letter(session: Session, report: LetterRecord) -> LetterRecord:
    """The letter whose recipients a BÁO CÁO consolidates: its unit's letter in the same cascade."""
    return session.scalars(
        select(LetterRecord).where(
            LetterRecord.cascade_id == report.cascade_id,
            LetterRecord.unit_code == report.unit_code,
            LetterRecord.kind == "letter",
        )
    ).one()


def draft_report(session: Session, letter: LetterRecord, today: date, actor: str = "chidao") -> LetterRecord:
    """The BÁO CÁO of the unit that wrote `letter`, drafted from what its recipients sent (once)."""
    cascade = get_cascade(session, letter.cascade_id)
    _, hierarchy = inputs_of(session, cascade)
    above = session.get(LetterRecord, letter.parent_id) if letter.parent_id else None
    content = report_content(session, letter, today)
    record, _ = store_letter(
        session,
        cascade,
        Draft(content, above.unit_code if above else None, letter.depth),
        above.id if above else None,
        hierarchy,
        actor,
        kind="report",
    )
    return record


def ready_to_consolidate(session: Session, cascade_id: int, today: date) -> list[LetterRecord]:
    """Sent letters whose writer has no BÁO CÁO yet, and whose recipients have all reported or whose
    writer's own deadline has come. The hierarchy's root reports to nobody: it drafts no BÁO CÁO, the reports
    it receives are the end of the cascade; nor does a unit below the issuer that owes no report (report.from).
    The issuer's own deadline is lead_days working days after its recipients' (the directive's `due`, or the
    deadline its issuer asked for)."""
    directive, hierarchy = rules_of(session, cascade_id)
    written = session.scalars(
        select(LetterRecord).where(
            LetterRecord.cascade_id == cascade_id, LetterRecord.kind == "letter", LetterRecord.status == "sent"
        )
    ).all()
    done = set(
        session.scalars(
            select(LetterRecord.unit_code).where(LetterRecord.cascade_id == cascade_id, LetterRecord.kind == "report")
        )
    )
    by_letter: dict[int, list[str]] = {}
    own_due: dict[str, date | None] = {}
    for letter_id, unit_code, status, due in session.execute(
        select(ReportRequest.letter_id, ReportRequest.unit_code, ReportRequest.status, ReportRequest.due).where(
            ReportRequest.cascade_id == cascade_id
        )
    ):
        by_letter.setdefault(letter_id, []).append(status)
        own_due[unit_code] = due
    top_due = directive.report.issuer_due()
    ready = []
    for letter in written:
        if letter.unit_code in done or letter.id not in by_letter or hierarchy.parent(letter.unit_code) is None:
            continue
        if (
            letter.depth
            and letter.unit_code not in own_due
            and not directive.report.owed_by(hierarchy, letter.unit_code)
        ):
            continue  # owes nobody a report: its units' reports stay with it
        all_in = all(status != "open" for status in by_letter[letter.id])
        due = own_due.get(letter.unit_code) if letter.depth else top_due
        if all_in or (due is not None and today >= due):
            ready.append(letter)
    return ready


def consolidate(session: Session, cascade_id: int, today: date, actor: str = "chidao") -> list[LetterRecord]:
    """Draft every BÁO CÁO that is due now; returns the new drafts."""
    return [draft_report(session, letter, today, actor) for letter in ready_to_consolidate(session, cascade_id, today)]


def consolidate_all(session: Session, today: date, actor: str = "chidao") -> list[LetterRecord]:
    """consolidate() for every cascade with letters out."""
    cascades = session.scalars(select(LetterRecord.cascade_id).where(LetterRecord.status == "sent").distinct()).all()
    return [record for cascade_id in sorted(cascades) for record in consolidate(session, cascade_id, today, actor)]


def report_went_up(session: Session, record: LetterRecord) -> None:
    """A BÁO CÁO the level above has accepted is the unit's report on the letter it received."""
    request = session.scalar(
        select(ReportRequest).where(
            ReportRequest.cascade_id == record.cascade_id, ReportRequest.unit_code == record.unit_code
        )
    )
    if request is None:  # the issuer's report to its own superior ends the cascade
        events.record(
            session, record.cascade_id, "cascade.reported", "chidao", {"report": record.id}, letter_id=record.id
        )
        return
    if request.status != "open":
        return
    own = session.scalar(
        select(LetterRecord).where(
            LetterRecord.cascade_id == record.cascade_id,
            LetterRecord.unit_code == record.unit_code,
            LetterRecord.kind == "letter",
        )
    )
    received = received_by(session, own) if own else []
    content = summary(letter_content(record), received)
    record_report(session, request, f"{record.unit_code}:bao-cao-{record.id}", content, record.markdown)
