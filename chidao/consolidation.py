"""Consolidation: when a unit's units have all reported, or its own deadline has come, its BÁO CÁO is drafted.

The BÁO CÁO is a letter of kind 'report': approved by the unit's approvers (numbered BC in its register),
sent up by e-mail like any letter, and once the level above has it, it counts as the unit's own report.
Functions take the session; the caller commits.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, aliased

from chidao.reporting import drafts_report, local_date, record_report, rules_of
from db import events
from db.cascades import cascade_inputs, get_cascade, letter_content, store_letter
from db.models import Cascade, LetterRecord, PendingConsolidation, Report, ReportRequest
from letters.content import Letter
from letters.derive import Citation
from letters.plan import Draft
from reports.consolidate import Received, consolidated, summary
from reports.content import ReportContent


def received_by(session: Session, letter: LetterRecord) -> list[Received]:
    """Each recipient of a letter that owes a report (report.from, else the units the writer directs), and what
    it sent up, in the letter's recipient order; a unit only asked to cooperate is not listed as owing one."""
    directive, hierarchy = cascade_inputs(session, letter.cascade_id)
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
    directive, hierarchy = cascade_inputs(session, letter.cascade_id)
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


def draft_report(
    session: Session, cascade: Cascade, letter: LetterRecord, today: date, actor: str = "chidao"
) -> LetterRecord:
    """The BÁO CÁO of the unit that wrote `letter` (a letter of `cascade`), drafted from what its recipients
    sent (once)."""
    _, hierarchy = cascade_inputs(session, cascade.id)
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
    deadline its issuer asked for).

    Read from the pending rows (PendingConsolidation) the submissions keep, not from every letter and request
    of the cascade: the letters whose reports are all in, and, by a unit's own request, those whose deadline has
    come; so a call costs what is pending, not the cascade's size. A row that will never draft (its unit has
    its BÁO CÁO already, or reports to nobody) is removed on the way."""
    sent = [
        PendingConsolidation.cascade_id == cascade_id,
        LetterRecord.id == PendingConsolidation.letter_id,
        LetterRecord.status == "sent",
    ]
    found = {
        letter.id: letter
        for letter in session.scalars(select(LetterRecord).where(*sent, PendingConsolidation.reports_in))
    }
    # A unit's own deadline: its request on the letter it received (one per cascade).
    own = aliased(ReportRequest)
    for letter in session.scalars(
        select(LetterRecord).where(
            *sent,
            LetterRecord.depth > 0,
            own.cascade_id == cascade_id,
            own.unit_code == LetterRecord.unit_code,
            own.due <= today,
        )
    ):
        found[letter.id] = letter
    issuer = session.scalar(select(LetterRecord).where(*sent, LetterRecord.depth == 0))
    if issuer is not None and issuer.id not in found:
        directive, _ = rules_of(session, cascade_id)  # the issuer's deadline: the directive's, or asked for
        top_due = directive.report.issuer_due()
        if top_due is not None and today >= top_due:
            found[issuer.id] = issuer
    if not found:
        return []
    directive, hierarchy = cascade_inputs(session, cascade_id)
    drafted = set(
        session.scalars(
            select(LetterRecord.unit_code).where(
                LetterRecord.cascade_id == cascade_id,
                LetterRecord.kind == "report",
                LetterRecord.unit_code.in_([letter.unit_code for letter in found.values()]),
            )
        )
    )
    ready, settled = [], []
    for letter_id in sorted(found):
        letter = found[letter_id]
        if letter.unit_code in drafted or not drafts_report(directive, hierarchy, letter):
            settled.append(letter_id)  # nothing to draft, now or later
        else:
            ready.append(letter)
    if settled:
        session.execute(delete(PendingConsolidation).where(PendingConsolidation.letter_id.in_(settled)))
    return ready


def consolidate(session: Session, cascade_id: int, today: date, actor: str = "chidao") -> list[LetterRecord]:
    """Draft every BÁO CÁO that is due now; returns the new drafts."""
    ready = ready_to_consolidate(session, cascade_id, today)
    cascade = get_cascade(session, cascade_id)  # read once: the session forgets rows nobody holds
    drafts = [draft_report(session, cascade, letter, today, actor) for letter in ready]
    if ready:
        done = [letter.id for letter in ready]
        session.execute(delete(PendingConsolidation).where(PendingConsolidation.letter_id.in_(done)))
    return drafts


def consolidate_all(session: Session, today: date, actor: str = "chidao") -> list[LetterRecord]:
    """consolidate() for every cascade with a BÁO CÁO still to draft (the others have nothing to do)."""
    cascades = session.scalars(select(PendingConsolidation.cascade_id).distinct()).all()
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
