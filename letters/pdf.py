"""The letter as a PDF in the layout of Decree 30/2020, Appendix I, drawn directly with ReportLab.

A4, margins 20/20/30/15 mm, Liberation Serif 2 embedded (letters/fonts.py), 13 pt; the page number at the
top centre from page 2; the closing paragraph, "Nơi nhận" and the signature block kept on one page (one
flowable that is never split); title, author and number in the document's metadata.

A draft prints blanks where the number and the day go. A letter to be issued (it has its number) is the
form the signatures go on: the number and the day are empty text fields (`so`, `ngay`) that the issuing
body's văn thư fills when issuing, and two empty signature fields wait: `chu_ky`, the approver's, centred
between the position and the name, and `con_dau`, the body's seal at its real size over the left third
of it. The same letter always gives the same bytes, so an issued PDF's first revision can be checked
against the recorded letter.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from letters import pdf_parts as parts
from letters.content import Letter
from letters.pdf_parts import BOTTOM, LEFT, PAGE_H, SEAL_MM, TEXT_W, TOP, FieldBox, mm

NUMBER, DAY, SIGNATURE, SEAL = parts.NUMBER, parts.DAY, parts.SIGNATURE, parts.SEAL
_LOCK = threading.Lock()  # ReportLab's font registry and settings are global to the process
_VN = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    fields: dict[str, FieldBox]  # empty for a draft
    pages: int


def render_pdf(letter: Letter, *, seal_mm: float = SEAL_MM) -> RenderedPdf:
    """The letter as printed: a draft with blanks, or, once numbered, the form its signatures go on (the seal's
    field is seal_mm across, the issuing body's seal at its real size)."""
    with _LOCK:
        parts.register_fonts()
        return _render(letter, seal_mm)


def issuing_body(letter: Letter) -> str:
    """The body with the one above it, so that eleven district offices are told apart: "Phòng Văn hóa và
    Thông tin - UBND huyện Cao Lộc"."""
    return f"{letter.issuer_name} - {letter.parent_body}" if letter.parent_body else letter.issuer_name


def _moment(day: date) -> Any:
    """ReportLab's time stamp for the document's dates: the letter's own day (invariant mode fixes the rest),
    so the bytes depend on the letter alone."""
    from reportlab.lib.utils import TimeStamp

    stamp = TimeStamp(True)
    when = datetime.combine(day, time(0), tzinfo=_VN)
    stamp.t = when.timestamp()
    stamp.lt = when.timetuple()
    stamp.YMDhms = tuple(stamp.lt)[:6]
    stamp.dhh, stamp.dmm, stamp.tzname = 7, 0, "+07"
    return stamp


def _render(letter: Letter, seal_mm: float) -> RenderedPdf:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import BaseDocTemplate, Frame, KeepTogether, PageTemplate

    out = io.BytesIO()
    fields = parts.Fields()
    stamp = _moment(letter.issued_on or letter.draft_date)

    def canvas(*args: Any, **kwargs: Any) -> Canvas:
        made = Canvas(*args, **kwargs)
        made._doc._timeStamp = stamp
        return made

    kind = "Dự thảo " if letter.is_draft else ""
    doc = BaseDocTemplate(
        out,
        pagesize=A4,
        leftMargin=mm(LEFT),
        rightMargin=mm(parts.RIGHT),
        topMargin=mm(TOP),
        bottomMargin=mm(BOTTOM),
        title=f"V/v {letter.subject}" if letter.doc_type == "Công văn" else f"{letter.doc_type} {letter.subject}",
        author=issuing_body(letter),
        subject=f"{kind}{letter.doc_type} số {letter.reference}",
        keywords=[letter.reference, letter.doc_type],
        creator="chidao",
        producer="chidao (ReportLab)",
        lang="vi",
        invariant=1,
        initialFontName=parts.REGULAR,
        initialFontSize=parts.BODY_PT,
        initialLeading=parts.LEADING,
    )
    frame = Frame(mm(LEFT), mm(BOTTOM), mm(TEXT_W), mm(PAGE_H - TOP - BOTTOM), 0, 0, 0, 0, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=parts.page_number)])
    story: list[Any] = [parts.Header(letter, fields), *parts.title_lines(letter), parts.recipients(letter)]
    story.append(parts.paragraph(letter.opening))
    for n, section in enumerate(letter.sections, 1):
        story.append(parts.paragraph(f"{n}. {section.title}", bold=True))
        story += [parts.paragraph(f"- {item}") for item in section.items]
    tail = [parts.paragraph(letter.closing)]
    if letter.note:
        tail.append(parts.paragraph(f"({letter.note})", italic=True))
    story.append(KeepTogether([*tail, parts.SignatureBlock(letter, fields, seal_mm)]))
    doc.build(story, canvasmaker=canvas)
    return RenderedPdf(out.getvalue(), dict(fields.boxes), doc.page)
