"""The directive file: what a department decides to send down, validated with line numbers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from hierarchy.graph import Hierarchy
from hierarchy.model import Link, Signer
from inputs.limits import DIRECTIVE
from inputs.sources import InputError, Problem, Source, parse_source, read_source, validate
from letters.calendar import WorkingCalendar
from letters.doctypes import canonical_type

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
# Placeholders an item may use; they take the issuing unit's values at each level.
PLACEHOLDERS = ("scope", "area")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Basis(_Strict):
    """The document the directive acts on, cited by its full reference."""

    type: Text = Field(description="Document type, e.g. 'Kế hoạch'")
    number: Text = Field(description="Number and notation, e.g. '220/KH-UBND'")
    date: dt.date
    issuer: Text = Field(description="Issuer as cited, e.g. 'UBND tỉnh'")
    subject: Text


class Relay(_Strict):
    """Tells the addressed unit to have its own units carry out the content of another section."""

    to: tuple[Text, ...] = Field(min_length=1)
    content: Text = Field(description="id of the section whose content is relayed")


class Item(_Strict):
    text: Text
    relay: Relay | None = None


class Section(_Strict):
    id: Text
    title: Text
    to: tuple[Text, ...] = Field(min_length=1, description="Recipient roles addressed")
    items: tuple[Item, ...] = Field(min_length=1)

    @field_validator("items", mode="before")
    @classmethod
    def _plain_items(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"text": v} if isinstance(v, str) else v for v in value]
        return value


class Report(_Strict):
    """Who owes a report back, and by when: on request, by a date, or within working days of the issuer's letter.

    `due` is the date printed in the issuer's own letter: the deadline of the issuer's own recipients. Each level
    below gets `lead_days` working days less than the level above it (docs/domain.md, §4).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    due: dt.date | Literal["on_request"] | None = None
    within_days: int | None = Field(None, ge=1, le=365)
    owed_from: tuple[Text, ...] | None = Field(
        None,
        alias="from",
        description="Roles whose units owe a report, at every level they are reached (default: the units each "
        "letter's issuer directs, link 'direct'; units only asked to cooperate are not chased)",
    )
    lead_days: int = Field(2, ge=0, le=30, description="Working days each level keeps for consolidating")
    days_off: tuple[dt.date, ...] = Field((), description="Days off the issuer declares, besides weekends and holidays")
    remind_before: int = Field(2, ge=0, le=30, description="Remind units this many working days before their deadline")
    escalate_after: int = Field(3, ge=1, le=60, description="Working days overdue before the head above is told")

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar(self.days_off)

    def due_for(self, depth: int, root_issued: dt.date | None = None) -> dt.date | None:
        """When the recipients of a letter written at `depth` (0: the issuer's) must report.

        By date: `due` itself for the issuer's recipients (moved back off a non-working day), less lead_days
        working days per level below. Within N working days: N after the issuer's letter is issued (None until
        it is), less the same lead per level. On request: None.
        """
        calendar = self.calendar()
        if isinstance(self.due, dt.date):
            return calendar.minus(self.due, self.lead_days * depth)
        if self.within_days is not None and root_issued is not None:
            return calendar.minus(calendar.plus(root_issued, self.within_days), self.lead_days * depth)
        return None

    def issuer_due(self) -> dt.date | None:
        """The issuer's own deadline for its consolidated report: lead_days working days after its recipients'
        (by date only; None otherwise)."""
        first = self.due_for(0)
        return self.calendar().plus(first, self.lead_days) if first is not None else None

    def asked(self, due: dt.date) -> Report:
        """The rule once the issuer has asked for the reports of an 'on request' directive, by `due` (the date
        its own recipients are given, as a dated directive's `due`)."""
        return self.model_copy(update={"due": due})

    def owed_by(self, hierarchy: Hierarchy, code: str) -> bool:
        """Whether unit `code` owes a report on the letter it receives from its parent: it plays a role of
        `from`, or (no `from`) its parent directs it."""
        unit = hierarchy.unit(code)
        if self.owed_from is not None:
            return bool(set(unit.roles) & set(self.owed_from))
        return unit.parent is not None and hierarchy.link(unit.parent, code) == Link.direct

    @model_validator(mode="after")
    def _one_rule(self) -> Report:
        if (self.due is None) == (self.within_days is None):
            raise ValueError("give exactly one of 'due' (a date or on_request) and 'within_days'")
        return self


class Directive(_Strict):
    issuer: Text = Field(description="Code of the issuing unit in the hierarchy")
    type: Text = Field("Công văn", description="Document type of the issuer's letter")
    drafting_unit: Text | None = None
    subject: Text = Field(description="Trích yếu, without 'V/v'")
    date: dt.date | None = Field(None, description="Date of the draft (month and year print; the day stays blank)")
    basis: Basis
    sections: tuple[Section, ...] = Field(min_length=1)
    closing: Text
    note: Text | None = None
    report: Report = Report(due="on_request")
    urgency: Literal["Khẩn", "Thượng khẩn", "Hỏa tốc"] | None = None
    copies: tuple[Text, ...] = ()
    signer: Signer

    def section(self, section_id: str) -> Section:
        return next(s for s in self.sections if s.id == section_id)

    def asked(self, due: dt.date) -> Directive:
        """This directive as it stands once its issuer has asked for the reports by `due` (see Report.asked)."""
        return self.model_copy(update={"report": self.report.asked(due)})

    def canonical_json(self) -> str:
        data = self.model_dump(mode="json", exclude_defaults=True, by_alias=True)
        return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


