"""The desk: chidao in a browser for approvers, commune clerks, the department and auditors.

Plain HTML forms (no JavaScript needed), rendered from templates/desk/. Every action calls the same
function the CLI calls (chidao.approval, chidao.reporting, chidao.dispatch, chidao.replay); this module
only reads forms, checks who is signed in, and shows what happened.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chidao.refusals import Refused, record_refusal
from chidao.settings import settings
from db.cascades import CascadeNotFound
from db.engine import transaction
from db.letters import LetterNotFound
from db.migrate import upgrade
from hierarchy.graph import Hierarchy
from inputs.sources import InputError
from web import starts
from web.background import Consolidation
from web.pages import (
    MAX_BODY,
    BadForm,
    BodyLimit,
    Desk,
    Problem,
    SignInNeeded,
    desk_session,
    peer,
    render_page,
    see_other,
)
from web.routes import cascades, letters, received, reports, signin, start
from web.session import Signer, load_secret

# Pages other than the audit replay run no script at all; the printed page may be framed by the desk only.
CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'self'; form-action 'self'"
)
REPLAY_CSP = CSP.replace("script-src 'none'", "script-src 'unsafe-inline'")
REPLAY_PATH = re.compile(r"/cascades/\d+/replay")


def create_app(url: str | None = None, hierarchy: Path | None = None, *, migrate: bool = True) -> FastAPI:
    """The desk on the database at url (default: CHIDAO_DATABASE_URL), migrated first unless `chidao serve` did
    already; new cascades are started on the hierarchy file given (default: CHIDAO_HIERARCHY). The flows it runs
    (a cascade, what follows a signature) read CHIDAO_DATABASE_URL themselves, as on a worker: url must be the
    same database."""
    conf = settings()
    url = url or conf.url
    if migrate:
        upgrade(url)
    served = hierarchy or conf.hierarchy
    planner = starts.Starts(conf.data_dir / "directives", url)
    desk = Desk(
        url=url,
        signer=Signer(load_secret(conf.secret_key, conf.data_dir)),
        hierarchy=served,
        zone=ZoneInfo(conf.timezone),
        starts=planner,
        approvers=_people(planner.hierarchy(served), "approvers") if served else None,
        drafters=_people(planner.hierarchy(served), "drafters") if served else None,
        consolidation=Consolidation(url),
        secure=conf.secure_cookies,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        from anyio import to_thread

        to_thread.current_default_thread_limiter().total_tokens = PAGE_THREADS
        yield
        from starlette.concurrency import run_in_threadpool

        # a consolidation under way is let finish (else it is rolled back, and done after the next report)
        await run_in_threadpool(desk.consolidation.wait, SHUTDOWN_WAIT)

    app = FastAPI(title="chidao", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.desk = desk
    for area in (signin, letters, received, reports, cascades, start):
        app.include_router(area.router)
    _handlers(app, desk)
    app.add_middleware(BodyLimit, limit=MAX_BODY)
    app.add_middleware(SecurityHeaders, secure=conf.secure_cookies)
    return app


SHUTDOWN_WAIT = 30.0  # seconds a stopping server gives a consolidation under way
# Pages are worked on in threads, one process's at a time under Python's lock: more threads than a few only
# take turns (anyio's 40 slowed every page at 50 clients); a request waits its turn in order instead.
PAGE_THREADS = 8


def check_served(url: str, hierarchy: Path | None) -> None:
    """What every worker of `chidao serve --workers N` would otherwise find wrong, or race on, by itself: the
    served hierarchy is read and checked (InputError names the problem), and the cookies' key is generated
    into DATA_DIR/desk.key once, before the workers read it. The database is migrated already."""
    conf = settings()
    served = hierarchy or conf.hierarchy
    if served is not None:
        starts.Starts(conf.data_dir / "directives", url).hierarchy(served)
    load_secret(conf.secret_key, conf.data_dir)


def from_environment() -> FastAPI:
    """The desk as each worker process of `chidao serve --workers N` builds it (uvicorn's factory): on
    CHIDAO_DATABASE_URL and CHIDAO_HIERARCHY, which `chidao serve` sets after checking them (check_served)."""
    return create_app(migrate=False)


class SecurityHeaders:
    """Adds the security headers to every response (a plain ASGI middleware: it costs nothing per request
    beyond the headers, unlike one that wraps the response in a stream)."""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app, self.secure = app, secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _security_headers(path, self.secure):
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, sending)


def secured(response: Response, path: str) -> Response:
    """The security headers on a response made outside the middleware (the page of an unexpected error)."""
    for name, value in _security_headers(path, settings().secure_cookies):
        response.headers.setdefault(name, value)
    return response


def _security_headers(path: str, secure: bool) -> list[tuple[str, str]]:
    replay = REPLAY_PATH.fullmatch(path) is not None
    found = [
        ("Content-Security-Policy", REPLAY_CSP if replay else CSP),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("Cache-Control", "no-store"),
    ]
    if secure:  # served over HTTPS: browsers keep to it
        found.append(("Strict-Transport-Security", "max-age=31536000"))
    return found


def _people(h: Hierarchy, role: str) -> frozenset[str]:
    """Everyone the hierarchy names as its units' approvers (or drafters)."""
    return frozenset(p.id for code in h.graph for p in getattr(h.unit(code), role))


# --- errors ------------------------------------------------------------------------------------------


def _handlers(app: FastAPI, desk: Desk) -> None:
    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, _exc: SignInNeeded) -> Response:
        if request.method != "GET":
            return see_other("/sign-in")
        return see_other(f"/sign-in?next={quote(request.url.path)}")

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        from chidao.issuing import SigningRefused

        with transaction(desk.url) as session:
            record_refusal(session, exc)
        if isinstance(exc, SigningRefused):  # the approver may act; the signature could not be made
            return render_page(
                request,
                "message.html.j2",
                status=400,
                title="Chưa ký được",
                message=f"{exc.words} Văn bản chưa được cấp số và chưa gửi đi. Lần thử đã được ghi vào nhật ký.",
            )
        return render_page(
            request,
            "message.html.j2",
            status=403,
            title="Không có quyền",
            message="Bạn không có quyền xem hoặc làm việc này. Lần thử đã được ghi vào nhật ký.",
        )

    @app.exception_handler(BadForm)
    async def bad_form(request: Request, _exc: BadForm) -> Response:
        session = desk_session(request)
        with transaction(desk.url) as db:
            record_refusal(
                db,
                Refused(
                    f"a form posted to {request.url.path} without this session's CSRF token",
                    user=session.account or "?",
                    cascade_id=None,
                    action="csrf",
                    path=request.url.path,
                    address=peer(request),
                ),
            )
        return render_page(
            request,
            "message.html.j2",
            status=403,
            title="Biểu mẫu không hợp lệ",
            message="Biểu mẫu đã hết hạn hoặc không gửi từ trang này. Hãy mở lại trang và làm lại.",
        )

    @app.exception_handler(LetterNotFound)
    @app.exception_handler(CascadeNotFound)
    async def not_found(request: Request, _exc: Exception) -> Response:
        return render_page(request, "message.html.j2", status=404, title="Không tìm thấy", message="Không có mục này.")

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, _exc: RequestValidationError) -> Response:
        return render_page(
            request, "message.html.j2", status=404, title="Không tìm thấy", message="Địa chỉ không đúng."
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        words = {404: "Không có trang này.", 405: "Trang này không nhận thao tác đó.", 413: "Tệp gửi lên quá lớn."}
        message = words.get(exc.status_code, "Yêu cầu không thực hiện được.")
        title = "Không tìm thấy" if exc.status_code == 404 else "Chưa làm được"
        return render_page(request, "message.html.j2", status=exc.status_code, title=title, message=message)

    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> Response:
        return render_page(request, "message.html.j2", status=exc.status, title="Chưa làm được", message=str(exc))

    @app.exception_handler(InputError)
    async def bad_input(request: Request, exc: InputError) -> Response:
        lines = "; ".join(str(p) for p in exc.problems[:5])
        return render_page(request, "message.html.j2", status=400, title="Dữ liệu không hợp lệ", message=lines)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        """A fault of chidao's: a page in Vietnamese with the headers, the detail in the server's log only."""
        logging.getLogger("chidao.desk").exception("unexpected error on %s", request.url.path)
        page = (
            "<!DOCTYPE html><html lang='vi'><meta charset='utf-8'><title>Lỗi hệ thống</title>"
            "<p>Hệ thống gặp lỗi khi xử lý yêu cầu này. Không có thay đổi nào được lưu một nửa; hãy thử lại, "
            "nếu vẫn lỗi hãy báo quản trị viên.</p>"
        )
        return secured(HTMLResponse(page, status_code=500), request.url.path)
