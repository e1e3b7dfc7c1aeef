"""The pieces letters/pdf.py assembles: the header and the signature block (flowables drawn at exact
positions, so the form fields in them are where the code says), the body's paragraphs, "Kính gửi", the
page number, and the form fields written as plain PDF dictionaries (ReportLab's own form fields know only
the 14 standard fonts and no signature field)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFObjectReference, PDFString
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle

from inputs.vietnamese import upper
from letters.content import Letter
from letters.dates import long_date

PAGE_W, PAGE_H = 210.0, 297.0  # mm
TOP, BOTTOM, LEFT, RIGHT = 20.0, 20.0, 30.0, 15.0  # mm, as templates/letter.html.j2 and letters/docx.py
TEXT_W = PAGE_W - LEFT - RIGHT
HEAD_LEFT, HEAD_RIGHT = 75.0, 90.0  # mm: "SỞ THÔNG TIN VÀ TRUYỀN THÔNG" is 74 mm in bold 12 pt
FOOT_LEFT, FOOT_RIGHT = 85.0, 80.0  # mm: "Nơi nhận", the signer
SIGN_GAP = 28.0  # mm between the position and the name, where the signature goes
SIGNATURE_W, SIGNATURE_H = 50.0, 26.0  # mm: the approver's signature image
SEAL_MM = 36.0  # a department's round seal
SEAL_CAPTION = 5.0  # mm under the seal: the body's name and the signing time
PAGE_NUMBER_TOP = 10.0  # mm from the top edge
BODY_PT = 13.0
LEADING = BODY_PT * 1.3
NUMBER, DAY, SIGNATURE, SEAL = "so", "ngay", "chu_ky", "con_dau"
REGULAR, BOLD, ITALIC, BOLD_ITALIC = (
    "LiberationSerif",
    "LiberationSerif-Bold",
    "LiberationSerif-Italic",
    "LiberationSerif-BoldItalic",
)
_LINE = 6.0  # mm per line in the header and the signature block


def mm(value: float) -> float:
    return value * 72.0 / 25.4


_registered = False


def register_fonts() -> None:
    """Once per process: ReportLab parses each face here and shares it between documents."""
    global _registered
    if _registered:
        return
    from reportlab.pdfbase.ttfonts import TTFont

    from letters.fonts import for_pdf_body

    for name, style in ((REGULAR, "regular"), (BOLD, "bold"), (ITALIC, "italic"), (BOLD_ITALIC, "bold_italic")):
        pdfmetrics.registerFont(TTFont(name, str(for_pdf_body(style))))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=ITALIC, boldItalic=BOLD_ITALIC)
    _registered = True


@dataclass(frozen=True)
class FieldBox:
    """Where a form field is: its page (from 0) and rectangle in PDF points (lower left, upper right)."""

    name: str
    kind: str  # Tx (text) or Sig (signature)
    page: int
    rect: tuple[float, float, float, float]


class Fields:
    """The form fields of one document, as they are drawn."""

    def __init__(self) -> None:
        self.boxes: dict[str, FieldBox] = {}

    def add(self, canv: Any, name: str, kind: str, x: float, y: float, w: float, h: float) -> None:
        """A field at (x, y), the lower left corner in the flowable's own coordinates, w by h points."""
        ax, ay = canv.absolutePosition(x, y)
        form = canv.acroForm
        blank = form.makeStream(w, h, "")
        rect = (round(ax, 2), round(ay, 2), round(ax + w, 2), round(ay + h, 2))
        widget = PDFDictionary(
            {
                "Type": PDFName("Annot"),
                "Subtype": PDFName("Widget"),
                "FT": PDFName(kind),
                "T": PDFString(name),
                "Rect": PDFArray(list(rect)),
                "F": 4,
                "P": canv._doc.thisPageRef(),
                "AP": PDFDictionary({"N": form.getRef(blank)}),
            }
        )
        canv._addAnnotation(widget)
        form.fields.append(form.getRef(widget))
        if not form.extras:  # a viewer that lets someone type shows the body's face
            font = pdfmetrics.getFont(REGULAR).getSubsetInternalName(0, canv._doc)[1:]
            form.extras["DA"] = PDFString(f"/{font} {BODY_PT:g} Tf 0 g")
            form.extras["DR"] = PDFDictionary({"Font": PDFDictionary({font: PDFObjectReference(font)})})
        self.boxes[name] = FieldBox(name, kind, canv.getPageNumber() - 1, rect)


