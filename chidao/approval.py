"""Preparing, approving, editing and sending back letters: the drafter prepares, the head signs, the clerk
numbers and dates.

A unit whose hierarchy entry names drafters (chuyên viên) has its drafts prepared by them: a draft is with
its drafter until they submit it (`submit`), then with the approvers, who sign it (`approve`) or send it back
with a reason (`reject`), and it is with the drafter again. A unit without drafters keeps the plain flow: its
approvers edit and sign.

Functions take the session; the caller commits. A refused attempt raises NotAllowed (a Refused), which
the caller records with chidao.refusals.record_refusal() in a transaction of its own.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from chidao.edits import LetterEdit, alters, apply_edits, recorded_edits
from chidao.refusals import Refused
from chidao.settings import settings
from db import events
from db.base import utcnow
from db.cascades import get_cascade, inputs_of, letter_content
from db.letters import get_letter
from db.models import Event, LetterRecord, Register
from db.registers import next_number
from hierarchy.graph import Hierarchy
from hierarchy.model import Signer
from letters.content import Letter
from letters.derive import Citation, derived_letter, root_letter
from letters.render import render_markdown, sha256
from letters.signer import NoPosition, signer_for

OUT = ("approved", "sent")  # states in which a letter has been signed and numbered
OPEN = ("draft", "rejected")  # states in which an approver may still act
DRAFTER_ACTIONS = ("edit", "regenerate", "submit")  # what a unit's drafters may do besides its approvers


class ApprovalError(Exception):
    """An approval action that cannot be done; the message says why (for operators and the record), `words`
    the same for the person at the desk, in Vietnamese."""

    def __init__(self, message: str, words: str | None = None) -> None:
        super().__init__(message)
        self.words = words or "Không thực hiện được thao tác này trên văn bản."


class NotAllowed(Refused):
    def __init__(self, user: str, letter: LetterRecord, action: str, approvers: list[str]) -> None:
        names = ", ".join(approvers) or "nobody"
        who = "may" if action in DRAFTER_ACTIONS else "approvers"
        super().__init__(
            f"{user!r} may not {action} letter {letter.id} of unit {letter.unit_code} ({who}: {names})",
            user=user,
            cascade_id=letter.cascade_id,
            action=action,
            letter_id=letter.id,
        )


def today() -> date:
    return datetime.now(ZoneInfo(settings().timezone)).date()


def approvers_of(hierarchy: Hierarchy, unit_code: str) -> list[str]:
    return [a.id for a in hierarchy.unit(unit_code).approvers]


def drafters_of(hierarchy: Hierarchy, unit_code: str) -> list[str]:
    """Who prepares the unit's letters (none: its approvers do)."""
    return [d.id for d in hierarchy.unit(unit_code).drafters]


def waiting_for(hierarchy: Hierarchy, letter: LetterRecord) -> str | None:
    """Whose move it is on a letter: "drafter" (being prepared, or sent back), "approver" (to sign or send
    back), None (signed)."""
    return _waiting(hierarchy, letter.unit_code, letter.status, letter.submitted_at)


def _waiting(hierarchy: Hierarchy, unit_code: str, status: str, submitted_at: datetime | None) -> str | None:
    """waiting_for, from the columns that decide it (pending asks it without reading whole rows)."""
    if status not in OPEN:
        return None
    if drafters_of(hierarchy, unit_code) and submitted_at is None:
        return "drafter"
    return "approver"


def returned_reason(session: Session, letter_id: int) -> tuple[str, str, datetime] | None:
    """Why the letter was last sent back, by whom and when, unless it was submitted or signed since; else
    None."""
    last = session.scalars(
        select(Event)
        .where(
            Event.letter_id == letter_id,
            Event.kind.in_(("letter.rejected", "letter.submitted", "letter.approved")),
        )
        .order_by(Event.seq.desc())
        .limit(1)
    ).first()
    if last is None or last.kind != "letter.rejected":
        return None
    return str(json.loads(last.payload)["reason"]), last.actor, last.at


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
    """Approvers may do everything to their unit's letters; drafters prepare them (DRAFTER_ACTIONS)."""
    _, hierarchy = inputs_of(session, get_cascade(session, letter.cascade_id))
    allowed = approvers_of(hierarchy, letter.unit_code)
    if action in DRAFTER_ACTIONS:
        allowed += [d for d in drafters_of(hierarchy, letter.unit_code) if d not in allowed]
    if user not in allowed:
        raise NotAllowed(user, letter, action, allowed)
    return hierarchy


def authorise(session: Session, letter_id: int, user: str, action: str) -> LetterRecord:
    """The letter, if this person approves its unit; else NotAllowed (for a caller that checks before it
    reads the rest of what the person sent, as the desk does with a form)."""
    letter = get_letter(session, letter_id)
    _authorise(session, letter, user, action)
    return letter


