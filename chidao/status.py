"""Where a cascade stands: each unit's letter and report, counts per level, who is overdue."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.cascades import get_cascade, inputs_of
from db.models import LetterRecord, RecipientRecord, ReportRequest
from hierarchy.graph import Hierarchy


@dataclass
class UnitState:
    code: str
    name: str
    depth: int
    letter: str | None  # the unit's own letter: draft, approved, sent (None: writes none)
    delivered: bool  # the letter from above reached it
    report: str  # not_owed, on_request, due, overdue, received, late
    due: str | None = None
    days_late: int = 0


@dataclass
class CascadeStatus:
    cascade_id: int
    day: str
    units: list[UnitState] = field(default_factory=list)

    def levels(self) -> list[dict[str, int]]:
        out: list[dict[str, int]] = []
        for depth in range(max((u.depth for u in self.units), default=-1) + 1):
            level = [u for u in self.units if u.depth == depth]
            counts = {"units": len(level), "letters_sent": sum(u.letter == "sent" for u in level)}
            for state in ("due", "on_request", "overdue", "received", "late"):
                counts[state] = sum(u.report == state for u in level)
            out.append(counts)
        return out

    def overdue(self) -> list[UnitState]:
        return sorted((u for u in self.units if u.report == "overdue"), key=lambda u: (-u.days_late, u.code))

    def to_data(self) -> dict[str, object]:
        return {
            "cascade": self.cascade_id,
            "day": self.day,
            "levels": self.levels(),
            "overdue": [asdict(u) for u in self.overdue()],
            "units": [asdict(u) for u in self.units],
        }


def cascade_status(session: Session, cascade_id: int, today: date) -> tuple[CascadeStatus, Hierarchy]:
    """The state of every unit under the cascade's issuer, as of `today`."""
    cascade = get_cascade(session, cascade_id)
    directive, hierarchy = inputs_of(session, cascade)
    calendar = directive.report.calendar()
    letters = {
        r.unit_code: r.status
        for r in session.scalars(
            select(LetterRecord).where(LetterRecord.cascade_id == cascade_id, LetterRecord.kind == "letter")
        )
    }
    delivered = set(
        session.scalars(
            select(RecipientRecord.unit_code)
            .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
            .where(
                LetterRecord.cascade_id == cascade_id, LetterRecord.kind == "letter", RecipientRecord.status == "sent"
            )
        )
    )
    requests = {
        r.unit_code: r for r in session.scalars(select(ReportRequest).where(ReportRequest.cascade_id == cascade_id))
    }
    status = CascadeStatus(cascade_id, today.isoformat())
    for depth, level in enumerate(hierarchy.levels(cascade.issuer_code)):
        for unit in level:
            request = requests.get(unit.code)
            report, days_late = "not_owed", 0
            if request is not None:
                if request.status in ("received", "late"):
                    report = request.status
                elif request.due is None:
                    report = "on_request"
                elif request.due < today:
                    report, days_late = "overdue", calendar.between(request.due, today)
                else:
                    report = "due"
            status.units.append(
                UnitState(
                    unit.code,
                    unit.name,
                    depth,
                    letters.get(unit.code),
                    unit.code in delivered,
                    report,
                    request.due.isoformat() if request and request.due else None,
                    days_late,
                )
            )
    return status, hierarchy


def render_status_page(status: CascadeStatus, hierarchy: Hierarchy) -> str:
    """The status as an HTML page: the tree coloured by state (templates/status.html.j2)."""
    from letters.render import environment

    states = {u.code: u for u in status.units}

    def node(code: str) -> dict[str, object]:
        return {"state": states[code], "children": [node(c.code) for c in hierarchy.sorted_children(code)]}

    day = date.fromisoformat(status.day)
    return (
        environment()
        .get_template("status.html.j2")
        .render(
            status=status,
            day=day.strftime("%d/%m/%Y"),
            levels=status.levels(),
            overdue=status.overdue(),
            tree=node(status.units[0].code),
        )
    )
