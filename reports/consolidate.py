"""A unit's consolidated report (BÁO CÁO) to the level above, from what its own units reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hierarchy.graph import Hierarchy
from inputs.vietnamese import vn_sort_key
from letters.content import Letter, LetterSection, Recipient
from letters.dates import short_date
from letters.derive import Citation
from letters.directive import Directive
from letters.doctypes import notation
from reports.content import ReportContent

REPORT_TYPE = "Báo cáo"


@dataclass(frozen=True)
class Received:
    """What one unit sent up: its state (received, late, missing), when, and what it said."""

    code: str
    name: str
    state: str
    on: date | None = None
    content: ReportContent | None = None


def number(value: float) -> str:
    """Vietnamese digits: '1.200', '3,5'."""
    whole = f"{value:,.2f}".rstrip("0").rstrip(".")
    return whole.replace(",", " ").replace(".", ",").replace(" ", ".")


def consolidated(
    directive: Directive,
    hierarchy: Hierarchy,
    unit_code: str,
    received_letter: Citation | None,
    own_letter: Citation | None,
    received: list[Received],
    draft_date: date,
) -> Letter:
    """The BÁO CÁO a unit sends the unit above: who reported, on time or late, who did not, and what they said.

    received_letter is the letter the unit acts on (None for the issuer, which acts on the directive's basis).
    """
    unit = hierarchy.unit(unit_code)
    above = hierarchy.parent(unit_code)
    assert above is not None, f"{unit_code} is the root of the hierarchy: it reports to nobody"
    basis = directive.basis
    acted_on = (
        received_letter.text()
        if received_letter
        else f"{basis.type} số {basis.number} ngày {short_date(basis.date)} của {basis.issuer}"
    )
    total = len(received)
    on_time = [r for r in received if r.state == "received"]
    late = [r for r in received if r.state == "late"]
    missing = [r for r in received if r.state not in ("received", "late")]

    def names(rows: list[Received], dated: bool) -> str:
        return ", ".join(f"{r.name} ({short_date(r.on)})" if dated and r.on else r.name for r in rows)

    situation = []
    if own_letter is not None:
        situation.append(f"{unit.name} đã ban hành {own_letter.text()} triển khai đến {total} đơn vị.")
    situation.append(
        f"Đã báo cáo đúng hạn: {len(on_time)}/{total} đơn vị" + (f" ({names(on_time, True)})." if on_time else ".")
    )
    situation.append(f"Báo cáo muộn: {len(late)}/{total} đơn vị" + (f" ({names(late, True)})." if late else "."))
    situation.append(
        f"Chưa báo cáo: {len(missing)}/{total} đơn vị" + (f" ({names(missing, False)})." if missing else ".")
    )

    reported = [r for r in received if r.content is not None]
    results = [f"{r.name}: {r.content.done}" for r in reported if r.content]
    totals: dict[str, float] = {}
    for r in reported:
        assert r.content is not None
        for name, value in r.content.figures.items():
            totals[name] = totals.get(name, 0) + value
    figures = [f"{name}: {number(totals[name])}" for name in sorted(totals, key=vn_sort_key)]
    difficulties = [f"{r.name}: {d}" for r in reported if r.content for d in r.content.difficulties]
    proposals = [f"{r.name}: {p}" for r in reported if r.content for p in r.content.proposals]

    sections = [LetterSection(title="Tình hình triển khai và báo cáo của các đơn vị", items=tuple(situation))]
    sections.append(LetterSection(title="Kết quả thực hiện", items=tuple(results) or ("Chưa có đơn vị nào báo cáo.",)))
    if figures:
        sections.append(LetterSection(title="Số liệu tổng hợp", items=tuple(figures)))
    sections.append(LetterSection(title="Khó khăn, vướng mắc", items=tuple(difficulties) or ("Không có.",)))
    sections.append(LetterSection(title="Đề xuất, kiến nghị", items=tuple(proposals) or ("Không có.",)))
    assert unit.abbreviation and unit.signer, "checked when the hierarchy loads"
    return Letter(
        unit=unit.code,
        parent_body=unit.parent_body,
        issuer_name=unit.name,
        doc_type=REPORT_TYPE,
        notation=notation(REPORT_TYPE, unit.abbreviation, None),
        draft_date=draft_date,
        place=unit.place,
        subject=f"Kết quả thực hiện {acted_on} về việc {directive.subject}",
        recipients=(Recipient(label=above.name, units=(above.code,)),),
        opening=f"Thực hiện {acted_on} về việc {directive.subject}, {unit.name} báo cáo kết quả thực hiện như sau:",
        sections=tuple(sections),
        closing=(
            f"Trên đây là báo cáo kết quả thực hiện của {unit.name}, kính báo cáo {above.name} xem xét, tổng hợp./."
        ),
        copies=("Như trên;", "Lưu: VT."),
        signer=unit.signer,
    )


def summary(letter: Letter, received: list[Received]) -> ReportContent:
    """What the consolidated report says, as the unit's own report to the level above."""
    done = " ".join(letter.sections[0].items)
    figures: dict[str, float] = {}
    for r in received:
        for name, value in r.content.figures.items() if r.content else ():
            figures[name] = figures.get(name, 0) + value
    difficulties = tuple(
        item for s in letter.sections if s.title == "Khó khăn, vướng mắc" for item in s.items if item != "Không có."
    )
    proposals = tuple(
        item for s in letter.sections if s.title == "Đề xuất, kiến nghị" for item in s.items if item != "Không có."
    )
    return ReportContent(done=done, figures=figures, difficulties=difficulties, proposals=proposals)
