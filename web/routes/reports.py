"""The commune clerks' pages: the reports a unit owes, the form that submits one, its attachments."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, defer
from starlette.datastructures import FormData, UploadFile

from chidao import access, approval, reporting
from chidao.access import Reader
from chidao.reporting import ReportError
from chidao.words import unit_label
from db.cascades import cascade_inputs, letter_content
from db.models import LetterRecord, Report, ReportAttachment, ReportRequest
from hierarchy.graph import Hierarchy
from web import forms
from web.listing import listing
from web.pages import (
    Checked,
    Id,
    Problem,
    acting,
    database,
    looking,
    render_page,
    see_other,
    signed_in,
    the_desk,
)

router = APIRouter()


REPORT_STATES = {"overdue": "Quá hạn", "open": "Chưa nộp", "received": "Đã nộp đúng hạn", "late": "Đã nộp muộn"}


@router.get("/reports", response_class=HTMLResponse)
def reports_owed(request: Request, q: str = "", state: str = "", page: str = "1") -> Response:
    reader = signed_in(request)
    today = approval.today()
    with looking(request) as db:
        rows = [_request_row(db, r, today) for r in ([] if reader.auditor else _owed(db, reader.id))]
    found = listing(
        rows,
        q=q,
        state=state,
        page=page,
        text=lambda r: f"{r['content'].reference} {r['content'].subject} {r['label']} {r['to_label']}",
        state_of=lambda r: "overdue" if r["overdue"] else r["request"].status,
        states=REPORT_STATES,
    )
    return render_page(request, "reports.html.j2", requests=found)


@router.get("/reports/{request_id}", response_class=HTMLResponse)
def report_page(request: Request, request_id: Id, m: str = "") -> Response:
    reader = signed_in(request)
    return _report_form(request, reader, request_id, {}, {}, m)


@router.post("/reports/{request_id}", response_class=HTMLResponse)
async def submit_report(request: Request, request_id: Id, form: Checked) -> Response:
    from starlette.concurrency import run_in_threadpool

    reader = await run_in_threadpool(signed_in, request)
    attachment = None
    upload = form.get("attachment")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(reporting.MAX_ATTACHMENT + 1)
        attachment = reporting.Attachment(upload.filename, upload.content_type or "application/octet-stream", data)
    return await run_in_threadpool(_submit_report, request, reader, request_id, form, attachment)


@router.get("/reports/{request_id}/attachments/{attachment_id}")
def attachment(request: Request, request_id: Id, attachment_id: Id) -> Response:
    reader = signed_in(request)
    with looking(request) as db:
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


def _owed(db: Session, user: str) -> list[ReportRequest]:
    """reporting.owed_by, asking the database for this person's units only: the units they report for are
    worked out from each cascade's hierarchy (once per process and person), instead of reading every request
    of every cascade to ask of each (a clerk's page took 300 ms at 240 requests). Who reports for a unit is
    still reporting.reporters_of's to say."""
    asked = []
    for cascade_id in db.scalars(_CASCADES_ASKED):
        units = _reports_for(cascade_inputs(db, cascade_id)[1], user)
        if units:
            asked.append(and_(ReportRequest.cascade_id == cascade_id, ReportRequest.unit_code.in_(sorted(units))))
    found = db.scalars(select(ReportRequest).where(or_(*asked))).all() if asked else []
    return sorted(found, key=lambda r: (r.status != "open", r.due or date.max, r.id))


_CASCADES_ASKED = select(ReportRequest.cascade_id).distinct()  # the cascades that asked for reports


def _reports_for(hierarchy: Hierarchy, user: str) -> frozenset[str]:
    """The units of the hierarchy this person reports for (reporting.reporters_of), once per process."""
    key = (hierarchy.digest, user)
    found = _REPORTS_FOR.get(key)
    if found is None:
        found = frozenset(code for code in hierarchy.graph if user in reporting.reporters_of(hierarchy, code))
        _REPORTS_FOR[key] = found
        while len(_REPORTS_FOR) > 4096:  # people at the desk, times a handful of hierarchies
            del _REPORTS_FOR[next(iter(_REPORTS_FOR))]
    return found


_REPORTS_FOR: dict[tuple[str, str], frozenset[str]] = {}


def _request(db: Session, request_id: int) -> ReportRequest:
    try:
        return reporting.find_request(db, request_id)
    except ReportError:
        raise Problem("Không có yêu cầu báo cáo này.", 404) from None


def _request_row(db: Session, found: ReportRequest, today: Any) -> dict[str, Any]:
    letter = db.get_one(LetterRecord, found.letter_id)
    directive, hierarchy = cascade_inputs(db, found.cascade_id)
    overdue = found.status == "open" and found.due is not None and found.due < today
    return {
        "request": found,
        "letter": letter,
        "content": letter_content(letter),
        "unit": hierarchy.unit(found.unit_code),
        "to": hierarchy.unit(found.issuer_code),
        "label": unit_label(hierarchy.unit(found.unit_code)),
        "to_label": unit_label(hierarchy.unit(found.issuer_code)),
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
    with looking(request) as db:
        found = _request(db, request_id)
        hierarchy = access.check_request(db, reader, found)
        row = _request_row(db, found, approval.today())
        versions = reporting.versions(db, found.id)
        files = (
            {  # what the page lists of each attachment; its bytes are read when it is opened
                a.report_id: a
                for a in db.scalars(
                    select(ReportAttachment)
                    .options(defer(ReportAttachment.data))
                    .where(ReportAttachment.report_id.in_([v.id for v in versions]))
                )
            }
            if versions
            else {}
        )
        latest = reporting.latest(db, found.id) if versions else None  # no version, no report yet
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
        report = acting(lambda: reporting.submit(db, found, reader.id, content, source, attachment=attachment))
        version = report.version
    # as after `chidao reports submit`, the consolidated reports now due are drafted: in the background
    the_desk(request).consolidation.ask()
    return see_other(f"/reports/{request_id}?m=submitted-{version}")
