"""Load and check a hierarchy file: every problem names the file, the line, the unit and the field."""

from __future__ import annotations

import re
from pathlib import Path

import networkx as nx

from hierarchy.graph import Hierarchy
from hierarchy.model import HierarchyFile, Level
from inputs.limits import HIERARCHY, MAX_UNITS
from inputs.sources import InputError, Problem, Source, parse_source, read_source, validate

# Fields a unit needs once it writes letters (has units under it).
_ISSUER_FIELDS = ("abbreviation", "signer", "approvers")


def load_hierarchy(path: str | Path, *, smtputf8: bool = False) -> Hierarchy:
    """Read, validate and build the hierarchy in path; raise InputError listing every problem. smtputf8: the
    mail server takes internationalised addresses (else an address must be ASCII to be accepted)."""
    return _check(read_source(path, HIERARCHY), smtputf8)


def parse_hierarchy(text: str, name: str = "<hierarchy>", *, smtputf8: bool = False) -> Hierarchy:
    """Same as load_hierarchy, from text (a stored snapshot, a test)."""
    return _check(parse_source(text, name, HIERARCHY), smtputf8)


# Plainly valid: an ASCII dot-atom local part, a domain of letter-digit-hyphen labels. Anything else is
# judged by email-validator (quoted parts, IDN, the many ways to be wrong), which costs 35 µs an address.
_PLAIN = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)


def address_problem(address: str, smtputf8: bool = False) -> str | None:
    """Why an e-mail address cannot be sent to, or None: its syntax (RFC 5322, email-validator), and an
    internationalised one only where the server takes SMTPUTF8."""
    if len(address) <= 254 and _PLAIN.fullmatch(address) and len(address.split("@")[0]) <= 64:
        return None
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=True, globally_deliverable=False)
    except EmailNotValidError as exc:
        return f"not an e-mail address that can be sent to: {address!r} ({exc})"
    if not smtputf8 and not address.isascii():
        ascii_form = f": write it {checked.ascii_email!r}" if checked.ascii_email else ""
        return (
            f"{address!r} is internationalised, and the mail server is not declared to take it "
            f"(CHIDAO_SMTPUTF8){ascii_form}"
        )
    return None


def _check(src: Source, smtputf8: bool = False) -> Hierarchy:
    if not isinstance(src.data, dict):
        raise InputError([src.problem((), "expected a mapping with 'hierarchy', 'roles' and 'units'")])
    units = src.data.get("units")
    if isinstance(units, list) and len(units) > MAX_UNITS:
        raise InputError([src.problem(("units",), f"{len(units):,} units: at most {MAX_UNITS:,} in one file")])
    parsed = validate(HierarchyFile, src)
    problems: list[Problem] = []

    def unit_problem(index: int, code: str, field: str | None, message: str) -> None:
        loc: tuple[str | int, ...] = ("units", index) + ((field,) if field else ())
        where = f"unit {code}" + (f" field '{field}'" if field else "")
        problems.append(src.problem(loc, message, where))

    index_of: dict[str, int] = {}
    for i, unit in enumerate(parsed.units):
        if unit.code in index_of:
            unit_problem(
                i, unit.code, "code", f"duplicate code (first at line {src.line(('units', index_of[unit.code]))})"
            )
        else:
            index_of[unit.code] = i
    root = parsed.hierarchy.root
    if root not in index_of:
        problems.append(src.problem(("hierarchy", "root"), f"root {root!r} is not a unit of the file"))

    parents: set[str] = set()
    for i, unit in enumerate(parsed.units):
        if unit.parent is None:
            if unit.code != root:
                unit_problem(i, unit.code, None, f"missing field 'parent' (only the root {root!r} has none)")
        elif unit.parent not in index_of:
            unit_problem(i, unit.code, "parent", f"unknown parent {unit.parent!r}")
        elif unit.code == root:
            unit_problem(i, unit.code, "parent", "the root cannot have a parent")
        else:
            parents.add(unit.parent)
        for role in unit.roles:
            if role not in parsed.roles:
                unit_problem(i, unit.code, "roles", f"unknown role {role!r} (declared: {', '.join(parsed.roles)})")
        for role in unit.groups:
            if role not in parsed.roles:
                unit_problem(i, unit.code, "groups", f"unknown role {role!r}")
        if unit.own_email is None:
            if unit.level != Level.village:  # a village may be reached through its commune's address
                problems.append(src.problem(("units", i, "email"), "missing field 'email'"))
        else:
            bad_address = address_problem(unit.own_email, smtputf8)
            if bad_address:
                unit_problem(i, unit.code, "email", bad_address)
        for n, person in enumerate(unit.approvers):
            if person.position is None:
                problems.append(
                    src.problem(
                        ("units", i, "approvers", n),
                        f"missing field 'position' for {person.id} (printed above the name when they sign)",
                        f"unit {unit.code} field 'approvers'",
                    )
                )
    if problems:
        raise InputError(problems)

    hierarchy = Hierarchy.build(parsed, src.normalised)
    try:
        cycle = nx.find_cycle(hierarchy.graph)
    except nx.NetworkXNoCycle:
        cycle = []
    if cycle:
        codes = [edge[0] for edge in cycle] + [cycle[0][0]]
        first = codes[0]
        unit_problem(index_of[first], first, "parent", "cycle: " + " -> ".join(codes))
        raise InputError(problems)
    reachable = nx.descendants(hierarchy.graph, root) | {root}
    for code, i in index_of.items():
        if code not in reachable:
            unit_problem(i, code, None, f"unreachable from the root {root!r}")
    for i, unit in enumerate(parsed.units):  # an issuer without a signer is reported below, as such
        if unit.approvers and unit.head_title is None and unit.code not in parents:
            unit_problem(i, unit.code, "head", "missing field 'head' (the head's title, for 'KT. <head>')")
    for code in sorted(parents, key=index_of.__getitem__):
        unit = parsed.units[index_of[code]]
        for field in _ISSUER_FIELDS:
            if not getattr(unit, field):
                unit_problem(
                    index_of[code],
                    code,
                    field,
                    f"missing field '{field}' (the unit has units under it, so it writes letters)",
                )
    if problems:
        raise InputError(problems)
    return hierarchy
