"""The department's and auditors' pages: cascades, one cascade's tree and deliveries, re-sending, replay."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from chidao import access, approval
from db.cascades import get_cascade, inputs_of
from db.letters import get_letter
from db.models import Cascade, LetterRecord, RecipientRecord
from web.pages import (
    Checked,
    Id,
    Problem,
    database,
    int_field,
    render_page,
    see_other,
    signed_in,
    the_desk,
    unsent,
)

router = APIRouter()


@router.get("/cascades", response_class=HTMLResponse)
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


@router.get("/cascades/{cascade_id}", response_class=HTMLResponse)
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
            .where(
                LetterRecord.cascade_id == cascade_id,
                LetterRecord.status.in_(approval.OUT),
                RecipientRecord.status.in_(("failed", "pending", "sending")),
            )
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


@router.post("/cascades/{cascade_id}/resend")
def resend(request: Request, cascade_id: Id, form: Checked) -> Response:
    from chidao.dispatch import send_signed
    from chidao.outbox import resend as put_back

    desk = the_desk(request)
    reader = signed_in(request)
    access.check_may_act(reader, "resend", cascade_id)
    letter_id = int_field(form.get("letter"))
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
            raise Problem(unsent(exc), 500) from None
    return see_other(f"/cascades/{cascade_id}?m=resent-{count}")


@router.get("/cascades/{cascade_id}/replay", response_class=HTMLResponse)
def replay(request: Request, cascade_id: Id) -> Response:
    from chidao.replay import render_replay_page

    desk = the_desk(request)
    reader = signed_in(request)
    with database(request) as db:
        access.check_cascade(db, reader, cascade_id)
        return HTMLResponse(render_replay_page(db, cascade_id, desk.zone))
