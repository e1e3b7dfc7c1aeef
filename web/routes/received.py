"""Văn bản đến: the letters a unit received, as its incoming register enters them (số đến, ngày đến)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from chidao import access, incoming
from chidao.words import unit_label
from db.cascades import get_cascade, inputs_of
from web.listing import listing
from web.pages import Problem, database, render_page, signed_in

router = APIRouter()

KINDS = {"letter": "Công văn, kế hoạch…", "report": "Báo cáo"}


@router.get("/received", response_class=HTMLResponse)
def received(request: Request, unit: str = "", q: str = "", state: str = "", page: str = "1") -> Response:
    reader = signed_in(request)
    with database(request) as db:
        units = access.own_units(db, reader)
        if not units:
            return render_page(request, "received.html.j2", units={}, unit=None, letters=None, unit_name="")
        code = unit if unit else next(iter(units))
        if code not in units:
            access.check_unit(db, reader, code)  # refused (and logged)
            raise Problem("Không có đơn vị này.", 404)
        incoming.register_received(db, code)  # letters that arrived since the last look get their số đến
        rows: list[dict[str, Any]] = []
        for entry in incoming.received(db, code):
            _, hierarchy = inputs_of(db, get_cascade(db, entry.letter.cascade_id))
            sender = hierarchy.unit(entry.sender)
            rows.append({"entry": entry, "sender": unit_label(sender), "kind": entry.letter.kind})
    found = listing(
        rows,
        q=q,
        state=state,
        page=page,
        text=lambda r: (
            f"{r['entry'].number} {r['entry'].content.reference} {r['entry'].content.subject} {r['sender']} "
            f"{r['entry'].sender}"
        ),
        state_of=lambda r: r["kind"],
        states=KINDS,
        extra={"unit": code} if len(units) > 1 or unit else {},
    )
    return render_page(request, "received.html.j2", units=units, unit=code, unit_name=units[code], letters=found)
