"""Replay: a cascade's history rebuilt from its events alone, at a moment or step by step.

The walk reads nothing but the event log (and, to name letters, which unit each letter belongs to), so what
it shows is what the record says happened, whatever the rows say now.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from chidao.reporting import local_date
from db.cascades import get_cascade, inputs_of, letter_content
from db.events import history
from db.models import Event, LetterRecord
from letters.render import environment, render_html

# What a unit shows in the tree, most telling first: its report, then its own letter, then what it received.
UNIT_STATES = {
    "overdue": "quá hạn, chưa báo cáo",
    "late": "báo cáo muộn",
    "reported": "đã báo cáo",
    "sent": "văn bản đã gửi",
    "approved": "văn bản đã ký",
    "rejected": "dự thảo bị trả lại",
    "drafted": "đang dự thảo",
    "received": "đã nhận văn bản",
    "waiting": "chưa có gì",
}


@dataclass
class StateAt:
    """A cascade as it stood at a moment, rebuilt from its events alone."""

    at: str
    letters: dict[str, str]  # unit (or "unit (báo cáo)") -> drafted, approved, rejected, sent
    received: list[str]  # units a message had reached, in order
    reported: dict[str, str]  # unit -> on time, late
    overdue: list[str]  # units past their deadline without a report

    def to_data(self) -> dict[str, object]:
        return {
            "at": self.at,
            "letters": self.letters,
            "received": self.received,
            "reported": self.reported,
            "overdue": self.overdue,
        }


@dataclass
class _Unit:
    letter: str | None = None
    received: bool = False
    report: str | None = None  # on time, late
    due: str | None = None
    overdue: bool = False

    def state(self) -> str:
        if self.report is not None:
            return "late" if self.report == "late" else "reported"
        if self.overdue:
            return "overdue"
        if self.letter is not None:
            return self.letter
        return "received" if self.received else "waiting"


class Walk:
    """Applies a cascade's events in order and says which units each one changed."""

    def __init__(self, session: Session, cascade_id: int) -> None:
        self.letter_of: dict[int, tuple[str, str]] = {
            letter_id: (unit, kind)
            for letter_id, unit, kind in session.execute(
                select(LetterRecord.id, LetterRecord.unit_code, LetterRecord.kind).where(
                    LetterRecord.cascade_id == cascade_id
                )
            )
        }
        self.units: dict[str, _Unit] = {}
        self.letters: dict[str, str] = {}
        self.recipients: dict[int, int] = {}
        self.delivered: dict[int, int] = {}
        self.received: list[str] = []
        self.dues: list[tuple[str, str]] = []  # (due, unit), sorted as the walk needs them
        self.day = ""

    def unit(self, code: str) -> _Unit:
        return self.units.setdefault(code, _Unit())

    def _letter_key(self, letter_id: int, unit: str | None = None, kind: str | None = None) -> tuple[str, str]:
        known = self.letter_of.get(letter_id)
        if known is None:  # a letter row gone: the event still names its unit
            known = (unit or f"letter {letter_id}", kind or "letter")
        return known

    def _set_letter(self, letter_id: int, status: str, unit: str | None = None, kind: str | None = None) -> str:
        code, letter_kind = self._letter_key(letter_id, unit, kind)
        self.letters[code if letter_kind == "letter" else f"{code} (báo cáo)"] = status
        if letter_kind == "letter":
            self.unit(code).letter = status
        return code

    def apply(self, event: Event) -> set[str]:
        """Take one event into the state; the units whose state it touched."""
        payload: dict[str, Any] = json.loads(event.payload)
        touched: set[str] = set()
        lid = event.letter_id
        if event.kind in ("letter.drafted", "report.drafted") and lid is not None:
            self.recipients[lid] = payload.get("recipients", 0)
            kind = "letter" if event.kind == "letter.drafted" else "report"
            touched.add(self._set_letter(lid, "drafted", payload["unit"], kind))
        elif event.kind in ("letter.approved", "letter.rejected", "letter.regenerated") and lid is not None:
            status = {"letter.approved": "approved", "letter.rejected": "rejected"}.get(event.kind, "drafted")
            touched.add(self._set_letter(lid, status))
        elif event.kind == "message.sent" and lid is not None:
            self.delivered[lid] = self.delivered.get(lid, 0) + 1
            if self.delivered[lid] >= self.recipients.get(lid, 0):
                touched.add(self._set_letter(lid, "sent"))
            self.received.append(payload["unit"])
            if self._letter_key(lid)[1] == "letter":
                self.unit(payload["unit"]).received = True
                touched.add(payload["unit"])
        elif event.kind == "report.requested":
            self.unit(payload["unit"]).due = payload["due"]
            if payload["due"] is not None:
                self.dues.append((payload["due"], payload["unit"]))
        elif event.kind == "report.demanded":  # asked for on request: each unit's deadline is set now
            for code, due in payload.get("dues", {}).items():
                self.unit(code).due = due
                if due is not None:
                    self.dues.append((due, code))
        elif event.kind == "report.submitted":
            unit = self.unit(payload["unit"])
            unit.report, unit.overdue = ("late" if payload["late"] else "on time"), False
            touched.add(payload["unit"])
        return touched

    def settle(self, moment: datetime) -> set[str]:
        """Mark who is overdue as of the moment's day (in the cascade's time zone)."""
        today = local_date(moment).isoformat()
        touched = set()
        if today != self.day:
            self.day = today
            for due, code in self.dues:
                unit = self.units[code]
                if due < today and unit.report is None and not unit.overdue:
                    unit.overdue = True
                    touched.add(code)
        return touched

    def state(self, moment: datetime) -> StateAt:
        reported = {code: u.report for code, u in self.units.items() if u.report is not None}
        overdue = sorted(code for code, u in self.units.items() if u.overdue and u.report is None)
        return StateAt(moment.isoformat(timespec="seconds"), dict(self.letters), list(self.received), reported, overdue)


