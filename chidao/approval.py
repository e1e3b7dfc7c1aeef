"""Approving, editing and rejecting letters: the head signs, the clerk numbers and dates.

Functions take the session; the caller commits. A refused attempt raises NotAllowed (a Refused), which
the caller records with chidao.refusals.record_refusal() in a transaction of its own.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from chidao.refusals import Refused
from chidao.settings import settings
from db import events
from db.cascades import get_cascade, inputs_of, letter_content
from db.letters import get_letter
from db.models import Event, LetterRecord
from db.registers import next_number
from hierarchy.graph import Hierarchy
from hierarchy.model import Signer
from inputs.limits import EDIT
from inputs.sources import InputError, read_source, validate
from letters.content import Letter, LetterSection
from letters.derive import Citation, derived_letter, root_letter
from letters.render import render_markdown, sha256
from letters.signer import NoPosition, signer_for

OUT = ("approved", "sent")  # states in which a letter has been signed and numbered
OPEN = ("draft", "rejected")  # states in which an approver may still act

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class ApprovalError(Exception):
    """An approval action that cannot be done; the message says why."""


class NotAllowed(Refused):
    def __init__(self, user: str, letter: LetterRecord, action: str, approvers: list[str]) -> None:
        names = ", ".join(approvers) or "nobody"
        super().__init__(
            f"{user!r} may not {action} letter {letter.id} of unit {letter.unit_code} (approvers: {names})",
            user=user,
            cascade_id=letter.cascade_id,
            action=action,
            letter_id=letter.id,
        )


class EditSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Text
    items: list[Text] = Field(min_length=1)


class LetterEdit(BaseModel):
    """An approver's edit: the sections (same shape as a directive's), and optionally the opening or closing."""

    model_config = ConfigDict(extra="forbid")
    opening: Text | None = None
    sections: list[EditSection] = Field(min_length=1)
    closing: Text | None = None


def load_edit(path: str | Path) -> LetterEdit:
    """Read an edit file; InputError names the file and line of each problem."""
    src = read_source(path, EDIT)
    if not isinstance(src.data, dict):
        raise InputError([src.problem((), "expected a mapping with 'sections' (and optionally 'opening', 'closing')")])
    return validate(LetterEdit, src)


def today() -> date:
    return datetime.now(ZoneInfo(settings().timezone)).date()


def approvers_of(hierarchy: Hierarchy, unit_code: str) -> list[str]:
    return [a.id for a in hierarchy.unit(unit_code).approvers]


def signer_of(hierarchy: Hierarchy, unit_code: str, user: str) -> Signer:
    """The signature block printed when this approver signs a letter of the unit: their own position and name,
    with the authority their place in the unit gives (ApprovalError if the hierarchy does not say)."""
    unit = hierarchy.unit(unit_code)
    person = next(p for p in unit.approvers if p.id == user)
    try:
        return signer_for(unit, person)
    except NoPosition as exc:
        raise ApprovalError(str(exc)) from None


def _authorise(session: Session, letter: LetterRecord, user: str, action: str) -> Hierarchy:
    _, hierarchy = inputs_of(session, get_cascade(session, letter.cascade_id))
    allowed = approvers_of(hierarchy, letter.unit_code)
    if user not in allowed:
        raise NotAllowed(user, letter, action, allowed)
    return hierarchy


def authorise(session: Session, letter_id: int, user: str, action: str) -> LetterRecord:
    """The letter, if this person approves its unit; else NotAllowed (for a caller that checks before it
    reads the rest of what the person sent, as the desk does with a form)."""
    letter = get_letter(session, letter_id)
    _authorise(session, letter, user, action)
    return letter


def _check_open(session: Session, letter: LetterRecord, action: str) -> None:
    if letter.status not in OPEN:
        raise ApprovalError(f"letter {letter.id} is already {letter.status}; it cannot be {action}")
    if letter.parent_id is not None:
        parent = session.get_one(LetterRecord, letter.parent_id)
        if parent.status not in OUT:
            raise ApprovalError(
                f"letter {letter.id} cites letter {parent.id} of {parent.unit_code}, which is still {parent.status}: "
                "that letter must be approved first"
            )


def _check_deadline(session: Session, letter: LetterRecord, issued_on: date) -> None:
    """A letter may not go out asking for reports by a day already past on the day it is signed."""
    if letter.kind != "letter":
        return
    directive, _ = inputs_of(session, get_cascade(session, letter.cascade_id))
    root_issued = (
        issued_on
        if letter.depth == 0
        else session.scalar(
            select(LetterRecord.issued_on).where(
                LetterRecord.cascade_id == letter.cascade_id, LetterRecord.depth == 0, LetterRecord.kind == "letter"
            )
        )
    )
    due = directive.report.due_for(letter.depth, root_issued)
    if due is not None and due < issued_on:
        raise ApprovalError(
            f"letter {letter.id} asks its recipients to report by {due:%d/%m/%Y}, already past on "
            f"{issued_on:%d/%m/%Y}, the day it would be signed: the issuer must set a later deadline"
        )


def _store(record: LetterRecord, content: Letter) -> None:
    record.content = content.model_dump_json()
    record.markdown = render_markdown(content)
    record.sha256 = sha256(record.markdown)


def edit(
    session: Session, letter_id: int, user: str, change: LetterEdit, actor_note: str | None = None
) -> LetterRecord:
    """Replace a draft's sections (and opening/closing); the generated draft is kept and the diff logged."""
    letter = get_letter(session, letter_id)
    _authorise(session, letter, user, "edit")
    if letter.status not in OPEN:
        raise ApprovalError(f"letter {letter.id} is already {letter.status}; it cannot be edited")
    after = apply_edits(letter_content(letter), [change])
    old_markdown = letter.markdown
    if letter.generated is None:
        letter.generated = letter.content
    _store(letter, after)
    diff = "".join(
        difflib.unified_diff(old_markdown.splitlines(True), letter.markdown.splitlines(True), "before", "after")
    )
    events.record(
        session,
        letter.cascade_id,
        "letter.edited",
        user,
        {"edit": change.model_dump(exclude_none=True), "diff": diff, "sha256": letter.sha256},
        letter_id=letter.id,
    )
    return letter


