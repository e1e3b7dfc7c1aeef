"""The letter page and the confirmation before signing, as built for a reader: the printed sheet, the changes
against the generated draft, the form that the drafter or the approvers act with, the recipients and what
became of each copy. The routes in web.routes.letters decide what happens; this module shows it."""

from __future__ import annotations

import difflib
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from chidao import access, approval
from chidao.access import Reader
from chidao.approval import ApprovalError
from chidao.edits import LetterEdit
from chidao.words import unit_label
from db.cascades import cascade_inputs, get_cascade, inputs_of, letter_content
from db.letters import get_letter
from db.models import LetterDocument, LetterRecord, RecipientRecord
from letters.content import Letter
from letters.render import render_markdown
from web import forms
from web.pages import WAIT_WORDS, database, in_vietnamese, looking, render_page
from web.sheet import sheet


def signing_state(unit_code: str, person: str) -> str:
    """ "pin" if the approver types a PIN to sign, "ready" if their key signs unattended, else why they cannot
    sign (in the approver's words)."""
    from chidao import issuing
    from signing.keys import KeyProblem

    try:
        issuing.check_signers(unit_code, person)
        return "pin" if issuing.needs_pin(person) else "ready"
    except KeyProblem as exc:
        return issuing.WORDS.get(exc.kind, issuing.WORDS["other"]) + " Hãy báo quản trị viên."


