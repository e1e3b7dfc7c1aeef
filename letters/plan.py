"""A cascade's letters level by level, computed without touching storage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from hierarchy.graph import Hierarchy
from letters.content import Letter
from letters.derive import Citation, derived_letter, root_letter
from letters.directive import Directive


class NothingToSend(ValueError):
    """No section of the directive reaches any unit under the issuer."""


@dataclass(frozen=True)
class Draft:
    """A letter to store, with the unit whose letter it derives from."""

    letter: Letter
    above: str | None
    depth: int


@dataclass
class Plan:
    """Every letter of a cascade, one list per level, and the units that send nothing down."""

    levels: list[list[Draft]] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)  # reached, have units under them, nothing applies
    unreached: list[str] = field(default_factory=list)  # have units under them, no section reaches them

    @property
    def count(self) -> int:
        return sum(len(level) for level in self.levels)


def first_letter(directive: Directive, hierarchy: Hierarchy, draft_date: date) -> Draft:
    letter = root_letter(directive, hierarchy, draft_date)
    if not letter.sections:
        raise NothingToSend(
            f"no section of the directive addresses a unit under {directive.issuer} "
            f"(roles there: {', '.join(sorted({r for u in hierarchy.children(directive.issuer) for r in u.roles}))})"
        )
    return Draft(letter, None, 0)


@dataclass
class Step:
    """One level down from some letters: the next drafts, and the units that send nothing."""

    drafts: list[Draft] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)


def next_letters(
    directive: Directive, hierarchy: Hierarchy, above: Iterable[Letter], draft_date: date, depth: int
) -> Step:
    """The letters of the recipients (with units under them) of the given letters."""
    step = Step()
    for parent in above:
        cite = Citation.of(parent)
        addressed = set(parent.recipient_units)
        step.unreached += [
            child.code
            for child in hierarchy.children(parent.unit)
            if child.code not in addressed and hierarchy.has_children(child.code)
        ]
        for code in parent.recipient_units:
            if not hierarchy.has_children(code):
                continue
            letter = derived_letter(directive, hierarchy, code, cite, draft_date)
            if letter is None:
                step.silent.append(code)
                step.unreached += [c.code for c in hierarchy.children(code) if hierarchy.has_children(c.code)]
            else:
                step.drafts.append(Draft(letter, parent.unit, depth))
    return step


def plan_cascade(directive: Directive, hierarchy: Hierarchy, draft_date: date) -> Plan:
    """All drafts, the number and day of every letter above still blank."""
    plan = Plan(levels=[[first_letter(directive, hierarchy, draft_date)]])
    while True:
        step = next_letters(directive, hierarchy, (d.letter for d in plan.levels[-1]), draft_date, len(plan.levels))
        plan.silent += step.silent
        plan.unreached += step.unreached
        if not step.drafts:
            return plan
        plan.levels.append(step.drafts)
