"""Who may read what. Acting is decided where the action lives (chidao.approval, chidao.reporting);
reading is decided here, for the desk: a person reads the letters of the units they act for, the
department (the cascade issuer's approvers) reads its whole cascade, an auditor reads everything.

Units and people come from the cascade's own hierarchy snapshot, never from today's file.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from chidao.refusals import Refused
from db.cascades import get_cascade, inputs_of
from db.models import Cascade, LetterRecord, RecipientRecord, ReportRequest
from hierarchy.graph import Hierarchy


@dataclass(frozen=True)
class Reader:
    """The person signed in: their id as the hierarchy names them, and whether they are an auditor."""

    id: str
    auditor: bool = False


class NotVisible(Refused):
    def __init__(self, reader: Reader, what: str, cascade_id: int | None, letter_id: int | None = None) -> None:
        super().__init__(
            f"{reader.id!r} may not see {what}",
            user=reader.id,
            cascade_id=cascade_id,
            action="view",
            letter_id=letter_id,
        )


class ReadOnly(Refused):
    def __init__(self, reader: Reader, action: str, cascade_id: int | None = None) -> None:
        super().__init__(
            f"{reader.id!r} is an auditor: auditors read, they do not {action}",
            user=reader.id,
            cascade_id=cascade_id,
            action=action,
        )


def acts_for(hierarchy: Hierarchy, unit_code: str, person: str) -> bool:
    """Approver, drafter or reporter of the unit."""
    if unit_code not in hierarchy:
        return False
    unit = hierarchy.unit(unit_code)
    return any(p.id == person for p in (*unit.approvers, *unit.drafters, *unit.reporters))


def heads(hierarchy: Hierarchy, unit_code: str, person: str) -> str | None:
    """The unit, or the nearest unit above it, this person approves for (a district's head over her
    communes): its code, else None."""
    code: str | None = unit_code
    while code is not None and code in hierarchy:
        unit = hierarchy.unit(code)
        if any(p.id == person for p in unit.approvers):
            return code
        above = hierarchy.parent(code)
        code = above.code if above is not None else None
    return None


def directs(hierarchy: Hierarchy, cascade: Cascade, person: str) -> bool:
    """An approver of the unit that issued the cascade: the department, which follows all of it."""
    return any(p.id == person for p in hierarchy.unit(cascade.issuer_code).approvers)


def check_cascade(session: Session, reader: Reader, cascade_id: int) -> Hierarchy:
    """The cascade's hierarchy, if the reader may follow the whole cascade; else NotVisible."""
    cascade = get_cascade(session, cascade_id)
    _, hierarchy = inputs_of(session, cascade)
    if not (reader.auditor or directs(hierarchy, cascade, reader.id)):
        raise NotVisible(reader, f"cascade {cascade_id}", cascade_id)
    return hierarchy


def check_letter(session: Session, reader: Reader, letter: LetterRecord) -> Hierarchy:
    """A letter is read by its own unit's people, by the department, by auditors, and once signed by
    the people of the units it is addressed to."""
    cascade = get_cascade(session, letter.cascade_id)
    _, hierarchy = inputs_of(session, cascade)
    if reader.auditor or directs(hierarchy, cascade, reader.id) or acts_for(hierarchy, letter.unit_code, reader.id):
        return hierarchy
    if letter.status in ("approved", "sent"):
        addressed = session.scalars(select(RecipientRecord.unit_code).where(RecipientRecord.letter_id == letter.id))
        if any(acts_for(hierarchy, code, reader.id) for code in addressed):
            return hierarchy
    raise NotVisible(reader, f"letter {letter.id} of unit {letter.unit_code}", letter.cascade_id, letter.id)


def check_subtree(session: Session, reader: Reader, cascade_id: int, unit_code: str) -> Hierarchy:
    """A unit's part of a cascade (the unit and every unit under it) is followed by the department, auditors,
    and the approvers of that unit or of a unit above it (a district's head follows her communes)."""
    cascade = get_cascade(session, cascade_id)
    _, hierarchy = inputs_of(session, cascade)
    if unit_code in hierarchy and (
        reader.auditor or directs(hierarchy, cascade, reader.id) or heads(hierarchy, unit_code, reader.id)
    ):
        return hierarchy
    raise NotVisible(reader, f"the units under {unit_code} in cascade {cascade_id}", cascade_id)


def own_units(session: Session, reader: Reader) -> dict[str, str]:
    """The units this person acts for in any cascade's hierarchy, code -> name (every unit that received a
    letter, for an auditor)."""
    found: dict[str, str] = {}
    for cascade in session.scalars(select(Cascade).order_by(Cascade.id.desc())):
        _, hierarchy = inputs_of(session, cascade)
        if reader.auditor:
            codes: list[str] = list(
                session.scalars(
                    select(RecipientRecord.unit_code)
                    .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
                    .where(LetterRecord.cascade_id == cascade.id)
                    .distinct()
                )
            )
        else:
            codes = [code for code in hierarchy.graph if acts_for(hierarchy, code, reader.id)]
        for code in codes:
            if code in hierarchy:
                found.setdefault(code, hierarchy.unit(code).name)
    return found


def check_unit(session: Session, reader: Reader, unit_code: str) -> None:
    """A unit's incoming register is read by its own people and by auditors."""
    if not (reader.auditor or unit_code in own_units(session, reader)):
        raise NotVisible(reader, f"the letters received by {unit_code}", None)


def check_request(session: Session, reader: Reader, request: ReportRequest) -> Hierarchy:
    """A report request is read by the reporting unit's people, the unit it reports to, the department
    and auditors."""
    cascade = get_cascade(session, request.cascade_id)
    _, hierarchy = inputs_of(session, cascade)
    if (
        reader.auditor
        or directs(hierarchy, cascade, reader.id)
        or acts_for(hierarchy, request.unit_code, reader.id)
        or acts_for(hierarchy, request.issuer_code, reader.id)
    ):
        return hierarchy
    raise NotVisible(reader, f"the report of {request.unit_code} (request {request.id})", request.cascade_id)


def check_may_act(reader: Reader, action: str, cascade_id: int | None = None) -> None:
    """Auditors change nothing, whatever the form they post."""
    if reader.auditor:
        raise ReadOnly(reader, action, cascade_id)