def delivery_counts(recipients: Any) -> dict[str, int]:
    counts = {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
    for r in recipients:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts


def letter_diff(before_letter: Letter | None, after_letter: Letter) -> list[tuple[str, str]]:
    """The second letter against the first, line by line: ('+', line), ('-', line) or (' ', line)."""
    if before_letter is None:
        return []
    before = render_markdown(before_letter).splitlines()
    after = render_markdown(after_letter).splitlines()
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff(before, after, lineterm="", n=1):
        if line.startswith(("---", "+++")):
            continue
        out.append((line[0] if line[0] in "+-@" else " ", line[1:] if line[0] in "+- " else line))
    return out


def _generated_diff(letter: LetterRecord) -> list[tuple[str, str]]:
    """The edits against the generated draft."""
    if letter.generated is None:
        return []
    after = letter_content(letter).model_copy(update={"number": None, "issued_on": None})
    return letter_diff(Letter.model_validate_json(letter.generated), after)


def letter_row(db: Session, letter: LetterRecord) -> dict[str, Any]:
    content = letter_content(letter)
    _, hierarchy = cascade_inputs(db, letter.cascade_id)  # no Cascade row needed
    unit = hierarchy.unit(letter.unit_code)
    waits = approval.waiting_for(hierarchy, letter)
    returned = approval.returned_reason(db, letter.id)
    if returned is not None and letter.status == "rejected":
        state = "returned"
    else:
        state = "to_draft" if waits == "drafter" else "to_sign"
    return {
        "letter": letter,
        "content": content,
        "unit": unit,
        "label": unit_label(unit),
        "waits": waits,
        "returned": returned,
        "inbox_state": state,
    }


def fields_typed(form: FormData) -> dict[str, Any]:
    count = sum(1 for key in form if key.startswith("section-") and key.endswith("-title"))
    return {
        "opening": forms.nfc_text(form, "opening"),
        "closing": forms.nfc_text(form, "closing"),
        "sections": [
            {"title": forms.nfc_text(form, f"section-{n}-title"), "items": forms.nfc_text(form, f"section-{n}-items")}
            for n in range(count)
        ],
    }


def letter_with_errors(
    request: Request,
    reader: Reader,
    letter_id: int,
    form: FormData,
    errors: dict[str, str],
    status: int = 400,
    fresh_base: bool = False,
) -> Response:
    """The letter page again, with what the person typed and what is wrong with it."""
    fields = fields_typed(form) if "section-0-title" in form else None
    return letter_view(
        request,
        reader,
        letter_id,
        fields=fields,
        errors=errors,
        reason=forms.nfc_text(form, "reason"),
        status=status,
        base=None if fresh_base else str(form.get("base") or "") or None,
    )


def _hidden_edit(form: FormData) -> list[tuple[str, str]]:
    """The edit fields as typed, to carry through the confirmation page."""
    keep = [key for key in form if key in ("opening", "closing", "base") or key.startswith("section-")]
    return [(key, str(form.get(key) or "")) for key in keep]


def confirmation(
    request: Request,
    reader: Reader,
    letter_id: int,
    form: FormData,
    typed: LetterEdit | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The letter exactly as it will be signed now, its recipients, and the form that signs it."""
    try:
        with database(request) as db:
            shown = approval.preview(db, letter_id, reader.id, typed)
            letter = get_letter(db, letter_id)
            _, hierarchy = inputs_of(db, get_cascade(db, letter.cascade_id))
            unit = hierarchy.unit(letter.unit_code)
            recipients = [
                {"name": unit_label(hierarchy.unit(code)) if code in hierarchy else code, "email": email}
                for code, email in db.execute(
                    select(RecipientRecord.unit_code, RecipientRecord.email)
                    .where(RecipientRecord.letter_id == letter_id)
                    .order_by(RecipientRecord.position)
                ).all()
            ]
            current = letter_content(letter)
    except ApprovalError as exc:
        return letter_with_errors(request, reader, letter_id, form, {"action": in_vietnamese(exc)}, status=409)
    changes = letter_diff(current, shown.letter.model_copy(update={"number": None, "issued_on": None}))
    changes = [c for c in changes if not _signature_line(c, current, shown.letter)]
    return render_page(
        request,
        "confirm.html.j2",
        status=status,
        letter=letter,
        unit=unit,
        label=unit_label(unit),
        shown=shown,
        sheet=sheet(shown.letter),
        recipients=recipients,
        hidden=_hidden_edit(form),
        edited=typed is not None,
        changes=changes,
        signing=signing_state(letter.unit_code, reader.id),
        error=error,
    )


def _signature_line(change: tuple[str, str], before: Letter, after: Letter) -> bool:
    """A line that differs only because the signature block is the signer's own (not an edit)."""
    sign, line = change
    block = {*before.signer.titles, before.signer.name, *after.signer.titles, after.signer.name}
    return sign in "+-" and line.strip().strip("*").strip() in block


# letter_view's look-ups, built once: columns only, never a whole row it does not show
_PARENT = select(LetterRecord.unit_code, LetterRecord.status).where(LetterRecord.id == bindparam("id"))
_SIGNED_PDF = select(LetterDocument.letter_id).where(LetterDocument.letter_id == bindparam("id"))


def letter_view(
    request: Request,
    reader: Reader,
    letter_id: int,
    *,
    message: str = "",
    fields: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    reason: str = "",
    status: int = 200,
    base: str | None = None,
) -> Response:
    """A letter: the printed page, the changes made to the draft, the form its drafter or approvers act
    with, its recipients and what became of each copy."""
    with looking(request) as db:
        letter = get_letter(db, letter_id)
        hierarchy = access.check_letter(db, reader, letter)
        content = letter_content(letter)
        unit = hierarchy.unit(letter.unit_code)
        approver = not reader.auditor and reader.id in approval.approvers_of(hierarchy, letter.unit_code)
        drafter = not reader.auditor and reader.id in approval.drafters_of(hierarchy, letter.unit_code)
        waits = approval.waiting_for(hierarchy, letter)
        # who may work on it now: the approvers once it waits for them; its drafter while it is theirs
        role = None
        if approver and waits == "approver":
            role = "approver"
        elif drafter and waits == "drafter":
            role = "drafter"
        recipients = db.scalars(
            select(RecipientRecord).where(RecipientRecord.letter_id == letter.id).order_by(RecipientRecord.position)
        ).all()
        # the letter above: its unit and status only (the whole row carries its content)
        parent = db.execute(_PARENT, {"id": letter.parent_id}).first() if letter.parent_id else None
        signing = signing_state(letter.unit_code, reader.id) if role == "approver" else "ready"
        drafters = [p.name for p in unit.drafters]
        return render_page(
            request,
            "letter.html.j2",
            status=status,
            letter=letter,
            content=content,
            unit=unit,
            label=unit_label(unit),
            sheet=sheet(content),
            diff=_generated_diff(letter),
            fields=fields or forms.edit_fields(content),
            role=role,
            waits=waits,
            wait_label=WAIT_WORDS.get(waits or "", ""),
            drafters=drafters,
            returned=approval.returned_reason(db, letter.id),
            may_act=role is not None,
            parent=parent,
            parent_out=parent is None or parent.status in approval.OUT,
            signing=signing,
            may_resend=approver,
            # issued when signed, so only a signed letter has one; whether it does, not the PDF itself
            signed_pdf=letter.status in approval.OUT and db.execute(_SIGNED_PDF, {"id": letter.id}).first() is not None,
            recipients=recipients,
            recipient_names={
                r.unit_code: unit_label(hierarchy.unit(r.unit_code)) if r.unit_code in hierarchy else r.name
                for r in recipients
            },
            counts=delivery_counts(recipients),
            message=message,
            errors=errors or {},
            reason=reason,
            base=base or letter.sha256,
            typed=fields is not None,
        )
