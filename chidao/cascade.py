"""The steps of a cascade, each a function of a session, so the flow, the CLI and tests share them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from chidao.settings import settings
from db.cascades import get_cascade, inputs_of, letter_content, open_cascade, store_letter
from db.letters import letters_of_units
from db.models import LetterRecord
from hierarchy.graph import Hierarchy
from hierarchy.load import load_hierarchy
from inputs.limits import DIRECTIVE
from inputs.sources import read_source
from letters.directive import Directive, directive_from
from letters.plan import first_letter, next_letters


def load_inputs(
    directive_path: str | Path, hierarchy_path: str | Path, today: date | None = None
) -> tuple[Directive, Hierarchy]:
    """Both files, validated against each other; InputError names the file and line of each problem. The
    directive is read first: a refused directive costs nothing of the (large) hierarchy. `today`: the day the
    cascade starts, against which a report deadline must not have passed (default: the directive's date)."""
    source = read_source(directive_path, DIRECTIVE)
    hierarchy = load_hierarchy(hierarchy_path, smtputf8=settings().smtputf8)
    return directive_from(source, hierarchy, today), hierarchy


class NotAnApprover(Exception):
    """Someone named as having signed the department's letter on paper who does not approve its letters."""


def check_start(
    directive_path: str | Path, hierarchy_path: str | Path, draft_date: date | None, approved_by: str | None = None
) -> tuple[Directive, Hierarchy]:
    """Everything a cascade needs, checked before anything is written: both files against each other, the
    first letter, and who signed it on paper. InputError or NotAnApprover says what is wrong."""
    from chidao.approval import approvers_of

    directive, hierarchy = load_inputs(directive_path, hierarchy_path, started_today())
    first_letter(directive, hierarchy, draft_date_for(directive, draft_date))
    allowed = approvers_of(hierarchy, directive.issuer)
    if approved_by and approved_by not in allowed:
        raise NotAnApprover(
            f"{approved_by!r} is not an approver of {directive.issuer} (approvers: {', '.join(allowed)})"
        )
    return directive, hierarchy


def started_today() -> date:
    """The day a cascade starts, in Vietnam: report deadlines before it are refused, whatever the draft date."""
    return datetime.now(ZoneInfo(settings().timezone)).date()


def draft_date_for(directive: Directive, given: date | None = None) -> date:
    """The date drafts carry: as given, else the directive's, else today in Vietnam."""
    return given or directive.date or datetime.now(ZoneInfo(settings().timezone)).date()


@dataclass
class Begun:
    cascade_id: int
    created: bool
    root_letter_id: int
    root_created: bool


def begin(
    session: Session,
    directive: Directive,
    hierarchy: Hierarchy,
    draft_date: date,
    actor: str,
    flow_run_id: str | None = None,
) -> Begun:
    """Open (or find) the cascade and store its root letter."""
    draft = first_letter(directive, hierarchy, draft_date)
    cascade, created = open_cascade(session, directive, hierarchy, draft_date, actor, flow_run_id)
    record, root_created = store_letter(session, cascade, draft, None, hierarchy, actor, flow_run_id)
    return Begun(cascade.id, created, record.id, root_created)


@dataclass
class Below:
    letter_ids: list[int] = field(default_factory=list)
    created: int = 0
    silent: list[str] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)


def draft_below(
    session: Session, cascade_id: int, parent_ids: list[int], actor: str, flow_run_id: str | None = None
) -> Below:
    """Draft the letters of the units that receive the given letters (existing ones are kept as they are)."""
    cascade = get_cascade(session, cascade_id)
    directive, hierarchy = inputs_of(session, cascade)
    parents = [session.get_one(LetterRecord, pid) for pid in parent_ids]
    by_unit = {p.unit_code: p for p in parents}
    depth = parents[0].depth + 1 if parents else 0
    step = next_letters(directive, hierarchy, [letter_content(p) for p in parents], cascade.draft_date, depth)
    existing = letters_of_units(session, cascade_id, [d.letter.unit for d in step.drafts])
    out = Below(silent=step.silent, unreached=step.unreached)
    for draft in step.drafts:
        record = existing.get(draft.letter.unit)
        if record is None:
            parent = by_unit[draft.above] if draft.above else None
            record, _ = store_letter(
                session, cascade, draft, parent.id if parent else None, hierarchy, actor, flow_run_id
            )
            out.created += 1
        out.letter_ids.append(record.id)
    return out


def expected_letters(hierarchy: Hierarchy, top: str) -> int:
    """Upper bound of the letters of a cascade from top: units of its subtree with units under them."""
    return sum(1 for level in hierarchy.levels(top) for unit in level if hierarchy.has_children(unit.code))