def _baseline(top: float, size: float, line: float = _LINE) -> float:
    """The baseline of a line of text of this size centred in a line box whose top is at top (points)."""
    return top - mm(line) / 2 - size * 0.3


def _day_blank(letter: Letter) -> tuple[str, str]:
    """ "Lạng Sơn, ngày " and " tháng 02 năm 2024": the day between them is filled when the letter is issued."""
    text = long_date(letter.issued_on or letter.draft_date)  # "ngày 05 tháng 02 năm 2024"
    _, _, after = text.split(" ", 2)
    return f"{letter.place}, ngày ", f" {after}"


class Header(Flowable):  # type: ignore[misc]
    """The issuing body's block (left) and the national motto's (right), with the number and the date."""

    def __init__(self, letter: Letter, fields: Fields) -> None:
        super().__init__()
        self.letter, self.fields = letter, fields

    def wrap(self, available_width: float, _available_height: float) -> tuple[float, float]:
        letter, width = self.letter, mm(HEAD_LEFT)
        size, issuer = 13.0, upper(self.letter.issuer_name)
        while pdfmetrics.stringWidth(issuer, BOLD, size) > width and size > 12:
            size -= 0.5
        self.issuer_size = size
        self.issuer_lines = simpleSplit(issuer, BOLD, size, width)
        subject = f"V/v {letter.subject}" if letter.doc_type == "Công văn" else ""
        self.subject_lines = simpleSplit(subject, REGULAR, 12, width) if subject else []
        lines = bool(letter.parent_body) + len(self.issuer_lines)
        left = mm(_LINE * lines + 0.8 + 3.0 + 6.5 + 5.0 * len(self.subject_lines) + (7.0 if letter.urgency else 0))
        right = mm(_LINE * 2 + 0.8 + 5.0 + 6.0 + (5.0 if letter.is_draft else 0))
        self.height = max(left, right)
        self.width = available_width
        return available_width, self.height

    def draw(self) -> None:
        c, letter = self.canv, self.letter
        centre = mm(HEAD_LEFT) / 2
        y = self.height
        if letter.parent_body:
            c.setFont(REGULAR, 13)
            c.drawCentredString(centre, _baseline(y, 13), upper(letter.parent_body))
            y -= mm(_LINE)
        c.setFont(BOLD, self.issuer_size)
        for line in self.issuer_lines:
            c.drawCentredString(centre, _baseline(y, self.issuer_size), line)
            y -= mm(_LINE)
        last = pdfmetrics.stringWidth(self.issuer_lines[-1], BOLD, self.issuer_size)
        rule = min(max(last / 3, mm(20)), mm(30))
        y -= mm(0.8)
        c.setLineWidth(0.6)
        c.line(centre - rule / 2, y, centre + rule / 2, y)
        y -= mm(3.0)
        self._number(centre, y)
        y -= mm(6.5)
        c.setFont(REGULAR, 12)
        for line in self.subject_lines:
            c.drawCentredString(centre, _baseline(y, 12, 5.0), line)
            y -= mm(5.0)
        if letter.urgency:
            c.setFont(BOLD, 14)
            c.drawCentredString(centre, _baseline(y - mm(1), 14), upper(letter.urgency))
        self._motto(mm(HEAD_LEFT) + mm(HEAD_RIGHT) / 2)

    def _number(self, centre: float, top: float) -> None:
        """ "Số: ___/STTTT-TTBCXB": a blank on a draft, the field the văn thư fills on a letter to issue."""
        c, letter = self.canv, self.letter
        before, after, blank = "Số: ", f"/{letter.notation}", mm(12)
        width = pdfmetrics.stringWidth(before, REGULAR, 13) + blank + pdfmetrics.stringWidth(after, REGULAR, 13)
        x = centre - width / 2
        c.setFont(REGULAR, 13)
        c.drawString(x, _baseline(top, 13), before)
        x += pdfmetrics.stringWidth(before, REGULAR, 13)
        if not letter.is_draft:
            self.fields.add(c, NUMBER, "Tx", x, top - mm(_LINE) + mm(0.4), blank, mm(_LINE))
        c.drawString(x + blank, _baseline(top, 13), after)

    def _motto(self, centre: float) -> None:
        c, letter = self.canv, self.letter
        y = self.height
        if letter.is_draft:
            c.setFont(BOLD, 11)
            c.drawRightString(mm(HEAD_LEFT + HEAD_RIGHT), _baseline(y, 11, 5.0), "DỰ THẢO")
            y -= mm(5.0)
        c.setFont(BOLD, 12)
        c.drawCentredString(centre, _baseline(y, 12), "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
        y -= mm(_LINE)
        motto = "Độc lập - Tự do - Hạnh phúc"
        c.setFont(BOLD, 13)
        c.drawCentredString(centre, _baseline(y, 13), motto)
        y -= mm(_LINE) + mm(0.8)
        half = pdfmetrics.stringWidth(motto, BOLD, 13) / 2
        c.line(centre - half, y, centre + half, y)
        y -= mm(5.0)
        before, after = _day_blank(letter)
        blank = mm(8)
        width = pdfmetrics.stringWidth(before, ITALIC, 13) + blank + pdfmetrics.stringWidth(after, ITALIC, 13)
        x = centre - width / 2
        c.setFont(ITALIC, 13)
        c.drawString(x, _baseline(y, 13), before)
        x += pdfmetrics.stringWidth(before, ITALIC, 13)
        if not letter.is_draft:
            self.fields.add(c, DAY, "Tx", x, y - mm(_LINE) + mm(0.4), blank, mm(_LINE))
        c.drawString(x + blank, _baseline(y, 13), after)


class SignatureBlock(Flowable):  # type: ignore[misc]
    """ "Nơi nhận" (left) and the signer (right) side by side: one flowable, so it is never split, and the
    signer's name never leaves the lines above it."""

    def __init__(self, letter: Letter, fields: Fields, seal_mm: float) -> None:
        super().__init__()
        self.letter, self.fields, self.seal_mm = letter, fields, seal_mm
        self.titles = [upper(title) for title in letter.signer.titles]
        right = mm(_LINE * (len(self.titles) + 1) + SIGN_GAP)
        left = mm(_LINE + 4.8 * len(letter.copies))
        self.height = mm(4.0) + max(left, right)

    def wrap(self, available_width: float, _available_height: float) -> tuple[float, float]:
        self.width = available_width
        return available_width, self.height

    def draw(self) -> None:
        c, letter = self.canv, self.letter
        top = self.height - mm(4.0)
        c.setFont(BOLD_ITALIC, 12)
        c.drawString(0, _baseline(top, 12), "Nơi nhận:")
        y = top - mm(_LINE)
        c.setFont(REGULAR, 11)
        for line in letter.copies:
            c.drawString(0, _baseline(y, 11, 4.8), f"- {line}")
            y -= mm(4.8)
        centre = mm(FOOT_LEFT) + mm(FOOT_RIGHT) / 2
        c.setFont(BOLD, BODY_PT)
        y = top
        for title in self.titles:
            c.drawCentredString(centre, _baseline(y, BODY_PT), title)
            y -= mm(_LINE)
        gap_top = y
        c.drawCentredString(centre, _baseline(y - mm(SIGN_GAP), BODY_PT), letter.signer.name)
        if letter.is_draft:
            return
        x, y = centre - mm(SIGNATURE_W) / 2, gap_top - mm(SIGN_GAP) / 2 - mm(SIGNATURE_H) / 2
        self.fields.add(c, SIGNATURE, "Sig", x, y, mm(SIGNATURE_W), mm(SIGNATURE_H))
        # The seal at its real size, centred on the signature's left third, its caption (the body, the time)
        # in a band under it, just above the name: the seal may cover the titles, never the name.
        seal, band = mm(self.seal_mm), mm(SEAL_CAPTION)
        seal_x = x + mm(SIGNATURE_W) / 6 - seal / 2
        seal_y = gap_top - mm(SIGN_GAP) + mm(0.5)
        self.fields.add(c, SEAL, "Sig", seal_x, seal_y, seal, seal + band)


_STYLES: dict[str, ParagraphStyle] = {}


def _style(name: str) -> ParagraphStyle:
    if not _STYLES:
        body = ParagraphStyle(
            "body",
            fontName=REGULAR,
            fontSize=BODY_PT,
            leading=LEADING,
            alignment=TA_JUSTIFY,
            firstLineIndent=mm(10),
            spaceBefore=6,
        )
        _STYLES.update(
            body=body,
            bold=ParagraphStyle("bold", parent=body, fontName=BOLD),
            italic=ParagraphStyle("italic", parent=body, fontName=ITALIC),
            recipient=ParagraphStyle(
                "recipient", fontName=REGULAR, fontSize=BODY_PT, leading=mm(_LINE), alignment=TA_LEFT
            ),
            title=ParagraphStyle("title", fontName=BOLD, fontSize=14, leading=mm(7), alignment=TA_CENTER),
            subject=ParagraphStyle("subject", fontName=BOLD, fontSize=BODY_PT, leading=LEADING, alignment=TA_CENTER),
        )
    return _STYLES[name]


def paragraph(text: str, *, bold: bool = False, italic: bool = False) -> Paragraph:
    return Paragraph(escape(text), _style("bold" if bold else "italic" if italic else "body"))


def title_lines(letter: Letter) -> list[Paragraph]:
    """A type other than công văn prints its name and subject centred under the header: BÁO CÁO / …"""
    if letter.doc_type == "Công văn":
        return []
    head = Paragraph(escape(upper(letter.doc_type)), _style("title"))
    head.spaceBefore = mm(6)
    return [head, Paragraph(escape(letter.subject), _style("subject"))]


def recipients(letter: Letter) -> Table:
    """ "Kính gửi:" beside the first recipient; several, one a line, "- X;" and the last ending in "."."""
    label = "Kính gửi:"
    label_width = mm(15) + pdfmetrics.stringWidth(label, REGULAR, BODY_PT) + mm(2)
    count = len(letter.recipients)
    rows = [
        [
            Paragraph(label if i == 0 else "", _style("recipient")),
            Paragraph(
                escape(f"{'- ' if count > 1 else ''}{r.label}{'.' if i == count - 1 else ';'}"), _style("recipient")
            ),
        ]
        for i, r in enumerate(letter.recipients)
    ]
    table = Table(rows, colWidths=[label_width, mm(TEXT_W) - label_width], hAlign="LEFT")
    table.spaceBefore, table.spaceAfter = mm(6), mm(2)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONT", (0, 0), (-1, -1), REGULAR, BODY_PT),  # else ReportLab sets Helvetica in every cell
                ("LEFTPADDING", (0, 0), (0, -1), mm(15)),
                ("LEFTPADDING", (1, 0), (1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def page_number(canv: Any, _doc: Any) -> None:
    """From page 2 on, the page number at the top centre (Decree 30: Arabic numerals, 13–14 pt)."""
    if canv.getPageNumber() < 2:
        return
    canv.saveState()
    canv.setFont(REGULAR, BODY_PT)
    canv.drawCentredString(
        mm(LEFT + TEXT_W / 2), mm(PAGE_H - PAGE_NUMBER_TOP) - BODY_PT * 0.891, str(canv.getPageNumber())
    )
    canv.restoreState()
