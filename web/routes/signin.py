"""Signing in and out, and the home page that sends each person where they work."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from chidao import accounts
from db.models import Account
from web.pages import (
    Checked,
    database,
    desk_session,
    peer,
    render_page,
    see_other,
    set_cookie,
    signed_in,
)
from web.session import COOKIE, DeskSession

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    reader = signed_in(request)
    if reader.auditor:
        return see_other("/cascades")
    return see_other("/inbox" if request.state.approver or request.state.drafter else "/reports")


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "/") -> Response:
    return render_page(request, "signin.html.j2", next=_local(next), error=None, account="")


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(request: Request, form: Checked) -> Response:
    account_id, password = str(form.get("account", "")), str(form.get("password", ""))
    with database(request) as db:
        outcome = accounts.authenticate(db, account_id, password, peer(request))
        if isinstance(outcome, Account):
            signed_in, sid = outcome.id, accounts.open_session(db, outcome.id)
    if isinstance(outcome, accounts.SignInRefused):
        error = (
            f"Đăng nhập sai quá nhiều lần. Hãy thử lại sau {outcome.retry_minutes} phút."
            if outcome.reason == "throttled"
            else "Tên đăng nhập hoặc mật khẩu không đúng."
        )
        status = 429 if outcome.reason == "throttled" else 401
        return render_page(
            request,
            "signin.html.j2",
            status=status,
            next=_local(str(form.get("next", "/"))),
            error=error,
            account=account_id,
        )
    fresh = DeskSession(account=signed_in, sid=sid)  # a new token: nothing from before sign-in
    response = see_other(_local(str(form.get("next", "/"))))
    set_cookie(response, request, fresh)
    return response


@router.post("/sign-out")
def sign_out(request: Request, _form: Checked) -> Response:
    """The session ends on the server: a copy of the cookie kept anywhere signs nobody in any more."""
    with database(request) as db:
        accounts.end_session(db, desk_session(request).sid)
    response = see_other("/sign-in")
    response.delete_cookie(COOKIE, path="/")
    return response


def _local(path: str) -> str:
    """Only a path of this site to go to after signing in, never another site's address."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"
