"""The desk: chidao in a browser for approvers, commune clerks, the department and auditors.

Plain HTML forms (no JavaScript needed), rendered from templates/desk/. Every action calls the same
function the CLI calls (chidao.approval, chidao.reporting, chidao.dispatch, chidao.replay); this module
only reads forms, checks who is signed in, and shows what happened.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from chidao import access, accounts, approval, reporting
from chidao.access import Reader
from chidao.approval import ApprovalError
from chidao.refusals import Refused, record_refusal
from chidao.reporting import ReportError
from chidao.settings import settings
from chidao.sources import InputError
from chidao.text import file_name
from db.cascades import CascadeNotFound, get_cascade, inputs_of, letter_content
from db.engine import transaction
from db.letters import LetterNotFound, get_letter
from db.migrate import upgrade
from db.models import Account, Cascade, LetterRecord, RecipientRecord, Report, ReportAttachment, ReportRequest
from hierarchy.graph import Hierarchy
from letters.content import Letter
from letters.render import render_html, render_markdown
from web import forms, starts
from web.pages import (
    MAX_BODY,
    BadForm,
    BodyLimit,
    Checked,
    Desk,
    Id,
    Problem,
    SignInNeeded,
    database,
    desk_session,
    peer,
    render_page,
    see_other,
    set_cookie,
    signed_in,
)
from web.session import COOKIE, DeskSession, Signer, load_secret

# Pages other than the audit replay run no script at all; the printed page may be framed by the desk only.
CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'self'; form-action 'self'"
)
REPLAY_CSP = CSP.replace("script-src 'none'", "script-src 'unsafe-inline'")
REPLAY_PATH = re.compile(r"/cascades/\d+/replay")


def create_app(url: str | None = None, hierarchy: Path | None = None) -> FastAPI:
    """The desk on the database at url (default: CHIDAO_DATABASE_URL), migrated first; new cascades are
    started on the hierarchy file given (default: CHIDAO_HIERARCHY)."""
    conf = settings()
    url = url or conf.url
    upgrade(url)
    served = hierarchy or conf.hierarchy
    planner = starts.Starts(conf.data_dir / "directives")
    desk = Desk(
        url=url,
        signer=Signer(load_secret(conf.secret_key, conf.data_dir)),
        hierarchy=served,
        zone=ZoneInfo(conf.timezone),
        starts=planner,
        approvers=_approvers(planner.hierarchy(served)) if served else None,
    )
    app = FastAPI(title="chidao", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.desk = desk
    _routes(app, desk)
    _handlers(app, desk)

    app.add_middleware(BodyLimit, limit=MAX_BODY)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        replay = REPLAY_PATH.fullmatch(request.url.path) is not None
        response.headers.setdefault("Content-Security-Policy", REPLAY_CSP if replay else CSP)
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Cache-Control", "no-store")
        if settings().secure_cookies:  # served over HTTPS: browsers keep to it
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    return app


def _approvers(h: Hierarchy) -> frozenset[str]:
    return frozenset(p.id for code in h.graph for p in h.unit(code).approvers)


# --- errors ------------------------------------------------------------------------------------------


def _handlers(app: FastAPI, desk: Desk) -> None:
    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, _exc: SignInNeeded) -> Response:
        if request.method != "GET":
            return see_other("/sign-in")
        return see_other(f"/sign-in?next={quote(request.url.path)}")

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        with transaction(desk.url) as session:
            record_refusal(session, exc)
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


# --- routes ------------------------------------------------------------------------------------------


def _routes(app: FastAPI, desk: Desk) -> None:
    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        reader = signed_in(request)
        if reader.auditor:
            return see_other("/cascades")
        return see_other("/inbox" if request.state.approver else "/reports")

    # sign-in

    @app.get("/sign-in", response_class=HTMLResponse)
    def sign_in_page(request: Request, next: str = "/") -> Response:
        return render_page(request, "signin.html.j2", next=_local(next), error=None, account="")

    @app.post("/sign-in", response_class=HTMLResponse)
    def sign_in(request: Request, form: Checked) -> Response:
        account_id, password = str(form.get("account", "")), str(form.get("password", ""))
        with database(request) as db:
            outcome = accounts.authenticate(db, account_id, password, peer(request))
            if isinstance(outcome, Account):
                signed_in, stamp = outcome.id, accounts.stamp(outcome)
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
        fresh = DeskSession(account=signed_in, stamp=stamp)  # a new token: nothing from before sign-in
        response = see_other(_local(str(form.get("next", "/"))))
        set_cookie(response, request, fresh)
        return response

    @app.post("/sign-out")
    def sign_out(request: Request, _form: Checked) -> Response:
        response = see_other("/sign-in")
        response.delete_cookie(COOKIE, path="/")
        return response

    # approvers: the inbox and a letter

    @app.get("/inbox", response_class=HTMLResponse)
    def inbox(request: Request) -> Response:
        reader = signed_in(request)
        with database(request) as db:
            waiting = [] if reader.auditor else approval.pending(db, reader.id)
            rows = [_letter_row(db, letter) for letter in waiting]
        return render_page(request, "inbox.html.j2", letters=rows)

    @app.get("/letters/{letter_id}", response_class=HTMLResponse)
    def letter_page(request: Request, letter_id: Id, m: str = "") -> Response:
        return _letter_view(request, signed_in(request), letter_id, message=m)

    @app.get("/letters/{letter_id}/page", response_class=HTMLResponse)
    def printed_page(request: Request, letter_id: Id) -> Response:
        """The letter as it prints (Decree 30 layout); the desk frames it, a clerk prints it."""
        reader = signed_in(request)
        with database(request) as db:
            letter = get_letter(db, letter_id)
            access.check_letter(db, reader, letter)
            return HTMLResponse(render_html(letter_content(letter)), headers={"Cache-Control": "private, no-store"})

    @app.post("/letters/{letter_id}/edit", response_class=HTMLResponse)
    def edit(request: Request, letter_id: Id, form: Checked) -> Response:
        reader = signed_in(request)
        _may_act_on(request, reader, letter_id, "edit")
        try:
            change = forms.read_edit(form)
        except forms.FormErrors as exc:
            return _letter_with_errors(request, reader, letter_id, form, exc.errors)
        with database(request) as db:
            _acting(lambda: approval.edit(db, letter_id, reader.id, change))
        return see_other(f"/letters/{letter_id}?m=edited")

    @app.post("/letters/{letter_id}/approve")
    def approve(request: Request, letter_id: Id, form: Checked) -> Response:
        from chidao.dispatch import Queued, send_signed

        reader = signed_in(request)
        _may_act_on(request, reader, letter_id, "approve")
        with database(request) as db:
            _acting(lambda: approval.approve(db, letter_id, reader.id))
        try:
            outcome = send_signed(desk.url, [letter_id])
        except Exception as exc:  # signed and numbered; the outbox keeps every copy until it goes
            raise Problem(_unsent(exc), 500) from None
        return see_other(f"/letters/{letter_id}?m={'queued' if isinstance(outcome, Queued) else 'approved'}")

    @app.post("/letters/{letter_id}/reject")
    def reject(request: Request, letter_id: Id, form: Checked) -> Response:
        reader = signed_in(request)
        _may_act_on(request, reader, letter_id, "reject")
        reason = forms.nfc_text(form, "reason")
        if not reason:
            return _letter_with_errors(request, reader, letter_id, form, {"reason": "Hãy ghi lý do trả lại."})
        with database(request) as db:
            _acting(lambda: approval.reject(db, letter_id, reader.id, reason))
        return see_other(f"/letters/{letter_id}?m=rejected")

    @app.post("/letters/{letter_id}/regenerate")
    def regenerate(request: Request, letter_id: Id, form: Checked) -> Response:
        reader = signed_in(request)
        _may_act_on(request, reader, letter_id, "regenerate")
        with database(request) as db:
            _acting(lambda: approval.regenerate(db, letter_id, reader.id))
        return see_other(f"/letters/{letter_id}?m=regenerated")

    # commune clerks: reports owed

    @app.get("/reports", response_class=HTMLResponse)
    def reports_owed(request: Request) -> Response:
        reader = signed_in(request)
        today = approval.today()
        with database(request) as db:
            rows = [_request_row(db, r, today) for r in ([] if reader.auditor else reporting.owed_by(db, reader.id))]
        return render_page(request, "reports.html.j2", requests=rows)

    @app.get("/reports/{request_id}", response_class=HTMLResponse)
    def report_page(request: Request, request_id: Id, m: str = "") -> Response:
        reader = signed_in(request)
        return _report_form(request, reader, request_id, {}, {}, m)

    @app.post("/reports/{request_id}", response_class=HTMLResponse)
    async def submit_report(request: Request, request_id: Id, form: Checked) -> Response:
        from starlette.concurrency import run_in_threadpool

        reader = await run_in_threadpool(signed_in, request)
        attachment = None
        upload = form.get("attachment")
        if isinstance(upload, UploadFile) and upload.filename:
            data = await upload.read(reporting.MAX_ATTACHMENT + 1)
            attachment = reporting.Attachment(upload.filename, upload.content_type or "application/octet-stream", data)
        return await run_in_threadpool(_submit_report, request, reader, request_id, form, attachment)

    @app.get("/reports/{request_id}/attachments/{attachment_id}")
    def attachment(request: Request, request_id: Id, attachment_id: Id) -> Response:
        reader = signed_in(request)
        with database(request) as db:
            found = _request(db, request_id)
            access.check_request(db, reader, found)
            row = db.get(ReportAttachment, attachment_id)
            report = db.get(Report, row.report_id) if row else None
            if row is None or report is None or report.request_id != request_id:
                raise Problem("Không có tệp này.", 404)
            return Response(
                row.data,
                media_type="application/octet-stream",
                headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(row.filename)}"},
            )

    # the department and auditors: cascades

    @app.get("/cascades", response_class=HTMLResponse)
    def cascades(request: Request) -> Response:
        reader = signed_in(request)
        with database(request) as db:
            rows = []
            for cascade in db.scalars(select(Cascade).order_by(Cascade.id.desc())):
                directive, hierarchy = inputs_of(db, cascade)
                if reader.auditor or access.directs(hierarchy, cascade, reader.id):
                    rows.append(
                        {
                            "cascade": cascade,
                            "subject": directive.subject,
                            "issuer": hierarchy.unit(cascade.issuer_code).name,
                        }
                    )
        return render_page(request, "cascades.html.j2", cascades=rows)

    @app.get("/cascades/{cascade_id}", response_class=HTMLResponse)
    def cascade_page(request: Request, cascade_id: Id, m: str = "") -> Response:
        resent = int(m[7:]) if re.fullmatch(r"resent-\d{1,6}", m) else None
        from chidao.status import cascade_status

        reader = signed_in(request)
        with database(request) as db:
            hierarchy = access.check_cascade(db, reader, cascade_id)
            cascade = get_cascade(db, cascade_id)
            directive, _ = inputs_of(db, cascade)
            status, _ = cascade_status(db, cascade_id, approval.today())
            states = {u.code: u for u in status.units}
            units_in = set(states)

            def node(code: str) -> dict[str, Any]:
                return {
                    "state": states[code],
                    "children": [node(c.code) for c in hierarchy.sorted_children(code) if c.code in units_in],
                }

            failed = db.execute(
                select(RecipientRecord, LetterRecord)
                .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
                .where(LetterRecord.cascade_id == cascade_id, RecipientRecord.status == "failed")
                .order_by(LetterRecord.id, RecipientRecord.position)
            ).all()
            consolidated = db.scalars(
                select(LetterRecord)
                .where(LetterRecord.cascade_id == cascade_id, LetterRecord.kind == "report")
                .order_by(LetterRecord.depth.desc(), LetterRecord.id)
            ).all()
            letters = db.scalars(
                select(LetterRecord)
                .where(LetterRecord.cascade_id == cascade_id, LetterRecord.kind == "letter")
                .order_by(LetterRecord.depth, LetterRecord.id)
            ).all()
            return render_page(
                request,
                "cascade.html.j2",
                cascade=cascade,
                subject=directive.subject,
                issuer=hierarchy.unit(cascade.issuer_code).name,
                levels=status.levels(),
                overdue=status.overdue(),
                tree=node(cascade.issuer_code),
                failed=[{"recipient": r, "letter": letter} for r, letter in failed],
                consolidated=consolidated,
                letters=letters,
                may_act=not reader.auditor,
                resent=resent,
            )

    @app.post("/cascades/{cascade_id}/resend")
    def resend(request: Request, cascade_id: Id, form: Checked) -> Response:
        from chidao.dispatch import resend as put_back
        from chidao.dispatch import send_signed

        reader = signed_in(request)
        access.check_may_act(reader, "resend", cascade_id)
        letter_id = _int(form.get("letter"))
        with database(request) as db:
            access.check_cascade(db, reader, cascade_id)
            letter = get_letter(db, letter_id)
            if letter.cascade_id != cascade_id:
                raise Problem("Văn bản này không thuộc đợt triển khai này.", 400)
        unit = str(form.get("unit") or "") or None
        count = put_back(desk.url, letter_id, unit, actor=reader.id)
        if count:
            try:
                send_signed(desk.url, [letter_id])
            except Exception as exc:  # back in the outbox: the next dispatch sends them
                raise Problem(_unsent(exc), 500) from None
        return see_other(f"/cascades/{cascade_id}?m=resent-{count}")

    @app.get("/cascades/{cascade_id}/replay", response_class=HTMLResponse)
    def replay(request: Request, cascade_id: Id) -> Response:
        from chidao.replay import render_replay_page

        reader = signed_in(request)
        with database(request) as db:
            access.check_cascade(db, reader, cascade_id)
            return HTMLResponse(render_replay_page(db, cascade_id, desk.zone))

    # the department: starting a cascade

    @app.get("/start", response_class=HTMLResponse)
    def start_page(request: Request) -> Response:
        signed_in(request)
        return render_page(request, "start.html.j2", hierarchy=desk.hierarchy, text="", errors=[], plan=None)

    @app.post("/start", response_class=HTMLResponse)
    async def plan(request: Request, form: Checked) -> Response:
        from starlette.concurrency import run_in_threadpool

        reader = await run_in_threadpool(signed_in, request)
        access.check_may_act(reader, "start a cascade")
        upload = form.get("file")
        text = str(form.get("text") or "")
        name = "ô nhập văn bản"
        if isinstance(upload, UploadFile) and upload.filename:
            raw = await upload.read(starts.MAX_DIRECTIVE + 1)
            name = file_name(upload.filename)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                return render_page(
                    request,
                    "start.html.j2",
                    status=400,
                    hierarchy=desk.hierarchy,
                    text="",
                    errors=[f"{name}: không phải văn bản UTF-8"],
                    plan=None,
                )
        return await run_in_threadpool(_plan, request, reader, text, name)

    @app.post("/start/run")
    def run(request: Request, form: Checked) -> Response:
        reader = signed_in(request)
        access.check_may_act(reader, "start a cascade")
        text = str(form.get("text") or "")
        if desk.hierarchy is None:
            raise Problem("Bàn làm việc chưa được chỉ định tệp hệ thống đơn vị (chidao serve --hierarchy).", 400)
        try:
            job = desk.starts.start(text, desk.hierarchy, reader.id)
        except starts.NotStarter as exc:
            raise exc.refused() from None
        except (InputError, starts.StartError) as exc:
            raise Problem(f"Không khởi động được: {exc}", 400) from None
        return see_other(f"/start/{job.id}")

    @app.get("/start/{job_id}", response_class=HTMLResponse)
    def job(request: Request, job_id: str) -> Response:
        reader = signed_in(request)
        found = desk.starts.job(job_id)
        if found is None or reader.id not in found.starters:
            raise Problem("Không có việc khởi động này.", 404)
        return render_page(request, "job.html.j2", job=found)


# --- helpers of the routes -------------------------------------------------------------------------


def _local(path: str) -> str:
    """Only a path of this site to go to after signing in, never another site's address."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


