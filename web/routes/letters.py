"""The approvers' pages: the inbox, a letter (printed page, changes, recipients), editing, signing,
sending back and drafting afresh."""

from __future__ import annotations

import difflib
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from chidao import access, approval
from chidao.access import Reader
from db.cascades import get_cascade, inputs_of, letter_content
from db.letters import get_letter
from db.models import LetterDocument, LetterRecord, RecipientRecord
from letters.content import Letter
from letters.render import render_html, render_markdown
from web import forms
from web.pages import (
    Checked,
    Id,
    Problem,
    acting,
    database,
    render_page,
    see_other,
    signed_in,
    the_desk,
    unsent,
)

router = APIRouter()


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request) -> Response:
    reader = signed_in(request)
    with database(request) as db:
        waiting = [] if reader.auditor else approval.pending(db, reader.id)
        rows = [_letter_row(db, letter) for letter in waiting]
    return render_page(request, "inbox.html.j2", letters=rows)


@router.get("/letters/{letter_id}", response_class=HTMLResponse)
def letter_page(request: Request, letter_id: Id, m: str = "") -> Response:
    return _letter_view(request, signed_in(request), letter_id, message=m)


@router.get("/letters/{letter_id}/page", response_class=HTMLResponse)
def printed_page(request: Request, letter_id: Id) -> Response:
    """The letter as it prints (Decree 30 layout); the desk frames it, a clerk prints it."""
    reader = signed_in(request)
    with database(request) as db:
        letter = get_letter(db, letter_id)
        access.check_letter(db, reader, letter)
        return HTMLResponse(render_html(letter_content(letter)), headers={"Cache-Control": "private, no-store"})


@router.get("/letters/{letter_id}/pdf")
def pdf(request: Request, letter_id: Id) -> Response:
    """The letter as issued (the PDF with its digital signatures), or a draft as it would print."""
    from chidao.issuing import document_of
    from letters.pdf import render_pdf

    reader = signed_in(request)
    with database(request) as db:
        letter = get_letter(db, letter_id)
        access.check_letter(db, reader, letter)
        content = letter_content(letter)
        document = document_of(db, letter.id)
        if document is None and not content.is_draft:
            raise Problem("Văn bản này được ký trước khi chidao ký số văn bản: không có bản PDF.", 404)
        data = bytes(document.pdf) if document is not None else render_pdf(content).data
    name = f"{content.reference.strip('/').replace('/', '-') or 'du-thao'}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )


@router.post("/letters/{letter_id}/edit", response_class=HTMLResponse)
def edit(request: Request, letter_id: Id, form: Checked) -> Response:
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "edit")
    try:
        change = forms.read_edit(form)
    except forms.FormErrors as exc:
        return _letter_with_errors(request, reader, letter_id, form, exc.errors)
    with database(request) as db:
        acting(lambda: approval.edit(db, letter_id, reader.id, change))
    return see_other(f"/letters/{letter_id}?m=edited")


@router.post("/letters/{letter_id}/approve")
def approve(request: Request, letter_id: Id, form: Checked) -> Response:
    from chidao.dispatch import Queued, SendingUnavailable, check_sending, send_signed

    desk = the_desk(request)
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "approve")
    pin = str(form.get("pin") or "") or None
    try:
        check_sending()
    except (ValueError, SendingUnavailable):
        raise Problem(
            "Chưa gửi được văn bản: cấu hình gửi thư của hệ thống đang lỗi. Văn bản chưa được ký, chưa cấp số; "
            "hãy báo quản trị viên.",
            503,
        ) from None
    with database(request) as db:
        acting(lambda: approval.approve(db, letter_id, reader.id, pin=pin))
    try:
        outcome = send_signed(desk.url, [letter_id])
    except Exception as exc:  # signed and numbered; the outbox keeps every copy until it goes
        raise Problem(unsent(exc), 500) from None
    return see_other(f"/letters/{letter_id}?m={'queued' if isinstance(outcome, Queued) else 'approved'}")


@router.post("/letters/{letter_id}/resend")
def resend(request: Request, letter_id: Id, form: Checked) -> Response:
    """The unit's approver sends the copies that did not go (failed, or waiting to be tried again) now."""
    from chidao.dispatch import send_signed
    from chidao.outbox import resend as put_back

    desk = the_desk(request)
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "resend")
    count = put_back(desk.url, letter_id, None, actor=reader.id)
    if count:
        try:
            send_signed(desk.url, [letter_id])
        except Exception as exc:  # back in the outbox: the next dispatch sends them
            raise Problem(unsent(exc), 500) from None
    return see_other(f"/letters/{letter_id}?m=resent")


@router.post("/letters/{letter_id}/reject")
def reject(request: Request, letter_id: Id, form: Checked) -> Response:
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "reject")
    reason = forms.nfc_text(form, "reason")
    if not reason:
        return _letter_with_errors(request, reader, letter_id, form, {"reason": "Hãy ghi lý do trả lại."})
    with database(request) as db:
        acting(lambda: approval.reject(db, letter_id, reader.id, reason))
    return see_other(f"/letters/{letter_id}?m=rejected")


