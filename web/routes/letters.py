"""The drafters' and approvers' pages: the inbox, a letter (printed page, changes, recipients), preparing and
submitting it (a unit's drafter), editing, the confirmation before signing, signing, sending back and
drafting afresh.

What is typed is never lost: every form of the letter page carries the edit as typed, and whatever the
button (save, submit, review and sign, send back), a problem brings the page back with it. Signing goes
through a confirmation page that shows the letter exactly as it will be signed (the number it will take, the
day, the signature block) with its recipients; confirming signs that letter or nothing (approval.approve's
`expect`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from chidao import access, approval
from chidao.access import Reader
from chidao.approval import ApprovalError, LetterChanged
from chidao.edits import LetterEdit, alters
from chidao.inbox import pending
from chidao.refusals import record_refusal
from db.cascades import get_cascade, inputs_of, letter_content
from db.letters import get_letter
from flows import publish
from letters.render import render_html
from web import forms
from web.letter_view import confirmation, letter_row, letter_view, letter_with_errors
from web.listing import listing
from web.pages import (
    Checked,
    Id,
    Problem,
    acting,
    database,
    in_vietnamese,
    looking,
    render_page,
    see_other,
    signed_in,
    the_desk,
    unsent,
)

router = APIRouter()

INBOX_STATES = {"to_sign": "Chờ ký", "to_draft": "Cần soạn, trình ký", "returned": "Bị trả lại"}


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, q: str = "", state: str = "", page: str = "1") -> Response:
    reader = signed_in(request)
    with looking(request) as db:
        waiting = [] if reader.auditor else pending(db, reader.id)
        rows = [letter_row(db, letter) for letter in waiting]
    found = listing(
        rows,
        q=q,
        state=state,
        page=page,
        text=lambda r: f"{r['content'].reference} {r['content'].subject} {r['label']} {r['unit'].code}",
        state_of=lambda r: r["inbox_state"],
        states=INBOX_STATES,
    )
    return render_page(request, "inbox.html.j2", letters=found)


@router.get("/letters/{letter_id}", response_class=HTMLResponse)
def letter_page(request: Request, letter_id: Id, m: str = "") -> Response:
    return letter_view(request, signed_in(request), letter_id, message=m)


@router.get("/letters/{letter_id}/page", response_class=HTMLResponse)
def printed_page(request: Request, letter_id: Id) -> Response:
    """The letter as it prints (Decree 30 layout), on a page of its own."""
    reader = signed_in(request)
    with looking(request) as db:
        letter = get_letter(db, letter_id)
        access.check_letter(db, reader, letter)
        return HTMLResponse(render_html(letter_content(letter)), headers={"Cache-Control": "private, no-store"})


@router.get("/letters/{letter_id}/pdf")
def pdf(request: Request, letter_id: Id) -> Response:
    """The letter as issued (the PDF with its digital signatures), or a draft as it would print."""
    from chidao.issuing import document_of
    from letters.pdf import render_pdf

    reader = signed_in(request)
    with looking(request) as db:
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


# --- acting on a letter: every form carries the edit as typed ----------------------------------------------


@router.post("/letters/{letter_id}/edit", response_class=HTMLResponse)
def edit(request: Request, letter_id: Id, form: Checked) -> Response:
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "edit")
    typed = _typed(request, reader, letter_id, form)
    if isinstance(typed, Response):
        return typed
    if typed is None:
        return see_other(f"/letters/{letter_id}?m=unchanged")
    outcome = _act(request, reader, letter_id, form, lambda db: approval.edit(db, letter_id, reader.id, typed))
    return outcome if isinstance(outcome, Response) else see_other(f"/letters/{letter_id}?m=edited")


@router.post("/letters/{letter_id}/submit", response_class=HTMLResponse)
def submit(request: Request, letter_id: Id, form: Checked) -> Response:
    """A drafter hands the letter, as typed, to the unit's approvers."""
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "submit")
    typed = _typed(request, reader, letter_id, form)
    if isinstance(typed, Response):
        return typed
    outcome = _act(request, reader, letter_id, form, lambda db: approval.submit(db, letter_id, reader.id, typed))
    return outcome if isinstance(outcome, Response) else see_other(f"/letters/{letter_id}?m=submitted")


@router.post("/letters/{letter_id}/reject", response_class=HTMLResponse)
def reject(request: Request, letter_id: Id, form: Checked) -> Response:
    """Send back with the reason (to the drafter, where the unit has drafters); an edit typed with it is kept."""
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "reject")
    reason = forms.nfc_text(form, "reason")
    if not reason:
        return letter_with_errors(request, reader, letter_id, form, {"reason": "Hãy ghi lý do trả lại."})
    typed = _typed(request, reader, letter_id, form)
    if isinstance(typed, Response):
        return typed
    outcome = _act(
        request, reader, letter_id, form, lambda db: approval.reject(db, letter_id, reader.id, reason, typed)
    )
    return outcome if isinstance(outcome, Response) else see_other(f"/letters/{letter_id}?m=rejected")


@router.post("/letters/{letter_id}/confirm", response_class=HTMLResponse)
def confirm(request: Request, letter_id: Id, form: Checked) -> Response:
    """The letter as it will be signed, with the edit typed: its number, date, recipients; a PIN if needed."""
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "approve")
    typed = _typed(request, reader, letter_id, form)
    if isinstance(typed, Response):
        return typed
    return confirmation(request, reader, letter_id, form, typed)


@router.post("/letters/{letter_id}/back", response_class=HTMLResponse)
def back(request: Request, letter_id: Id, form: Checked) -> Response:
    """From the confirmation back to the letter, with everything typed (nothing is saved)."""
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "edit")
    return letter_with_errors(request, reader, letter_id, form, {}, status=200)