def state_at(session: Session, cascade_id: int, moment: datetime) -> StateAt:
    """Replay the events up to `moment`: which letters existed in which state, who had received, who had
    reported, what was overdue (by the deadline each request recorded)."""
    get_cascade(session, cascade_id)
    walk = Walk(session, cascade_id)
    for event in history(session, cascade_id):
        if event.at > moment:
            break
        walk.apply(event)
    walk.settle(moment)
    return walk.state(moment)


# Events that make one step together when they follow each other: a letter's delivery opens the requests.
PHASES = {
    "letter.drafted": "drafting",
    "report.drafted": "drafting",
    "message.sent": "delivery",
    "message.failed": "delivery",
    "message.deferred": "delivery",
    "report.requested": "delivery",
    "reminder.sent": "reminders",
    "escalation.sent": "reminders",
    "demand.sent": "reminders",
    "reminder.failed": "reminders",
}


@dataclass
class Step:
    """Consecutive events of one phase (or of one kind on one letter), one step of the page's slider."""

    index: int
    at: datetime
    kind: str  # the phase, or the kind of the step's events
    events: list[Event] = field(default_factory=list)
    changes: dict[str, str] = field(default_factory=dict)  # unit -> its state after the step


def steps(session: Session, cascade_id: int) -> Iterator[Step]:
    """The history as steps, each with the units whose state it changed."""
    walk = Walk(session, cascade_id)
    current: Step | None = None
    last: tuple[str, int | None] | None = None
    for event in history(session, cascade_id):
        phase = PHASES.get(event.kind, event.kind)
        key = (phase, None if event.kind in PHASES else event.letter_id)
        if current is None or key != last:
            if current is not None:
                yield current
            current, last = Step(current.index + 1 if current else 0, event.at, phase), key
        current.events.append(event)
        touched = walk.settle(event.at) | walk.apply(event)
        for code in touched:
            current.changes[code] = walk.units[code].state()
    if current is not None:
        yield current


