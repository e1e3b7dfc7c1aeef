"""The desk's plumbing: who is signed in, the session cookie, checked forms, pages rendered from
templates/desk/, and the errors every route may raise."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi import Path as FastAPIPath
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from chidao import accounts
from chidao.access import Reader
from chidao.approval import ApprovalError
from chidao.reporting import ReportError
from chidao.settings import settings
from chidao.words import unit_label, vn_number
from db.base import utcnow
from db.engine import first_row, reading, transaction
from db.models import Account, DeskSessionRow
from letters.render import environment
from mail.replies import explain
from web import starts
from web.background import Consolidation
from web.session import COOKIE, LIFETIME, DeskSession, Signer, same_token

STATUS_WORDS = {"draft": "Dự thảo", "rejected": "Bị trả lại", "approved": "Đã ký", "sent": "Đã gửi"}
# Where an open letter is: with its drafter (units that have drafters), or waiting for its approvers.
WAIT_WORDS = {"drafter": "Chuyên viên đang soạn", "approver": "Chờ lãnh đạo ký"}
DELIVERY_WORDS = {"pending": "chưa gửi được, sẽ gửi lại", "sending": "đang gửi", "sent": "đã gửi", "failed": "lỗi"}
REPORT_WORDS = {"open": "Chưa nộp", "received": "Đã nộp đúng hạn", "late": "Đã nộp muộn"}
KIND_WORDS = {"letter": "Văn bản", "report": "Báo cáo"}
MAX_BODY = 12 * 1024 * 1024  # a report's attachment (10 MB) and its form; anything larger is refused unread


class SignInNeeded(Exception):
    pass


class BadForm(Exception):
    """A form without its CSRF token, or with another session's."""


