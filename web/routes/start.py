"""Starting a cascade from the desk: the directive composed on the form (web.compose) or pasted or uploaded as
YAML, its plan, the run and its progress. Both ways give the same directive file, planned the same way."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from chidao import access
from chidao.access import Reader
from chidao.refusals import Refused
from inputs.sources import InputError
from inputs.vietnamese import file_name
from letters.doctypes import CODES
from letters.render import render_html
from web import compose, starts
from web.forms import FormErrors
from web.input_words import Told, all_in_file, plain, start_error
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
    reader = signed_in(request)
    _may_start(request, reader)
    return _page(request, reader)


@router.post("/start", response_class=HTMLResponse)
async def plan(request: Request, form: Checked) -> Response:
    """The form's fields (view=form), or a pasted or uploaded file: planned (view=yaml, the default), or read
    into the form (view=fill)."""
    from starlette.concurrency import run_in_threadpool

    reader = await run_in_threadpool(signed_in, request)
    _may_start(request, reader)
    view = str(form.get("view") or "yaml")
    if view == "form":
        return await run_in_threadpool(_compose, request, reader, compose.posted(form))
    upload = form.get("file")
    text = str(form.get("text") or "")
    name = "Ô nhập văn bản"
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(starts.MAX_DIRECTIVE + 1)
        name = file_name(upload.filename)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return await run_in_threadpool(
                _page, request, reader, 400, text="", errors=[plain(f"{name}: không phải văn bản UTF-8")], view="yaml"
            )
    if view == "fill":
        return await run_in_threadpool(_fill, request, reader, text, name)
    return await run_in_threadpool(_plan, request, reader, text, name)


@router.post("/start/run")
def run(request: Request, form: Checked) -> Response:
    desk = the_desk(request)
    reader = signed_in(request)
    _may_start(request, reader)
    text = str(form.get("text") or "")
    try:
        job = desk.starts.start(text, _served(request), reader.id)
    except starts.NotStarter as exc:
        raise exc.refused() from None
    except InputError as exc:
        told = "; ".join(t.words for t in all_in_file(exc.problems))
        raise Problem(f"Không khởi động được: {told}", 400) from None
    except starts.StartError as exc:
        raise Problem(f"Không khởi động được: {start_error(str(exc), 'chỉ đạo').words}", 400) from None
    return see_other(f"/start/{job.id}")


@router.get("/start/{job_id}", response_class=HTMLResponse)
def job(request: Request, job_id: str) -> Response:
    desk = the_desk(request)
    reader = signed_in(request)
    found = desk.starts.job(job_id)
    if found is None or reader.id not in found.starters:
        raise Problem("Không có việc khởi động này.", 404)
    return render_page(request, "job.html.j2", job=found)


def _plan(
    request: Request, reader: Reader, text: str, name: str, form: tuple[compose.Fields, compose.Composed] | None = None
) -> Response:
    """The plan of the directive's text; `form`: the fields it was composed from, shown again as they were, and
    what they composed (the loader's problems are told against the fields)."""
    desk = the_desk(request)
    fields, view = (None, "yaml") if form is None else (form[0], "form")
    try:
        planned = desk.starts.plan(text, name, _served(request))
    except InputError as exc:
        if form is None:
            return _page(request, reader, 400, text=text, errors=all_in_file(exc.problems), view=view)
        told = form[1].explain(exc.problems)
        errors = [t for each in told.values() for t in each]
        return _page(request, reader, 400, text=text, errors=errors, fields=fields, field_errors=told, view=view)
    except starts.StartError as exc:
        errors = [start_error(str(exc), name)]
        return _page(request, reader, 400, text=text, errors=errors, fields=fields, view=view)
    if fields is None:  # the form shows the planned directive, to go on with it there
        fields = compose.fields_of(planned.directive.model_dump(mode="json", by_alias=True, exclude_defaults=True))
    return _page(
        request,
        reader,
        text=text,
        plan=planned,
        fields=fields,
        view=view,
        may_start=reader.id in planned.starters,
        first_html=render_html(planned.first),
    )


def _compose(request: Request, reader: Reader, fields: compose.Fields) -> Response:
    try:
        composed = compose.compose(fields)
    except FormErrors as exc:
        told = {key: [plain(message)] for key, message in exc.errors.items()}
        errors = [t for each in told.values() for t in each]
        return _page(request, reader, 400, errors=errors, fields=fields, field_errors=told, view="form")
    return _plan(request, reader, composed.text(), compose.NAME, (fields, composed))


def _fill(request: Request, reader: Reader, text: str, name: str) -> Response:
    """A directive file read into the form, to go on with it there (checked when the form is planned)."""
    try:
        fields = compose.fields_from_text(text, name)
    except InputError as exc:
        return _page(request, reader, 400, text=text, errors=all_in_file(exc.problems), view="yaml")
    return _page(request, reader, text=text, fields=fields, view="form")


def _page(
    request: Request,
    reader: Reader,
    status: int = 200,
    *,
    text: str = "",
    errors: Iterable[Told] = (),
    plan: starts.Planned | None = None,
    fields: compose.Fields | None = None,
    field_errors: dict[str, list[Told]] | None = None,
    view: str = "form",
    **more: Any,
) -> Response:
    """The start page: the form (filled with `fields`, else empty), the YAML view, the plan if there is one; what is
    wrong with the directive told in Vietnamese (web.input_words), the loader's English beside it."""
    desk = the_desk(request)
    hierarchy = desk.starts.hierarchy(desk.hierarchy) if desk.hierarchy is not None else None
    issuers = compose.issuers(hierarchy, reader.id) if hierarchy is not None else []
    return render_page(
        request,
        "start.html.j2",
        status=status,
        hierarchy=desk.hierarchy,
        text=text,
        errors=list(errors),
        plan=plan,
        fields=compose.padded(fields or compose.blank(issuers)),
        field_errors=field_errors or {},
        view=view,
        roles=hierarchy.roles if hierarchy is not None else {},
        issuers=issuers,
        labels=compose.LABELS,
        rules=compose.RULES,
        urgencies=compose.URGENCIES,
        doc_types=list(CODES),
        **more,
    )


def _served(request: Request) -> Path:
    served = the_desk(request).hierarchy
    if served is None:
        raise Problem("Bàn làm việc chưa được chỉ định tệp hệ thống đơn vị (chidao serve --hierarchy).", 400)
    return served


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