@router.post("/letters/{letter_id}/regenerate")
def regenerate(request: Request, letter_id: Id, form: Checked) -> Response:
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "regenerate")
    with database(request) as db:
        acting(lambda: approval.regenerate(db, letter_id, reader.id))
    return see_other(f"/letters/{letter_id}?m=regenerated")


def _may_act_on(request: Request, reader: Reader, letter_id: int, action: str) -> None:
    """Before anything the person sent is read: auditors act on nothing, and an approver of the letter's
    unit only (chidao.approval decides, as for the CLI); a refusal names the action tried."""
    with database(request) as db:
        letter = get_letter(db, letter_id)
        access.check_may_act(reader, action, letter.cascade_id)
        approval.authorise(db, letter_id, reader.id, action)


def _signing(unit_code: str, person: str) -> str:
    """ "pin" if the approver types a PIN to sign, "ready" if their key signs unattended, else why they cannot
    sign (in the approver's words)."""
    from chidao import issuing
    from signing.keys import KeyProblem

    try:
        issuing.check_signers(unit_code, person)
        return "pin" if issuing.needs_pin(person) else "ready"
    except KeyProblem as exc:
        return issuing.WORDS.get(exc.kind, issuing.WORDS["other"]) + " Hãy báo quản trị viên."


def _counts(recipients: Any) -> dict[str, int]:
    counts = {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
    for r in recipients:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts


def _diff(letter: LetterRecord) -> list[tuple[str, str]]:
    """The edit against the generated draft, line by line: ('+', line), ('-', line) or (' ', line)."""
    if letter.generated is None:
        return []
    before = render_markdown(Letter.model_validate_json(letter.generated)).splitlines()
    after = render_markdown(letter_content(letter).model_copy(update={"number": None, "issued_on": None})).splitlines()
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff(before, after, lineterm="", n=1):
        if line.startswith(("---", "+++")):
            continue
        out.append((line[0] if line[0] in "+-@" else " ", line[1:] if line[0] in "+- " else line))
    return out


def _letter_row(db: Session, letter: LetterRecord) -> dict[str, Any]:
    content = letter_content(letter)
    _, hierarchy = inputs_of(db, get_cascade(db, letter.cascade_id))
    return {"letter": letter, "content": content, "unit": hierarchy.unit(letter.unit_code)}


def _letter_with_errors(
    request: Request, reader: Reader, letter_id: int, form: FormData, errors: dict[str, str]
) -> Response:
    """The letter page again, with what the person typed and what is wrong with it."""
    count = sum(1 for key in form if key.startswith("section-") and key.endswith("-title"))
    fields = {
        "opening": forms.nfc_text(form, "opening"),
        "closing": forms.nfc_text(form, "closing"),
        "sections": [
            {"title": forms.nfc_text(form, f"section-{n}-title"), "items": forms.nfc_text(form, f"section-{n}-items")}
            for n in range(count)
        ],
    }
    return _letter_view(
        request, reader, letter_id, fields=fields, errors=errors, reason=forms.nfc_text(form, "reason"), status=400
    )


def _letter_view(
    request: Request,
    reader: Reader,
    letter_id: int,
    *,
    message: str = "",
    fields: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    reason: str = "",
    status: int = 200,
) -> Response:
    """A letter: the printed page, the changes made to the draft, the forms its approvers act with, its
    recipients and what became of each copy."""
    with database(request) as db:
        letter = get_letter(db, letter_id)
        hierarchy = access.check_letter(db, reader, letter)
        content = letter_content(letter)
        may_act = not reader.auditor and reader.id in approval.approvers_of(hierarchy, letter.unit_code)
        recipients = db.scalars(
            select(RecipientRecord).where(RecipientRecord.letter_id == letter.id).order_by(RecipientRecord.position)
        ).all()
        parent = db.get(LetterRecord, letter.parent_id) if letter.parent_id else None
        signing = _signing(letter.unit_code, reader.id) if may_act and letter.status in approval.OPEN else "ready"
        return render_page(
            request,
            "letter.html.j2",
            status=status,
            letter=letter,
            content=content,
            unit=hierarchy.unit(letter.unit_code),
            diff=_diff(letter),
            fields=fields or forms.edit_fields(content),
            may_act=may_act and letter.status in approval.OPEN,
            parent=parent,
            parent_out=parent is None or parent.status in approval.OUT,
            signing=signing,
            may_resend=not reader.auditor and reader.id in approval.approvers_of(hierarchy, letter.unit_code),
            signed_pdf=db.get(LetterDocument, letter.id) is not None,
            recipients=recipients,
            counts=_counts(recipients),
            message=message,
            errors=errors or {},
            reason=reason,
        )
