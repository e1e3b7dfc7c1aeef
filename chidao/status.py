"""Where a cascade stands: each unit's letter and report, counts per level, who is overdue."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from sqlalchemy import bindparam, select
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


@dataclass
class CascadeRows:
    """What a cascade's status is worked out from, by unit: its own letter (id, status), its report request
    (id, status, due) and whether the letter from above reached it. Only these columns are read (loading
    whole rows, a letter's content with them, was most of a cascade page's time); the desk reuses the ids."""

    letters: dict[str, tuple[int, str]]
    requests: dict[str, tuple[int, str, date | None]]
    delivered: set[str]


def cascade_rows(session: Session, cascade_id: int) -> CascadeRows:
    """One query per table, columns only, through the session's connection (the ORM's handling of hundreds of
    plain rows cost more than reading them)."""
    connection, asked = session.connection(), {"cascade": cascade_id}
    letters = {code: (letter_id, status) for code, letter_id, status in connection.execute(_LETTERS, asked).tuples()}
    delivered = set(connection.execute(_DELIVERED, asked).scalars())
    requests = {
        code: (request_id, status, due)
        for code, request_id, status, due in connection.execute(_REQUESTS, asked).tuples()
    }
    return CascadeRows(letters, requests, delivered)


# cascade_rows' queries, built once (building a statement costs about what SQLite takes to answer it)
_LETTERS = select(LetterRecord.unit_code, LetterRecord.id, LetterRecord.status).where(
    LetterRecord.cascade_id == bindparam("cascade"), LetterRecord.kind == "letter"
)
_DELIVERED = (
    select(RecipientRecord.unit_code)
    .join(LetterRecord, LetterRecord.id == RecipientRecord.letter_id)
    .where(
        LetterRecord.cascade_id == bindparam("cascade"), LetterRecord.kind == "letter", RecipientRecord.status == "sent"
    )
)
_REQUESTS = select(ReportRequest.unit_code, ReportRequest.id, ReportRequest.status, ReportRequest.due).where(
    ReportRequest.cascade_id == bindparam("cascade")
)


def cascade_status(
    session: Session, cascade_id: int, today: date, rows: CascadeRows | None = None
) -> tuple[CascadeStatus, Hierarchy]:
    """The state of every unit under the cascade's issuer, as of `today` (from rows, if read already)."""
    cascade = get_cascade(session, cascade_id)
    directive, hierarchy = inputs_of(session, cascade)
    calendar = directive.report.calendar()
    found = rows or cascade_rows(session, cascade_id)
    status = CascadeStatus(cascade_id, today.isoformat())
    for code, name, depth in _units(hierarchy, cascade.issuer_code):
        request = found.requests.get(code)
        report, days_late, due = "not_owed", 0, None
        if request is not None:
            _, state, due = request
            if state in ("received", "late"):
                report = state
            elif due is None:
                report = "on_request"
            elif due < today:
                report, days_late = "overdue", calendar.between(due, today)
            else:
                report = "due"
        letter = found.letters.get(code)
        status.units.append(
            UnitState(
                code,
                name,
                depth,
                letter[1] if letter else None,
                code in found.delivered,
                report,
                due.isoformat() if due else None,
                days_late,
            )
        )
    return status, hierarchy


def _units(hierarchy: Hierarchy, top: str) -> list[tuple[str, str, int]]:
    """The units of top's subtree breadth first (Hierarchy.levels): (code, name, depth). The same for every
    status of a hierarchy: worked out once per process."""
    key = (hierarchy.digest, top)
    found = _UNITS.get(key)
    if found is None:
        found = [(u.code, u.name, depth) for depth, level in enumerate(hierarchy.levels(top)) for u in level]
        _UNITS[key] = found
        while len(_UNITS) > 64:  # a process serves a handful of hierarchies and issuers at a time
            del _UNITS[next(iter(_UNITS))]
    return found


_UNITS: dict[tuple[str, str], list[tuple[str, str, int]]] = {}


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