@router.post("/letters/{letter_id}/approve", response_class=HTMLResponse)
def approve(request: Request, letter_id: Id, form: Checked) -> Response:
    """Sign the letter shown on the confirmation page (its SHA-256 came with the form), or nothing."""
    from chidao.dispatch import SendingUnavailable, check_sending
    from chidao.issuing import SigningRefused
    from flows.approved import approved
    from flows.runs import inline

    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "approve")
    typed = _typed(request, reader, letter_id, form)
    if isinstance(typed, Response):
        return typed
    expect = str(form.get("expect") or "")
    if not expect:  # not through the confirmation page: show it first
        return confirmation(request, reader, letter_id, form, typed)
    pin = str(form.get("pin") or "") or None
    try:
        check_sending()
    except (ValueError, SendingUnavailable):
        return confirmation(
            request,
            reader,
            letter_id,
            form,
            typed,
            error="Chưa ký được: cấu hình gửi thư của hệ thống đang lỗi. Văn bản chưa được ký, chưa cấp số; hãy báo "
            "quản trị viên.",
            status=503,
        )
    try:
        with database(request) as db:
            approval.approve(db, letter_id, reader.id, change=typed, pin=pin, expect=expect)
    except LetterChanged as exc:
        return confirmation(request, reader, letter_id, form, typed, error=exc.words, status=409)
    except SigningRefused as exc:
        with database(request) as db:
            record_refusal(db, exc)
        error = f"{exc.words} Văn bản chưa được ký, chưa cấp số và chưa gửi đi. Lần thử đã được ghi vào nhật ký."
        return confirmation(request, reader, letter_id, form, typed, error=error, status=400)
    except ApprovalError as exc:
        return letter_with_errors(request, reader, letter_id, form, {"action": in_vietnamese(exc)}, status=409)
    _notify(request)
    try:
        with inline():
            outcome = approved(letter_id, signed_by=reader.id)
    except Exception as exc:  # signed and numbered; the outbox keeps every copy until it goes
        raise Problem(unsent(exc), 500) from None
    return see_other(f"/letters/{letter_id}?m={'queued' if outcome is None else 'approved'}")


@router.post("/letters/{letter_id}/resend")
def resend(request: Request, letter_id: Id, form: Checked) -> Response:
    """The unit's approver sends the copies that did not go (failed, or waiting to be tried again) now."""
    from chidao.outbox import resend as put_back
    from flows.approved import approved
    from flows.runs import inline

    desk = the_desk(request)
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "resend")
    count = put_back(desk.url, letter_id, None, actor=reader.id)
    if count:
        try:
            with inline():
                approved(letter_id, signed_by=reader.id, resent=True)
        except Exception as exc:  # back in the outbox: the next dispatch sends them
            raise Problem(unsent(exc), 500) from None
    return see_other(f"/letters/{letter_id}?m=resent")


@router.post("/letters/{letter_id}/regenerate")
def regenerate(request: Request, letter_id: Id, form: Checked) -> Response:
    reader = signed_in(request)
    _may_act_on(request, reader, letter_id, "regenerate")
    with database(request) as db:
        acting(lambda: approval.regenerate(db, letter_id, reader.id))
    return see_other(f"/letters/{letter_id}?m=regenerated")


# --- helpers -------------------------------------------------------------------------------------------------


def _may_act_on(request: Request, reader: Reader, letter_id: int, action: str) -> None:
    """Before anything the person sent is read: auditors act on nothing, and only the people of the letter's
    unit who may (chidao.approval decides, as for the CLI); a refusal names the action tried."""
    with database(request) as db:
        letter = get_letter(db, letter_id)
        access.check_may_act(reader, action, letter.cascade_id)
        approval.authorise(db, letter_id, reader.id, action)


def _typed(request: Request, reader: Reader, letter_id: int, form: FormData) -> LetterEdit | Response | None:
    """The edit the form carries, if it changes the letter (None: no edit fields, or nothing changed); the
    letter page again with what was typed if it does not validate, or if the letter changed since the page
    was opened (someone else saved it meanwhile: their text is not overwritten, nor is this person's lost)."""
    if "section-0-title" not in form:
        return None
    try:
        change = forms.read_edit(form)
    except forms.FormErrors as exc:
        return letter_with_errors(request, reader, letter_id, form, exc.errors)
    with database(request) as db:
        letter = get_letter(db, letter_id)
        _, hierarchy = inputs_of(db, get_cascade(db, letter.cascade_id))
        base = str(form.get("base") or "")
        holding = reader.id in approval.holders(hierarchy, letter)  # else the action itself says why not
        stale = holding and bool(base) and base != letter.sha256
        changes = letter.status in approval.OPEN and alters(letter, change)
    if stale:
        return letter_with_errors(
            request,
            reader,
            letter_id,
            form,
            {
                "base": "Văn bản vừa được người khác sửa trong lúc anh/chị đang sửa. Nội dung anh/chị gõ vẫn ở "
                "dưới đây, chưa lưu; bản in bên trên là bản hiện tại. Hãy đối chiếu rồi lưu lại."
            },
            status=409,
            fresh_base=True,
        )
    return change if changes else None


def _act(request: Request, reader: Reader, letter_id: int, form: FormData, action: Any) -> Response | None:
    """Run the action in a transaction; a refusal brings the page back with what was typed."""
    try:
        with database(request) as db:
            action(db)
    except ApprovalError as exc:
        return letter_with_errors(request, reader, letter_id, form, {"action": in_vietnamese(exc)}, status=409)
    _notify(request)
    publish.letters_if_served([letter_id])
    return None


def _notify(request: Request) -> None:
    """Tell by e-mail whoever a letter now waits for (chidao.notices); a mail server down delays it only."""
    from chidao import notices

    notices.notify_quietly(the_desk(request).url)
