"""Derivation: the root letter from the directive, and each unit's letter from the one above.

The rules are docs/domain.md's: recipients are the issuing unit's own children; the opening cites the
letter from directly above; sections follow roles down, narrowed to the unit's area; relays become
sections for the units named; reports are asked back to the issuing unit, from the recipients that owe one
(`report.from`), by the deadline they are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hierarchy.graph import Hierarchy
from hierarchy.model import Link, Signer, Unit
from letters.content import Letter, LetterSection, Recipient
from letters.dates import long_date, short_date
from letters.directive import Directive, Section, fill
from letters.doctypes import CONG_VAN, notation, reference


@dataclass(frozen=True)
class Citation:
    """How a letter is cited by the letters derived from it."""

    doc_type: str
    notation: str
    number: int | None
    issued_on: date | None
    draft_date: date
    issuer: str

    @classmethod
    def of(cls, letter: Letter) -> Citation:
        return cls(
            letter.doc_type, letter.notation, letter.number, letter.issued_on, letter.draft_date, letter.issuer_name
        )

    def text(self) -> str:
        """'Công văn số 590/STTTT-TTBCXB ngày 20/3/2024 của Sở Thông tin và Truyền thông'."""
        when = self.issued_on or self.draft_date
        day = short_date(when, blank_day=self.issued_on is None)
        return f"{self.doc_type} số {reference(self.number, self.notation)} ngày {day} của {self.issuer}"


def root_letter(directive: Directive, hierarchy: Hierarchy, draft_date: date) -> Letter:
    """The issuing department's letter, addressed to its children."""
    unit = hierarchy.unit(directive.issuer)
    recipients, sections = _address(directive, hierarchy, unit)
    basis = directive.basis
    verb = _verb(hierarchy, unit, recipients)
    carry = _carry(verb, root=True)
    opening = (
        f"Căn cứ {basis.type} số {basis.number} ngày {short_date(basis.date)} của {basis.issuer} "
        f"về việc {basis.subject}, {unit.name} {verb} các cơ quan, đơn vị {carry} một số nội dung sau:"
    )
    drafting = directive.drafting_unit or unit.drafting_unit
    return Letter(
        unit=unit.code,
        parent_body=unit.parent_body,
        issuer_name=unit.name,
        doc_type=directive.type,
        notation=notation(directive.type, _abbreviation(unit), drafting),
        draft_date=draft_date,
        place=unit.place,
        urgency=directive.urgency,
        subject=directive.subject,
        recipients=recipients,
        opening=opening,
        sections=sections,
        closing=_root_closing(directive, hierarchy, unit, recipients),
        note=directive.note,
        copies=_copies(directive.copies, drafting),
        signer=directive.signer,
    )


def derived_letter(
    directive: Directive, hierarchy: Hierarchy, code: str, above: Citation, draft_date: date
) -> Letter | None:
    """The letter unit `code` sends its own children, or None if nothing applies to them."""
    unit = hierarchy.unit(code)
    recipients, sections = _address(directive, hierarchy, unit)
    if not sections:
        return None
    names = _joined(recipients)
    verb = _verb(hierarchy, unit, recipients)
    opening = (
        f"Thực hiện {above.text()} về việc {directive.subject}. "
        f"{unit.name} {verb} {names} {_carry(verb, relay=True)} các nội dung sau:"
    )
    closing = _closing(directive, hierarchy, unit, recipients, verb, names)
    return Letter(
        unit=unit.code,
        parent_body=unit.parent_body,
        issuer_name=unit.name,
        doc_type=CONG_VAN,
        notation=notation(CONG_VAN, _abbreviation(unit), unit.drafting_unit),
        draft_date=draft_date,
        place=unit.place,
        urgency=directive.urgency,
        subject=directive.subject,
        recipients=recipients,
        opening=opening,
        sections=sections,
        closing=closing,
        note=directive.note,
        copies=_copies(unit.copies, unit.drafting_unit),
        signer=_signer(unit),
    )


