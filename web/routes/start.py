"""Starting a cascade from the desk: the directive pasted or uploaded, its plan, the run and its progress."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from chidao import access
from chidao.access import Reader
from chidao.refusals import Refused
from inputs.sources import InputError
from inputs.vietnamese import file_name
from letters.render import render_html
from web import starts
from web.pages import (
    Checked,
    Problem,
    render_page,
    see_other,
    signed_in,
    the_desk,
)

router = APIRouter()


@router.get("/start", response_class=HTMLResponse)
def start_page(request: Request) -> Response:
    desk = the_desk(request)
    _may_start(request, signed_in(request))
    return render_page(request, "start.html.j2", hierarchy=desk.hierarchy, text="", errors=[], plan=None)


@router.post("/start", response_class=HTMLResponse)
async def plan(request: Request, form: Checked) -> Response:
    from starlette.concurrency import run_in_threadpool

    desk = the_desk(request)
    reader = await run_in_threadpool(signed_in, request)
    _may_start(request, reader)
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


@router.post("/start/run")
def run(request: Request, form: Checked) -> Response:
    desk = the_desk(request)
    reader = signed_in(request)
    _may_start(request, reader)
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


@router.get("/start/{job_id}", response_class=HTMLResponse)
def job(request: Request, job_id: str) -> Response:
    desk = the_desk(request)
    reader = signed_in(request)
    found = desk.starts.job(job_id)
    if found is None or reader.id not in found.starters:
        raise Problem("Không có việc khởi động này.", 404)
    return render_page(request, "job.html.j2", job=found)


def _plan(request: Request, reader: Reader, text: str, name: str) -> Response:
    desk = the_desk(request)
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


def _may_start(request: Request, reader: Reader) -> None:
    """Only an approver of the served hierarchy may open the start page or post to it (a commune clerk, an
    auditor may not): refused before anything posted is read."""
    desk = the_desk(request)
    access.check_may_act(reader, "start a cascade")
    if desk.approvers is not None and reader.id not in desk.approvers:
        raise Refused(
            f"{reader.id!r} approves no unit of the served hierarchy",
            user=reader.id,
            cascade_id=None,
            action="start a cascade",
        )