def apply_edits(letter: Letter, changes: Iterable[LetterEdit]) -> Letter:
    """The letter with each edit applied in turn: sections replaced, opening and closing where given."""
    for change in changes:
        letter = letter.model_copy(
            update={
                "sections": tuple(LetterSection(title=s.title, items=tuple(s.items)) for s in change.sections),
                "opening": change.opening or letter.opening,
                "closing": change.closing or letter.closing,
            }
        )
    return letter


def edits_since_generated(events: Iterable[tuple[str, str]]) -> list[LetterEdit]:
    """A letter's edits, from its (kind, payload) events in order; a regeneration drops the ones before it."""
    edits: list[LetterEdit] = []
    for kind, payload in events:
        if kind == "letter.regenerated":
            edits = []
        elif kind == "letter.edited":
            edits.append(LetterEdit.model_validate(json.loads(payload)["edit"]))
    return edits


def recorded_edits(session: Session, letter_id: int) -> list[LetterEdit]:
    rows = session.execute(
        select(Event.kind, Event.payload)
        .where(Event.letter_id == letter_id, Event.kind.in_(("letter.edited", "letter.regenerated")))
        .order_by(Event.seq)
    ).all()
    return edits_since_generated((kind, payload) for kind, payload in rows)


def approve(
    session: Session,
    letter_id: int,
    user: str,
    *,
    change: LetterEdit | None = None,
    on: date | None = None,
    pin: str | None = None,
    on_paper: bool = False,
) -> LetterRecord:
    """Sign: check who and when, apply an edit, take the register's next number, date it, freeze it, and issue
    it as a PDF with the approver's and the body's digital signatures (pin unlocks the approver's key; on
    paper: signed by hand, the body's signature alone). A signature that cannot be made raises
    SigningRefused and nothing is numbered (the caller rolls back and records the attempt)."""
    from chidao import issuing
    from signing.keys import KeyProblem

    letter = get_letter(session, letter_id)
    hierarchy = _authorise(session, letter, user, "approve")
    _check_open(session, letter, "approved")
    try:
        issuing.check_signers(letter.unit_code, None if on_paper else user)
    except KeyProblem as exc:
        raise issuing.SigningRefused(exc, user=user, letter=letter) from None
    if change is not None:
        edit(session, letter_id, user, change)
    signer = signer_of(hierarchy, letter.unit_code, user)
    issued_on = on or today()
    _check_deadline(session, letter, issued_on)
    number = next_number(session, letter.unit_code, issued_on.year)
    final = letter_content(letter).model_copy(update={"number": number, "issued_on": issued_on, "signer": signer})
    _store(letter, final)
    letter.number, letter.year, letter.issued_on, letter.status = number, issued_on.year, issued_on, "approved"
    events.record(
        session,
        letter.cascade_id,
        "letter.approved",
        user,
        {
            "number": number,
            "reference": final.reference,
            "issued_on": issued_on.isoformat(),
            "signer": signer.model_dump(exclude_none=True),
            "sha256": letter.sha256,
        },
        letter_id=letter.id,
    )
    try:
        issuing.issue(session, letter, final, approver=None if on_paper else user, pin=pin)
    except KeyProblem as exc:
        raise issuing.SigningRefused(exc, user=user, letter=letter) from None
    refresh_children(session, letter, hierarchy)
    return letter