KIND_WORDS = {
    "drafting": "dự thảo văn bản",
    "delivery": "gửi văn bản qua thư điện tử",
    "reminders": "nhắc hạn, báo lên thủ trưởng",
    "cascade.started": "bắt đầu đợt",
    "letter.drafted": "dự thảo văn bản",
    "letter.edited": "sửa dự thảo",
    "letter.approved": "ký, cấp số văn bản",
    "letter.rejected": "trả lại dự thảo",
    "letter.regenerated": "dự thảo lại",
    "message.sent": "gửi thư điện tử",
    "message.failed": "gửi không được",
    "message.deferred": "gửi lại sau",
    "report.requested": "yêu cầu báo cáo",
    "report.demanded": "yêu cầu báo cáo ngay",
    "report.submitted": "nhận báo cáo",
    "report.corrected": "nhận báo cáo sửa",
    "report.drafted": "dự thảo báo cáo tổng hợp",
    "reminder.sent": "nhắc hạn",
    "escalation.sent": "báo lên thủ trưởng",
    "demand.sent": "yêu cầu báo cáo",
    "reminder.failed": "nhắc không được",
    "refused": "từ chối thao tác",
}


def render_replay_page(session: Session, cascade_id: int, zone: Any, at: datetime | None = None) -> str:
    """The replay as one self-contained page: the tree coloured by state at a chosen step (a slider, or
    the list of steps without JavaScript), the timeline, and every letter as printed."""
    cascade = get_cascade(session, cascade_id)
    _, hierarchy = inputs_of(session, cascade)
    all_steps = list(steps(session, cascade_id))
    chosen = len(all_steps) - 1
    if at is not None:
        chosen = max((s.index for s in all_steps if s.at <= at), default=0)
    final: dict[str, str] = {}
    for step in all_steps[: chosen + 1]:
        final.update(step.changes)
    units_in_cascade = {u.code for level in hierarchy.levels(cascade.issuer_code) for u in level}

    def node(code: str) -> dict[str, object]:
        unit = hierarchy.unit(code)
        return {
            "code": code,
            "name": unit.name,
            "state": final.get(code, "waiting"),
            "children": [node(c.code) for c in hierarchy.sorted_children(code) if c.code in units_in_cascade],
        }

    letters = session.scalars(
        select(LetterRecord).where(LetterRecord.cascade_id == cascade_id).order_by(LetterRecord.depth, LetterRecord.id)
    ).all()
    timeline = [
        {
            "step": step.index,
            "at": step.at.astimezone(zone).strftime("%d/%m/%Y %H:%M"),
            "words": KIND_WORDS.get(step.kind, step.kind),
            "kind": step.kind,
            "count": len(step.events),
            "actors": sorted({e.actor for e in step.events}),
            "letters": sorted({e.letter_id for e in step.events if e.letter_id is not None}),
        }
        for step in all_steps
    ]
    data = {"changes": [step.changes for step in all_steps], "chosen": chosen}
    return (
        environment()
        .get_template("replay.html.j2")
        .render(
            cascade=cascade,
            issuer=hierarchy.unit(cascade.issuer_code).name,
            tree=node(cascade.issuer_code),
            states=UNIT_STATES,
            timeline=timeline,
            chosen=chosen,
            letters=[
                {"record": letter, "html": render_html(letter_content(letter)), "label": _letter_label(letter)}
                for letter in letters
            ],
            data=data,
            today=datetime.now(zone).strftime("%d/%m/%Y %H:%M"),
        )
    )


LETTER_WORDS = {"draft": "dự thảo", "rejected": "bị trả lại", "approved": "đã ký", "sent": "đã gửi"}


def _letter_label(letter: LetterRecord) -> str:
    number = f"số {letter.number}" if letter.number else "chưa cấp số"
    kind = "Báo cáo" if letter.kind == "report" else "Văn bản"
    return f"{kind} của {letter.unit_code} ({number}, {LETTER_WORDS.get(letter.status, letter.status)})"