def _done(letter: LetterRecord, action: str) -> ApprovalError:
    return ApprovalError(
        f"letter {letter.id} is already {letter.status}; it cannot be {action}",
        "Văn bản này đã được ký và cấp số, không còn chờ xử lý.",
    )


def _check_open(session: Session, letter: LetterRecord, action: str) -> None:
    if letter.status not in OPEN:
        raise _done(letter, action)
    if letter.parent_id is not None:
        parent = session.get_one(LetterRecord, letter.parent_id)
        if parent.status not in OUT:
            raise ApprovalError(
                f"letter {letter.id} cites letter {parent.id} of {parent.unit_code}, which is still {parent.status}: "
                "that letter must be approved first",
                "Văn bản cấp trên mà văn bản này trích dẫn chưa được ký, nên chưa thể ký văn bản này.",
            )


def _check_holder(hierarchy: Hierarchy, letter: LetterRecord, user: str, action: str) -> None:
    """A drafter works on a letter while it is with them; once submitted it is the approvers'."""
    if user in approvers_of(hierarchy, letter.unit_code):
        return
    if waiting_for(hierarchy, letter) != "drafter":
        raise ApprovalError(
            f"letter {letter.id} has been submitted to its approvers; its drafter cannot {action} it now",
            "Văn bản đã trình lãnh đạo ký; chuyên viên chỉ sửa được khi văn bản được trả lại.",
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
            f"{issued_on:%d/%m/%Y}, the day it would be signed: the issuer must set a later deadline",
            f"Văn bản yêu cầu báo cáo trước ngày {due:%d/%m/%Y}, ngày đó đã qua: không ký được văn bản đặt hạn đã "
            "qua. Đơn vị phát hành cần đặt hạn mới.",
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
    hierarchy = _authorise(session, letter, user, "edit")
    if letter.status not in OPEN:
        raise _done(letter, "edited")
    _check_holder(hierarchy, letter, user, "edit")
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


def approve(
    session: Session,
    letter_id: int,
    user: str,
    *,
    change: LetterEdit | None = None,
    on: date | None = None,
    pin: str | None = None,
    on_paper: bool = False,
    expect: str | None = None,
) -> LetterRecord:
    """Sign: check who and when, apply an edit, take the register's next number, date it, freeze it, and issue
    it as a PDF with the approver's and the body's digital signatures (pin unlocks the approver's key; on
    paper: signed by hand, the body's signature alone). A signature that cannot be made raises
    SigningRefused and nothing is numbered (the caller rolls back and records the attempt).

    expect: the SHA-256 of the letter as the approver was shown it, numbered and dated (`preview`); if the
    letter to be signed differs in any way (an edit since, another number taken, another day), LetterChanged
    is raised before anything is signed."""
    from chidao import issuing
    from signing.keys import KeyProblem

    letter = get_letter(session, letter_id)
    hierarchy = _authorise(session, letter, user, "approve")
    _check_open(session, letter, "approved")
    if not on_paper:
        _check_submitted(hierarchy, letter)
    try:
        issuing.check_signers(letter.unit_code, None if on_paper else user)
    except KeyProblem as exc:
        raise issuing.SigningRefused(exc, user=user, letter=letter) from None
    if change is not None and alters(letter, change):
        edit(session, letter_id, user, change)
    signer = signer_of(hierarchy, letter.unit_code, user)
    issued_on = on or today()
    _check_deadline(session, letter, issued_on)
    number = next_number(session, letter.unit_code, issued_on.year)
    final = letter_content(letter).model_copy(update={"number": number, "issued_on": issued_on, "signer": signer})
    _store(letter, final)
    if expect is not None and letter.sha256 != expect:  # the caller rolls back: the number is given back
        raise LetterChanged(letter.id)
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
        raise _done(letter, "regenerated")
    _check_holder(hierarchy, letter, user, "regenerate")
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
    letter.generated, letter.status = None, "draft"  # a unit's drafter still has it, until they submit it
    events.record(
        session, letter.cascade_id, "letter.regenerated", user, {"sha256": letter.sha256}, letter_id=letter.id
    )
    return letter


def reject(session: Session, letter_id: int, user: str, reason: str, change: LetterEdit | None = None) -> LetterRecord:
    """Send a draft back with the reason: to its drafter, if the unit has drafters (the letter is theirs
    again, the reason shown to them); else it stays with the approvers, marked sent back. An edit typed with
    it is kept."""
    letter = get_letter(session, letter_id)
    hierarchy = _authorise(session, letter, user, "reject")
    if letter.status != "draft":
        raise ApprovalError(
            f"letter {letter.id} is {letter.status}; only a draft can be rejected",
            "Chỉ trả lại được dự thảo đang chờ ký; văn bản này đã được trả lại hoặc đã ký.",
        )
    if waiting_for(hierarchy, letter) == "drafter":
        raise ApprovalError(
            f"letter {letter.id} is with its drafter, not submitted yet: there is nothing to send back",
            "Văn bản còn ở chuyên viên soạn thảo, chưa trình ký: chưa có gì để trả lại.",
        )
    if not reason.strip():
        raise ApprovalError("a rejection needs a reason", "Hãy ghi lý do trả lại.")
    if change is not None and alters(letter, change):
        edit(session, letter_id, user, change)
    drafters = drafters_of(hierarchy, letter.unit_code)
    letter.status, letter.submitted_at = "rejected", None
    payload: dict[str, object] = {"reason": reason.strip()}
    if drafters:
        payload["to"] = drafters
    events.record(session, letter.cascade_id, "letter.rejected", user, payload, letter_id=letter.id)
    return letter


def submit(session: Session, letter_id: int, user: str, change: LetterEdit | None = None) -> LetterRecord:
    """The drafter hands the draft (with the edit typed, if any) to the unit's approvers to sign."""
    letter = get_letter(session, letter_id)
    hierarchy = _authorise(session, letter, user, "submit")
    if letter.status not in OPEN:
        raise _done(letter, "submitted")
    if not drafters_of(hierarchy, letter.unit_code):
        raise ApprovalError(
            f"unit {letter.unit_code} has no drafters: its approvers sign its drafts as they are",
            "Đơn vị này không có chuyên viên soạn thảo: lãnh đạo ký trực tiếp dự thảo.",
        )
    if waiting_for(hierarchy, letter) != "drafter":
        raise ApprovalError(
            f"letter {letter.id} has been submitted already; it waits for its approvers",
            "Văn bản đã trình lãnh đạo, đang chờ ký.",
        )
    if change is not None and alters(letter, change):
        edit(session, letter_id, user, change)
    letter.status, letter.submitted_at = "draft", utcnow()
    events.record(
        session,
        letter.cascade_id,
        "letter.submitted",
        user,
        {"sha256": letter.sha256, "to": approvers_of(hierarchy, letter.unit_code)},
        letter_id=letter.id,
    )
    return letter


class LetterChanged(ApprovalError):
    """The letter to be signed is not the one the approver was shown."""

    def __init__(self, letter_id: int) -> None:
        super().__init__(
            f"letter {letter_id} is not the letter the approver was shown (edited since, or another number or "
            "day): nothing was signed",
            "Văn bản đã thay đổi kể từ khi anh/chị xem (có người sửa, hoặc số, ngày đã khác). Chưa ký: hãy xem "
            "lại văn bản dưới đây rồi ký.",
        )


@dataclass(frozen=True)
class Preview:
    """A letter exactly as it would be signed now: its number the register's next, today's date, the
    approver's signature block; sha256 is what `approve(expect=…)` checks."""

    letter: Letter
    number: int
    issued_on: date
    sha256: str


def preview(
    session: Session, letter_id: int, user: str, change: LetterEdit | None = None, on: date | None = None
) -> Preview:
    """What approve() would sign: nothing is written, no number is taken (ApprovalError as approve())."""
    letter = get_letter(session, letter_id)
    hierarchy = _authorise(session, letter, user, "approve")
    _check_open(session, letter, "approved")
    _check_submitted(hierarchy, letter)
    content = letter_content(letter)
    if change is not None:
        content = apply_edits(content, [change])
    issued_on = on or today()
    _check_deadline(session, letter, issued_on)
    last = session.scalar(
        select(Register.last_number).where(Register.unit_code == letter.unit_code, Register.year == issued_on.year)
    )
    number = (last or 0) + 1
    signer = signer_of(hierarchy, letter.unit_code, user)
    final = content.model_copy(update={"number": number, "issued_on": issued_on, "signer": signer})
    return Preview(final, number, issued_on, sha256(render_markdown(final)))


def _check_submitted(hierarchy: Hierarchy, letter: LetterRecord) -> None:
    if waiting_for(hierarchy, letter) == "drafter":
        raise ApprovalError(
            f"letter {letter.id} is with its drafter: it is signed once they submit it",
            "Văn bản còn ở chuyên viên soạn thảo; lãnh đạo ký sau khi chuyên viên trình.",
        )


def holders(hierarchy: Hierarchy, letter: LetterRecord) -> list[str]:
    """The people a letter waits for now."""
    return holders_from(hierarchy, letter.unit_code, letter.status, letter.submitted_at)


def holders_from(hierarchy: Hierarchy, unit_code: str, status: str, submitted_at: datetime | None) -> list[str]:
    """holders, from the columns that decide it (an inbox reads only those)."""
    match _waiting(hierarchy, unit_code, status, submitted_at):
        case "drafter":
            return drafters_of(hierarchy, unit_code)
        case "approver":
            return approvers_of(hierarchy, unit_code)
    return []
