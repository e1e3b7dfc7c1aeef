"""Following cascades: the list, one cascade's tree (the department: every unit, with links to each unit's
letter and report), a unit's part of it (a district's head: her communes), a cascade's letters, deliveries
not made and re-sending, and the replay."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from chidao import access, approval
from chidao.access import Reader
from chidao.status import UnitState, cascade_rows, cascade_status
from chidao.words import unit_label
from db.cascades import get_cascade, inputs_of, letter_content
from db.letters import get_letter
from db.models import Cascade, LetterRecord, RecipientRecord
from hierarchy.graph import Hierarchy
from web.listing import listing
from web.pages import (
    Checked,
    Id,
    Problem,
    database,
    int_field,
    looking,
    render_page,
    see_other,
    signed_in,
    the_desk,
    unsent,
)

router = APIRouter()

PER_PAGE = 50
REPORT_STATES = {
    "received": "đã báo cáo",
    "late": "báo cáo muộn",
    "overdue": "quá hạn",
    "due": "chưa đến hạn",
    "on_request": "báo cáo khi có yêu cầu",
    "not_owed": "không phải báo cáo",
}
LETTER_STATES = {"draft": "dự thảo", "rejected": "bị trả lại", "approved": "đã ký", "sent": "đã gửi"}


@router.get("/cascades", response_class=HTMLResponse)
def cascades(request: Request, q: str = "", page: str = "1") -> Response:
    """The cascades this person follows: all of them (the department: those it issued; an auditor: every
    one), or their own unit's part (a unit's head, with the units under it)."""
    reader = signed_in(request)
    with looking(request) as db:
        rows: list[dict[str, Any]] = []
        for cascade in db.scalars(select(Cascade).order_by(Cascade.id.desc())):
            directive, hierarchy = inputs_of(db, cascade)
            whole = reader.auditor or access.directs(hierarchy, cascade, reader.id)
            own = [] if whole else _own_units(hierarchy, cascade, reader)
            if whole or own:
                rows.append(
                    {
                        "cascade": cascade,
                        "subject": directive.subject,
                        "issuer": unit_label(hierarchy.unit(cascade.issuer_code)),
                        "whole": whole,
                        "own": [(code, unit_label(hierarchy.unit(code))) for code in own],
                    }
                )
    found = listing(
        rows,
        q=q,
        page=page,
        text=lambda r: f"{r['cascade'].id} {r['subject']} {r['issuer']} {' '.join(n for _, n in r['own'])}",
    )
    return render_page(request, "cascades.html.j2", cascades=found)


def _own_units(hierarchy: Hierarchy, cascade: Cascade, reader: Reader) -> list[str]:
    """The units of the cascade this person approves for and that have units under them to follow."""
    reached = {u.code for level in hierarchy.levels(cascade.issuer_code) for u in level}
    return [
        code
        for code in reached
        if hierarchy.has_children(code) and any(p.id == reader.id for p in hierarchy.unit(code).approvers)
    ]


@router.get("/cascades/{cascade_id}", response_class=HTMLResponse)
def cascade_page(
    request: Request, cascade_id: Id, m: str = "", q: str = "", state: str = "", page: str = "1"
) -> Response:
    resent = int(m[7:]) if re.fullmatch(r"resent-\d{1,6}", m) else None
    reader = signed_in(request)
    with looking(request) as db:
        hierarchy = access.check_cascade(db, reader, cascade_id)
        cascade = get_cascade(db, cascade_id)
        directive, _ = inputs_of(db, cascade)
        part = _part(db, cascade, hierarchy, cascade.issuer_code, q, state, page)
        failed = db.execute(_FAILED, {"cascade": cascade_id}).all()
        consolidated = db.execute(_CONSOLIDATED, {"cascade": cascade_id}).all()
        return render_page(
            request,
            "cascade.html.j2",
            cascade=cascade,
            subject=directive.subject,
            issuer=unit_label(hierarchy.unit(cascade.issuer_code)),
            failed=[
                {"recipient": r, "letter": letter, "from": unit_label(hierarchy.unit(letter.unit_code))}
                for r, letter in failed
            ],
            consolidated=[(r, unit_label(hierarchy.unit(r.unit_code))) for r in consolidated],
            may_act=not reader.auditor,
            resent=resent,
            part=part,
            top=None,
        )


# the cascade page's queries, built once (building one cost about what SQLite takes to answer it)
_FAILED = (  # the copies of signed letters not delivered
    select(RecipientRecord, LetterRecord)
    .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
    .where(
        LetterRecord.cascade_id == bindparam("cascade"),
        LetterRecord.status.in_(approval.OUT),
        RecipientRecord.status.in_(("failed", "pending", "sending")),
    )
    .order_by(LetterRecord.id, RecipientRecord.position)
)
_CONSOLIDATED = (  # the BÁO CÁO: what the page shows of them, not their content
    select(LetterRecord.id, LetterRecord.unit_code, LetterRecord.status, LetterRecord.number)
    .where(LetterRecord.cascade_id == bindparam("cascade"), LetterRecord.kind == "report")
    .order_by(LetterRecord.depth.desc(), LetterRecord.id)
)


@router.get("/cascades/{cascade_id}/units/{unit_code}", response_class=HTMLResponse)
def unit_part(
    request: Request, cascade_id: Id, unit_code: str, q: str = "", state: str = "", page: str = "1"
) -> Response:
    """A unit's part of a cascade: the units under it, who reported, late, overdue, with their letters and
    reports (its head, the department above, auditors)."""
    reader = signed_in(request)
    with looking(request) as db:
        hierarchy = access.check_subtree(db, reader, cascade_id, unit_code)
        cascade = get_cascade(db, cascade_id)
        directive, _ = inputs_of(db, cascade)
        part = _part(db, cascade, hierarchy, unit_code, q, state, page)
        if not part["known"]:
            raise Problem("Đơn vị này không nằm trong đợt triển khai.", 404)
        return render_page(
            request,
            "cascade.html.j2",
            cascade=cascade,
            subject=directive.subject,
            issuer=unit_label(hierarchy.unit(cascade.issuer_code)),
            failed=None,
            consolidated=None,
            may_act=False,
            resent=None,
            part=part,
            top=unit_label(hierarchy.unit(unit_code)),
            whole=reader.auditor or access.directs(hierarchy, cascade, reader.id),
        )


@dataclass(slots=True)
class UnitRow:
    """A unit's row on a cascade's page. Attributes, not a dict: the template reads some thirty of them per
    row, and Jinja tries an attribute first (a dict's key only after the attribute lookup has failed)."""

    code: str
    label: str
    depth: int
    state: UnitState
    letter: int | None  # the unit's own letter
    request: int | None  # its report request
    parent: tuple[str, str] | None  # code, label
    children: int
    reported: int  # of the units right under it
    overdue: int


def _part(
    db: Session, cascade: Cascade, hierarchy: Hierarchy, top: str, q: str, state: str, page: str
) -> dict[str, Any]:
    """The units under `top` (and it) in tree order, each with its report's state, its own letter and its
    report request; their counts by level; the overdue ones; one page of them as asked."""
    read = cascade_rows(db, cascade.id)  # read once: the states, and the ids the rows link to
    status, _ = cascade_status(db, cascade.id, approval.today(), read)
    states = {u.code: u for u in status.units}
    known = top in states
    labels = _labels(hierarchy)
    rows: list[UnitRow] = []
    for code, depth, parent, children in _tree(hierarchy, top) if known else ():
        below = [states[c].report for c in children]
        letter, request = read.letters.get(code), read.requests.get(code)
        rows.append(
            UnitRow(
                code,
                labels[code],
                depth,
                states[code],
                letter[0] if letter else None,
                request[0] if request else None,
                (parent, labels[parent]) if parent else None,
                len(children),
                below.count("received") + below.count("late"),
                below.count("overdue"),
            )
        )
    levels: list[dict[str, int]] = []
    for row in rows:
        while len(levels) <= row.depth:
            levels.append({"units": 0, "letters_sent": 0, **dict.fromkeys(REPORT_STATES, 0)})
        level = levels[row.depth]
        level["units"] += 1
        level["letters_sent"] += row.state.letter == "sent"
        level[row.state.report] += 1
    overdue = sorted((r for r in rows if r.state.report == "overdue"), key=lambda r: (-r.state.days_late, r.code))
    found = listing(
        rows,
        q=q,
        state=state,
        page=page,
        text=lambda r: f"{r.code} {r.label} {r.parent[1] if r.parent else ''}",
        state_of=lambda r: r.state.report,
        states=REPORT_STATES,
        per_page=PER_PAGE,
    )
    return {"known": known, "top": top, "levels": levels, "overdue": overdue, "units": found}


def _tree(hierarchy: Hierarchy, top: str) -> list[tuple[str, int, str | None, list[str]]]:
    """The units under top (and it) in tree order, children in Vietnamese alphabetical order: (code, depth,
    parent, children). The same for every page of a hierarchy: worked out once per process (sorting thousands
    of names by their Vietnamese keys took most of a cascade page's time)."""
    key = (hierarchy.digest, top)
    found = _TREES.get(key)
    if found is None:
        found = []

        def walk(code: str, depth: int, parent: str | None) -> None:
            children = [c.code for c in hierarchy.sorted_children(code)]
            found.append((code, depth, parent, children))
            for child in children:
                walk(child, depth + 1, code)

        walk(top, 0, None)
        _remember(_TREES, key, found)
    return found


def _labels(hierarchy: Hierarchy) -> dict[str, str]:
    """Every unit named with its place (chidao.words.unit_label), once per hierarchy and process."""
    found = _LABELS.get(hierarchy.digest)
    if found is None:
        found = _remember(
            _LABELS, hierarchy.digest, {code: unit_label(hierarchy.unit(code)) for code in hierarchy.graph}
        )
    return found


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    cache[key] = value
    while len(cache) > 64:  # a process serves a handful of hierarchies and tops at a time
        del cache[next(iter(cache))]
    return value


_TREES: dict[tuple[str, str], list[tuple[str, int, str | None, list[str]]]] = {}
_LABELS: dict[str, dict[str, str]] = {}


@router.get("/cascades/{cascade_id}/letters", response_class=HTMLResponse)
def cascade_letters(request: Request, cascade_id: Id, q: str = "", state: str = "", page: str = "1") -> Response:
    """Every letter of the cascade (drafts, signed, the BÁO CÁO), searchable by number, subject and unit."""
    reader = signed_in(request)
    with looking(request) as db:
        hierarchy = access.check_cascade(db, reader, cascade_id)
        cascade = get_cascade(db, cascade_id)
        directive, _ = inputs_of(db, cascade)
        rows: list[dict[str, Any]] = [
            {
                "letter": letter,
                "content": letter_content(letter),
                "label": unit_label(hierarchy.unit(letter.unit_code)),
            }
            for letter in db.scalars(
                select(LetterRecord)
                .where(LetterRecord.cascade_id == cascade_id)
                .order_by(LetterRecord.kind, LetterRecord.depth, LetterRecord.id)
            )
        ]
    found = listing(
        rows,
        q=q,
        state=state,
        page=page,
        text=lambda r: f"{r['content'].reference} {r['content'].subject} {r['label']} {r['letter'].unit_code}",
        state_of=lambda r: r["letter"].status,
        states=LETTER_STATES,
        per_page=PER_PAGE,
    )
    return render_page(request, "cascade_letters.html.j2", cascade=cascade, subject=directive.subject, letters=found)


@router.post("/cascades/{cascade_id}/resend")
def resend(request: Request, cascade_id: Id, form: Checked) -> Response:
    from chidao.outbox import resend as put_back
    from flows.approved import approved
    from flows.runs import inline

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
            with inline():
                approved(letter_id, signed_by=reader.id, resent=True)
        except Exception as exc:  # back in the outbox: the next dispatch sends them
            raise Problem(unsent(exc), 500) from None
    return see_other(f"/cascades/{cascade_id}?m=resent-{count}")


@router.get("/cascades/{cascade_id}/replay", response_class=HTMLResponse)
def replay(request: Request, cascade_id: Id) -> Response:
    from chidao.replay import render_replay_page

    desk = the_desk(request)
    reader = signed_in(request)
    with looking(request) as db:
        access.check_cascade(db, reader, cascade_id)
        return HTMLResponse(render_replay_page(db, cascade_id, desk.zone))