def load_directive(path: str | Path, hierarchy: Hierarchy | None = None, today: dt.date | None = None) -> Directive:
    """Read and validate a directive; with a hierarchy, also check its issuer, roles and deadlines.

    `today` is the day the cascade starts (default: the directive's date); a report deadline that
    leaves some level no working day after it is refused.
    """
    return _check(read_source(path, DIRECTIVE), hierarchy, today)


def directive_from(src: Source, hierarchy: Hierarchy | None = None, today: dt.date | None = None) -> Directive:
    """A directive from a source already read (see load_directive)."""
    return _check(src, hierarchy, today)


def parse_directive(
    text: str, hierarchy: Hierarchy | None = None, name: str = "<directive>", today: dt.date | None = None
) -> Directive:
    return _check(parse_source(text, name, DIRECTIVE), hierarchy, today)


def _check(src: Source, hierarchy: Hierarchy | None, today: dt.date | None = None) -> Directive:
    if not isinstance(src.data, dict):
        raise InputError([src.problem((), "expected a mapping (issuer, subject, basis, sections, …)")])
    directive = validate(Directive, src)
    problems: list[Problem] = []
    if canonical_type(directive.type) is None:
        problems.append(src.problem(("type",), f"unknown document type {directive.type!r}"))
    ids: dict[str, int] = {}
    for i, section in enumerate(directive.sections):
        if section.id in ids:
            problems.append(src.problem(("sections", i, "id"), f"duplicate section id {section.id!r}"))
        ids.setdefault(section.id, i)
    for i, section in enumerate(directive.sections):
        problems += _placeholders(src, ("sections", i, "title"), section.title)
        for j, item in enumerate(section.items):
            loc = ("sections", i, "items", j)
            problems += _placeholders(
                src, (*loc, "text") if isinstance(src.data["sections"][i]["items"][j], dict) else loc, item.text
            )
            if item.relay and item.relay.content not in ids:
                problems.append(src.problem((*loc, "relay", "content"), f"no section has id {item.relay.content!r}"))
            elif item.relay and item.relay.content == section.id:
                problems.append(src.problem((*loc, "relay", "content"), "a section cannot relay itself"))
    if hierarchy is not None:
        problems += _against(src, directive, hierarchy)
        if not problems:
            problems += _deadlines(src, directive, hierarchy, today or directive.date or dt.date.today())
    if problems:
        raise InputError(problems)
    canonical = canonical_type(directive.type)
    return directive.model_copy(update={"type": canonical}) if canonical != directive.type else directive


def _placeholders(src: Source, loc: tuple[str | int, ...], text: str) -> list[Problem]:
    bad = [m for m in _PLACEHOLDER.findall(text) if m not in PLACEHOLDERS]
    allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    return [src.problem(loc, f"unknown placeholder {{{m}}} (allowed: {allowed})") for m in bad]


def _against(src: Source, directive: Directive, hierarchy: Hierarchy) -> list[Problem]:
    """Checks that need the hierarchy: the issuer exists and has units under it; roles are known."""
    problems = []
    if directive.issuer not in hierarchy:
        problems.append(src.problem(("issuer",), f"unknown unit {directive.issuer!r} in the hierarchy"))
    elif not hierarchy.has_children(directive.issuer):
        problems.append(src.problem(("issuer",), f"unit {directive.issuer!r} has no units under it"))
    elif not hierarchy.unit(directive.issuer).abbreviation:
        problems.append(src.problem(("issuer",), f"unit {directive.issuer!r} has no abbreviation"))
    known = ", ".join(hierarchy.roles)
    for i, section in enumerate(directive.sections):
        for k, role in enumerate(section.to):
            if role not in hierarchy.roles:
                problems.append(
                    src.problem(("sections", i, "to", k), f"unknown role {role!r} (the hierarchy has: {known})")
                )
        for j, item in enumerate(section.items):
            for k, role in enumerate(item.relay.to if item.relay else ()):
                if role not in hierarchy.roles:
                    loc = ("sections", i, "items", j, "relay", "to", k)
                    problems.append(src.problem(loc, f"unknown role {role!r} (the hierarchy has: {known})"))
    for k, role in enumerate(directive.report.owed_from or ()):
        if role not in hierarchy.roles:
            problems.append(src.problem(("report", "from", k), f"unknown role {role!r} (the hierarchy has: {known})"))
    return problems


def _deadlines(src: Source, directive: Directive, hierarchy: Hierarchy, today: dt.date) -> list[Problem]:
    """A dated report requirement must leave every level of the cascade a deadline from today on: `due` is the
    deadline of the issuer's recipients, each level below gets lead_days working days less."""
    due = directive.report.due
    if not isinstance(due, dt.date):
        return []
    if due < today:
        return [
            src.problem(("report", "due"), f"the report deadline {due:%d/%m/%Y} has already passed ({today:%d/%m/%Y})")
        ]
    writers = sum(
        1 for level in hierarchy.levels(directive.issuer) if any(hierarchy.has_children(u.code) for u in level)
    )
    lowest = directive.report.due_for(max(writers - 1, 0))
    if lowest is not None and lowest < today:
        return [
            src.problem(
                ("report", "due"),
                f"deadline {due:%d/%m/%Y} less {directive.report.lead_days} working days per level below leaves the "
                f"lowest level a deadline of {lowest:%d/%m/%Y}, before {today:%d/%m/%Y}: set a later date or fewer "
                "lead days",
            )
        ]
    return []


def fill(text: str, values: dict[str, str]) -> str:
    """Replace {scope}/{area} by plain substitution: directive text is data, never template code."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