def _address(
    directive: Directive, hierarchy: Hierarchy, unit: Unit
) -> tuple[tuple[Recipient, ...], tuple[LetterSection, ...]]:
    """The sections this unit passes to its children, and the children they reach."""
    children = hierarchy.children(unit.code)
    present = {role for child in children for role in child.roles}
    values = {"scope": unit.scope, "area": unit.area}
    delivered: set[tuple[str, str]] = set()  # (section id, role) already carried by a direct section
    for section in directive.sections:
        if set(section.to) & present and not set(section.to) & set(unit.roles):
            delivered |= {(section.id, role) for role in section.to}

    planned: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []  # (title, roles, items)
    for section in directive.sections:
        addressed_to_me = bool(set(section.to) & set(unit.roles))
        targets = tuple(role for role in section.to if role in present)
        if targets and not addressed_to_me:
            items = tuple(fill(item.text, values) for item in section.items)
            planned.append((fill(section.title, values), targets, items))
            continue
        # The section is this unit's own (it relays) or reaches none of its children: its relays
        # turn into sections for the children they name.
        for item in section.items:
            relay = item.relay
            if relay is None:
                continue
            roles = tuple(r for r in relay.to if r in present and (relay.content, r) not in delivered)
            if roles:
                content = directive.section(relay.content)
                items = _content_items(content, values)
                planned.append(("", roles, items))

    reached = {role for _, roles, _ in planned for role in roles}
    recipients = _recipients(hierarchy, unit, [c for c in children if set(c.roles) & reached])
    sections = []
    for title, roles, items in planned:
        if not title:  # a relay: titled by the recipients it addresses
            title = "; ".join(r.label for r in recipients if _covers(hierarchy, r, roles))
        sections.append(LetterSection(title=title, items=items))
    return recipients, tuple(sections)


def _content_items(section: Section, values: dict[str, str]) -> tuple[str, ...]:
    return tuple(fill(item.text, values) for item in section.items if item.relay is None)


def _covers(hierarchy: Hierarchy, recipient: Recipient, roles: tuple[str, ...]) -> bool:
    return any(set(hierarchy.unit(code).roles) & set(roles) for code in recipient.units)


def _recipients(hierarchy: Hierarchy, issuer: Unit, children: list[Unit]) -> tuple[Recipient, ...]:
    """Group children into 'Kính gửi' lines: one unit by its name, several by their group label."""
    order = list(hierarchy.roles)
    groups: dict[str, list[Unit]] = {}
    rank: dict[str, int] = {}
    for child in children:
        role = child.roles[0]
        label = issuer.groups.get(role) or hierarchy.roles[role].group
        groups.setdefault(label, []).append(child)
        rank.setdefault(label, min(order.index(r) for r in child.roles))
    lines = []
    for label in sorted(groups, key=lambda lbl: rank[lbl]):
        members = groups[label]
        shown = members[0].recipient_name if len(members) == 1 else label
        lines.append(Recipient(label=shown, units=tuple(m.code for m in members)))
    return tuple(lines)


def _joined(recipients: tuple[Recipient, ...]) -> str:
    """Recipients named inside a sentence: 'các doanh nghiệp …; Trung tâm …; UBND các xã, thị trấn'."""
    return "; ".join(_in_sentence(r.label) for r in recipients)


def _in_sentence(label: str) -> str:
    return "các" + label[3:] if label.startswith("Các ") else label


def _verb(hierarchy: Hierarchy, unit: Unit, recipients: tuple[Recipient, ...]) -> str:
    """A unit directs ("yêu cầu") only units it commands; any cooperation edge makes it a request."""
    links = {hierarchy.link(unit.code, code) for r in recipients for code in r.units}
    return "yêu cầu" if links == {Link.direct} else "đề nghị"


def _carry(verb: str, *, relay: bool = False, root: bool = False) -> str:
    if root:
        return "triển khai" if verb == "yêu cầu" else "phối hợp triển khai"
    if verb == "yêu cầu":
        return "chỉ đạo thực hiện" if relay else "triển khai thực hiện"
    return "phối hợp chỉ đạo thực hiện" if relay else "phối hợp triển khai thực hiện"