class Problem(Exception):
    """An action that cannot be done as asked; shown to the person with what to do."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Desk:
    url: str
    signer: Signer
    hierarchy: Path | None
    zone: ZoneInfo
    starts: starts.Starts
    consolidation: Consolidation  # the BÁO CÁO drafted after reports come in, off the request
    approvers: frozenset[str] | None  # of the served hierarchy: who is shown the inbox (None: everyone)
    drafters: frozenset[str] | None = None  # of the served hierarchy: who prepares letters (shown the inbox too)
    secure: bool = False  # served over HTTPS (CHIDAO_SECURE_COOKIES): cookies and browsers keep to it


class BodyLimit:
    """Refuses a request body over the limit: at once when its length is declared, else as it arrives,
    before the form is parsed (so nothing that large is written to a temporary file)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            page = "<!DOCTYPE html><html lang='vi'><meta charset='utf-8'><title>Quá lớn</title><p>Tệp gửi lên quá lớn."
            await HTMLResponse(page, status_code=413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise StarletteHTTPException(413)
            return message

        await self.app(scope, counted, send)


def desk_session(request: Request) -> DeskSession:
    desk: Desk = request.app.state.desk
    found = getattr(request.state, "desk_session", None)
    if found is None:
        found = desk.signer.loads(request.cookies.get(COOKIE))
        if found is None:  # none, altered, expired or signed with another key: a new one goes back
            found, request.state.new_session = DeskSession(), True
        request.state.desk_session = found
    return found


def set_cookie(response: Response, request: Request, session: DeskSession) -> None:
    desk: Desk = request.app.state.desk
    response.set_cookie(
        COOKIE,
        desk.signer.dumps(session),
        max_age=LIFETIME,
        httponly=True,
        samesite="lax",
        secure=desk.secure,
        path="/",
    )


def the_desk(request: Request) -> Desk:
    desk: Desk = request.app.state.desk
    return desk


@contextmanager
def database(request: Request) -> Iterator[Session]:
    desk: Desk = request.app.state.desk
    with transaction(desk.url) as session:
        yield session


@contextmanager
def looking(request: Request) -> Iterator[Session]:
    """The database as a page reads it: no lock, nothing written (db.engine.reading)."""
    desk: Desk = request.app.state.desk
    with reading(desk.url) as session:
        yield session


# signed_in's query, built once (building a statement costs more than SQLite takes to answer it).
_SIGNED_IN = (
    select(Account.name, Account.role, Account.disabled, DeskSessionRow.expires_at)
    .join(DeskSessionRow, DeskSessionRow.account == Account.id)
    .where(Account.id == bindparam("account"), DeskSessionRow.id == bindparam("key"))
)


def signed_in(request: Request) -> Reader:
    """The person signed in, checked against their account and server-side session now, in one query of the
    columns needed (a changed password, a sign-out or a disabled account ends the session at once, in every
    worker: nothing is cached). The same test as chidao.accounts.live."""
    session = desk_session(request)
    if session.account is None or not session.sid:
        raise SignInNeeded()
    desk: Desk = request.app.state.desk
    asked = {"account": session.account, "key": accounts._key(session.sid)}  # the id's SHA-256, as stored
    found = first_row(desk.url, _SIGNED_IN, asked)
    if found is None:
        raise SignInNeeded()
    name, role, disabled, expires_at = found
    if disabled or expires_at <= utcnow():
        raise SignInNeeded()
    auditor = role == "auditor"
    request.state.account_name, request.state.auditor = name, auditor
    request.state.approver = not auditor and (desk.approvers is None or session.account in desk.approvers)
    request.state.drafter = not auditor and desk.drafters is not None and session.account in desk.drafters
    return Reader(session.account, auditor)


def peer(request: Request) -> str:
    return request.client.host if request.client else "?"


async def checked_form(request: Request) -> AsyncIterator[FormData]:
    """The posted form, once its CSRF token matches the session's; else BadForm (and an event). Uploaded
    files are closed after the response."""
    form = await request.form(max_files=1, max_fields=200, max_part_size=starts.MAX_DIRECTIVE + 1024)
    try:
        token = form.get("csrf")
        if not same_token(token if isinstance(token, str) else None, desk_session(request).csrf):
            raise BadForm()
        yield form
    finally:
        await form.close()


Checked = Annotated[FormData, Depends(checked_form)]
Id = Annotated[int, FastAPIPath(ge=1, le=2**62)]  # a row id; anything else is no page


def render_page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    session = desk_session(request)
    html = (
        environment()
        .get_template(f"desk/{template}")
        .render(
            csrf=session.csrf,
            me=session.account,
            me_name=getattr(request.state, "account_name", None),
            auditor=getattr(request.state, "auditor", False),
            approver=getattr(request.state, "approver", False),
            drafter=getattr(request.state, "drafter", False),
            path=request.url.path,
            status_words=STATUS_WORDS,
            wait_words=WAIT_WORDS,
            report_words=REPORT_WORDS,
            delivery_words=DELIVERY_WORDS,
            kind_words=KIND_WORDS,
            explain=explain,
            dmy=partial(dmy, zone=request.app.state.desk.zone),
            num=vn_number,
            unit_label=unit_label,
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status)
    if request.cookies.get(COOKIE) is None or getattr(request.state, "new_session", False):
        set_cookie(response, request, session)
    return response


def dmy(value: Any, zone: ZoneInfo | None = None) -> str:
    """A date as 27/11/2026; a moment as 04:53 27/11/2026 on Vietnam's clock (CHIDAO_TIMEZONE; the desk's
    zone, read when it started, as the settings are read from the environment at every call)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(zone or ZoneInfo(settings().timezone)).strftime("%H:%M %d/%m/%Y")
    return f"{value:%d/%m/%Y}"


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def int_field(value: Any) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise Problem("Thiếu số hiệu văn bản.", 400) from None
    if not 1 <= number <= 2**62:
        raise Problem("Không có văn bản này.", 404)
    return number


def acting(action: Any) -> Any:
    """Run an action of chidao.approval or chidao.reporting; its refusals go to the handler (logged)."""
    try:
        return action()
    except (ApprovalError, ReportError) as exc:
        raise Problem(in_vietnamese(exc)) from None


def unsent(exc: Exception) -> str:
    logging.getLogger("chidao.desk").warning("signed letters not sent: %s: %s", type(exc).__name__, exc)
    return (
        "Văn bản đã ký nhưng chưa gửi được: hệ thống chưa kết nối được máy chủ thư hoặc máy chủ điều phối. Các "
        "bản chưa gửi vẫn nằm trong hàng gửi và sẽ được gửi lại; quản trị viên xem chi tiết trong nhật ký máy chủ."
    )


# What the library's refusals mean, for those that carry no words of their own (chidao.reporting).
_REPORT_WORDS = (
    ("is over", "Tệp đính kèm lớn hơn 10 MB."),
    ("owes no report", "Đơn vị chưa phải nộp báo cáo này (văn bản có thể chưa đến đơn vị)."),
    ("no report request", "Không có yêu cầu báo cáo này."),
)


def in_vietnamese(error: Exception | str) -> str:
    """A refusal of chidao's services in the users' words: an ApprovalError carries its own; the others are
    matched on their message (the operators' English stays in the server's record)."""
    words = getattr(error, "words", None)
    if isinstance(words, str):
        return words
    message = str(error)
    if "must be approved first" in message:
        return "Văn bản cấp trên chưa được ký, nên chưa thể ký văn bản này."
    if "is already" in message or "only a draft" in message:
        return "Văn bản này đã được xử lý, không còn chờ duyệt."
    for pattern, vietnamese in _REPORT_WORDS:
        if pattern in message:
            return vietnamese
    logging.getLogger("chidao.desk").info("refused without words of its own: %s", message)
    return "Không thực hiện được thao tác này."