def _int(value: Any) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise Problem("Thiếu số hiệu văn bản.", 400) from None
    if not 1 <= number <= 2**62:
        raise Problem("Không có văn bản này.", 404)
    return number


def _acting(action: Any) -> Any:
    """Run an action of chidao.approval or chidao.reporting; its refusals go to the handler (logged)."""
    try:
        return action()
    except (ApprovalError, ReportError) as exc:
        raise Problem(_vietnamese(str(exc))) from None


def _unsent(exc: Exception) -> str:
    return (
        f"Văn bản đã ký nhưng chưa gửi được ({type(exc).__name__}: {exc}). Các bản chưa gửi vẫn nằm trong hàng "
        "gửi; quản trị viên gửi lại bằng lệnh chidao dispatch sau khi sửa cấu hình thư."
    )


def _vietnamese(message: str) -> str:
    """The library's messages are for operators; the common ones in the users' words."""
    if "must be approved first" in message:
        return "Văn bản cấp trên chưa được ký, nên chưa thể ký văn bản này. (" + message + ")"
    if "is already" in message or "only a draft" in message:
        return "Văn bản này đã được xử lý, không còn chờ duyệt. (" + message + ")"
    return "Không thực hiện được: " + message


def _may_act_on(request: Request, reader: Reader, letter_id: int, action: str) -> None:
    """Before anything the person sent is read: auditors act on nothing, and an approver of the letter's
    unit only (chidao.approval decides, as for the CLI); a refusal names the action tried."""
    with database(request) as db:
        letter = get_letter(db, letter_id)
        access.check_may_act(reader, action, letter.cascade_id)
        approval.authorise(db, letter_id, reader.id, action)


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