def _owing(directive: Directive, hierarchy: Hierarchy, unit: Unit, recipients: tuple[Recipient, ...]) -> list[Unit]:
    """The recipients of the unit's letter that owe it a report (report.from, else the units it directs)."""
    return [hierarchy.unit(code) for r in recipients for code in r.units if directive.report.owed_by(hierarchy, code)]


def _closing(
    directive: Directive,
    hierarchy: Hierarchy,
    unit: Unit,
    recipients: tuple[Recipient, ...],
    verb: str,
    names: str,
) -> str:
    """'… triển khai thực hiện nội dung nêu trên và báo cáo kết quả về Phòng trước ngày …./.': every recipient
    reports; where only some owe a report, they are named in a sentence of their own; where none does, the
    letter asks for none."""
    carry = f"{unit.name} {verb} {names} {_carry(verb)} nội dung nêu trên"
    owing = _owing(directive, hierarchy, unit, recipients)
    if not owing:
        return f"{carry}./."
    when = _report_phrase(directive, hierarchy, unit.code)
    if len(owing) == sum(len(r.units) for r in recipients):
        return f"{carry} và báo cáo kết quả về {unit.self_name} {when}./."
    asked = _recipients(hierarchy, unit, owing)
    ask = _verb(hierarchy, unit, asked).capitalize()
    return f"{carry}. {ask} {_joined(asked)} báo cáo kết quả về {unit.self_name} {when}./."


def _root_closing(directive: Directive, hierarchy: Hierarchy, unit: Unit, recipients: tuple[Recipient, ...]) -> str:
    """The directive's closing, then, when the directive sets a deadline, the one the issuer's recipients are
    given: '… giải quyết. Đề nghị các doanh nghiệp …; Phòng Văn hóa và Thông tin các huyện, thành phố báo cáo kết
    quả thực hiện về Sở trước ngày 16 tháng 02 năm 2024./.' On request, the closing as its author wrote it."""
    owing = _owing(directive, hierarchy, unit, recipients)
    if directive.report.due == "on_request" or not owing:
        return directive.closing
    asked = _recipients(hierarchy, unit, owing)
    when = _report_phrase(directive, hierarchy, unit.code)
    sentence = (
        f"{_verb(hierarchy, unit, asked).capitalize()} {_joined(asked)} báo cáo kết quả thực hiện về "
        f"{unit.self_name} {when}"
    )
    body, end = (directive.closing[:-3], "./.") if directive.closing.endswith("./.") else (directive.closing, ".")
    body = body.rstrip()
    return f"{body if body.endswith(('.', '!', '?')) else body + '.'} {sentence}{end}"


def _report_phrase(directive: Directive, hierarchy: Hierarchy, code: str) -> str:
    """When the recipients of unit `code`'s letter report: 'trước ngày 16 tháng 02 năm 2024' (its level's
    deadline, in the decree's date words), within N working days, or on request."""
    report = directive.report
    if report.due == "on_request":
        return "khi có yêu cầu"
    if report.within_days is not None:
        return f"trong thời hạn {report.within_days} ngày làm việc kể từ ngày nhận được văn bản"
    due = report.due_for(_depth_below(hierarchy, directive.issuer, code))
    assert due is not None
    return f"trước {long_date(due)}"


def _depth_below(hierarchy: Hierarchy, top: str, code: str) -> int:
    depth = 0
    while code != top:
        parent = hierarchy.unit(code).parent
        assert parent is not None
        code, depth = parent, depth + 1
    return depth


def _copies(extra: tuple[str, ...], drafting_unit: str | None) -> tuple[str, ...]:
    keep = f"Lưu: VT, {drafting_unit}." if drafting_unit else "Lưu: VT."
    return ("Như trên;", *(f"{line};" for line in extra), keep)


def _abbreviation(unit: Unit) -> str:
    assert unit.abbreviation, f"unit {unit.code} has no abbreviation (checked when the hierarchy loads)"
    return unit.abbreviation


def _signer(unit: Unit) -> Signer:
    assert unit.signer, f"unit {unit.code} has no signer (checked when the hierarchy loads)"
    return unit.signer