def refresh_children(session: Session, parent: LetterRecord, hierarchy: Hierarchy) -> list[LetterRecord]:
    """Re-derive the open drafts below a letter just numbered, so they cite its number and date.

    An approver's recorded edits are applied again; only what derives from the letter above changes.
    """
    cascade = get_cascade(session, parent.cascade_id)
    directive, _ = inputs_of(session, cascade)
    cite = Citation.of(letter_content(parent))
    children = session.scalars(
        select(LetterRecord).where(
            LetterRecord.parent_id == parent.id, LetterRecord.status.in_(OPEN), LetterRecord.kind == "letter"
        )
    ).all()
    for child in children:
        fresh = derived_letter(directive, hierarchy, child.unit_code, cite, cascade.draft_date)
        if fresh is None:
            continue
        if child.generated is not None:  # edited: the approver's edits stand
            fresh = apply_edits(fresh, recorded_edits(session, child.id))
        _store(child, fresh)
    return list(children)


def regenerate(session: Session, letter_id: int, user: str) -> LetterRecord:
    """Derive an open letter afresh from the directive and the letter above (a BÁO CÁO: from the reports
    received so far), dropping any edit."""
    letter = get_letter(session, letter_id)
    hierarchy = _authorise(session, letter, user, "regenerate")
    if letter.status not in OPEN:
        raise ApprovalError(f"letter {letter.id} is already {letter.status}; it cannot be regenerated")
    cascade = get_cascade(session, letter.cascade_id)
    directive, _ = inputs_of(session, cascade)
    if letter.kind == "report":  # a BÁO CÁO: rebuilt from the reports in hand now, late ones included
        from chidao.consolidation import own_letter, report_content

        fresh: Letter | None = report_content(session, own_letter(session, letter), today())
    elif letter.parent_id is None:
        fresh = root_letter(directive, hierarchy, cascade.draft_date)
    else:
        cite = Citation.of(letter_content(session.get_one(LetterRecord, letter.parent_id)))
        fresh = derived_letter(directive, hierarchy, letter.unit_code, cite, cascade.draft_date)
    assert fresh is not None, "a stored letter always has something to pass down"
    _store(letter, fresh)
    letter.generated, letter.status = None, "draft"
    events.record(
        session, letter.cascade_id, "letter.regenerated", user, {"sha256": letter.sha256}, letter_id=letter.id
    )
    return letter


def reject(session: Session, letter_id: int, user: str, reason: str) -> LetterRecord:
    letter = get_letter(session, letter_id)
    _authorise(session, letter, user, "reject")
    if letter.status != "draft":
        raise ApprovalError(f"letter {letter.id} is {letter.status}; only a draft can be rejected")
    if not reason.strip():
        raise ApprovalError("a rejection needs a reason")
    letter.status = "rejected"
    events.record(session, letter.cascade_id, "letter.rejected", user, {"reason": reason.strip()}, letter_id=letter.id)
    return letter


def pending(session: Session, user: str | None = None) -> list[LetterRecord]:
    """Open letters whose letter above has gone out, that user (if given) may approve."""
    rows = session.scalars(
        select(LetterRecord)
        .where(LetterRecord.status.in_(OPEN))
        .order_by(LetterRecord.cascade_id, LetterRecord.depth, LetterRecord.id)
    ).all()
    parents = {
        p.id: p.status
        for p in session.scalars(
            select(LetterRecord).where(LetterRecord.id.in_({r.parent_id for r in rows if r.parent_id}))
        )
    }
    out = []
    for row in rows:
        if row.parent_id is not None and parents.get(row.parent_id) not in OUT:
            continue
        if user is not None:
            _, hierarchy = inputs_of(session, get_cascade(session, row.cascade_id))
            if user not in approvers_of(hierarchy, row.unit_code):
                continue
        out.append(row)
    return out