def _request(db: Session, request_id: int) -> ReportRequest:
    try:
        return reporting.find_request(db, request_id)
    except ReportError:
        raise Problem("Không có yêu cầu báo cáo này.", 404) from None


def _request_row(db: Session, found: ReportRequest, today: Any) -> dict[str, Any]:
    letter = db.get_one(LetterRecord, found.letter_id)
    directive, hierarchy = inputs_of(db, get_cascade(db, found.cascade_id))
    overdue = found.status == "open" and found.due is not None and found.due < today
    return {
        "request": found,
        "letter": letter,
        "content": letter_content(letter),
        "unit": hierarchy.unit(found.unit_code),
        "to": hierarchy.unit(found.issuer_code),
        "overdue": overdue,
        "days_late": directive.report.calendar().between(found.due, today) if overdue and found.due else 0,
    }


def _report_form(
    request: Request,
    reader: Reader,
    request_id: int,
    values: dict[str, str],
    errors: dict[str, str],
    message: str,
    status: int = 200,
) -> Response:
    with database(request) as db:
        found = _request(db, request_id)
        hierarchy = access.check_request(db, reader, found)
        row = _request_row(db, found, approval.today())
        versions = reporting.versions(db, found.id)
        files = {
            a.report_id: a
            for a in db.scalars(
                select(ReportAttachment).where(ReportAttachment.report_id.in_([v.id for v in versions]))
            )
        }
        latest = reporting.latest(db, found.id)
        may_report = not reader.auditor and reader.id in reporting.reporters_of(hierarchy, found.unit_code)
        if not values and latest is not None:
            values = forms.report_fields(latest)
        return render_page(
            request,
            "report.html.j2",
            status=status,
            row=row,
            versions=versions,
            files=files,
            latest=latest,
            may_report=may_report,
            values=values,
            errors=errors,
            message=message,
        )


