"""The inbox: the open letters waiting for someone now, to sign or to prepare (read on every page of the desk)."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased

from chidao.approval import OPEN, OUT, holders_from
from db.cascades import cascade_inputs
from db.models import LetterRecord
from hierarchy.graph import Hierarchy


def pending(session: Session, user: str | None = None) -> list[LetterRecord]:
    """Open letters whose letter above has gone out, waiting for that user (if given): to sign (an approver,
    once a unit's drafter has submitted it) or to prepare (a drafter, until they submit it).

    One query of the columns that decide it (with the letter above's status), each cascade's hierarchy
    looked up once, and the whole rows of the letters kept only (an inbox is read on every page view)."""
    open_letters = session.execute(_OPEN_LETTERS).tuples()
    hierarchies: dict[int, Hierarchy] = {}
    kept = []
    for letter_id, cascade_id, unit_code, status, submitted_at in open_letters:
        if user is not None:
            if cascade_id not in hierarchies:
                hierarchies[cascade_id] = cascade_inputs(session, cascade_id)[1]
            if user not in holders_from(hierarchies[cascade_id], unit_code, status, submitted_at):
                continue
        kept.append(letter_id)
    if not kept:
        return []
    rows = {r.id: r for r in session.scalars(select(LetterRecord).where(LetterRecord.id.in_(kept)))}
    return [rows[letter_id] for letter_id in kept]


_ABOVE = aliased(LetterRecord)
# pending's query, built once: building it (the alias above all) cost more than running it.
_OPEN_LETTERS = (
    select(
        LetterRecord.id, LetterRecord.cascade_id, LetterRecord.unit_code, LetterRecord.status, LetterRecord.submitted_at
    )
    .outerjoin(_ABOVE, _ABOVE.id == LetterRecord.parent_id)
    .where(LetterRecord.status.in_(OPEN), or_(LetterRecord.parent_id.is_(None), _ABOVE.status.in_(OUT)))
    .order_by(LetterRecord.cascade_id, LetterRecord.depth, LetterRecord.id)
)