def _submit_report(
    request: Request, reader: Reader, request_id: int, form: FormData, attachment: reporting.Attachment | None
) -> Response:
    from chidao.consolidation import consolidate_all

    with database(request) as db:  # who may report is decided before the form is read
        access.check_may_act(reader, "report", _request(db, request_id).cascade_id)
        reporting.authorise(db, _request(db, request_id), reader.id)
    try:
        content, source = forms.read_report(form)
    except forms.FormErrors as exc:
        values = {k: str(form.get(k) or "") for k in ("done", "figures", "difficulties", "proposals")}
        return _report_form(request, reader, request_id, values, exc.errors, "", 400)
    with database(request) as db:
        found = _request(db, request_id)
        report = _acting(lambda: reporting.submit(db, found, reader.id, content, source, attachment=attachment))
        version = report.version
    with database(request) as db:  # as after `chidao reports submit`: consolidated reports now due are drafted
        consolidate_all(db, approval.today())
    return see_other(f"/reports/{request_id}?m=submitted-{version}")


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
            recipients=recipients,
            counts=_counts(recipients),
            message=message,
            errors=errors or {},
            reason=reason,
        )


def _plan(request: Request, reader: Reader, text: str, name: str) -> Response:
    desk: Desk = request.app.state.desk
    if desk.hierarchy is None:
        raise Problem("Bàn làm việc chưa được chỉ định tệp hệ thống đơn vị (chidao serve --hierarchy).", 400)
    try:
        planned = desk.starts.plan(text, name, desk.hierarchy)
    except InputError as exc:
        return render_page(
            request,
            "start.html.j2",
            status=400,
            hierarchy=desk.hierarchy,
            text=text,
            errors=[str(p) for p in exc.problems],
            plan=None,
        )
    except starts.StartError as exc:
        return render_page(
            request, "start.html.j2", status=400, hierarchy=desk.hierarchy, text=text, errors=[str(exc)], plan=None
        )
    may_start = reader.id in planned.starters
    return render_page(
        request,
        "start.html.j2",
        hierarchy=desk.hierarchy,
        text=text,
        errors=[],
        plan=planned,
        may_start=may_start,
        first_html=render_html(planned.first),
    )
