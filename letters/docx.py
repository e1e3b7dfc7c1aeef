"""The final letter as a Word file in the layout of Decree 30/2020, Appendix I: offices sign and file DOCX."""

from __future__ import annotations

import io

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt
from docx.table import _Cell
from docx.text.paragraph import Paragraph

from inputs.vietnamese import upper
from letters.content import Letter

FONT = "Times New Roman"
LEFT, RIGHT = 68, 102  # mm: the issuing body's block and the national motto's, across the 165 mm text width


def _font(document: DocxDocument) -> None:
    style = document.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(13)
    fonts = style.element.rPr.rFonts
    for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):  # Vietnamese letters use more than one slot
        fonts.set(qn(attr), FONT)
    style.paragraph_format.space_after = Pt(0)
    style.paragraph_format.space_before = Pt(0)


def _line(
    container: _Cell | DocxDocument,
    text: str,
    *,
    bold: bool = False,
    italic: bool = False,
    underline: bool = False,
    size: float | None = None,
    align: WD_ALIGN_PARAGRAPH = WD_ALIGN_PARAGRAPH.CENTER,
    first: bool = False,
) -> Paragraph:
    paragraph: Paragraph = container.paragraphs[0] if first else container.add_paragraph()
    paragraph.alignment = align
    run = paragraph.add_run(text)
    run.bold, run.italic, run.underline = bold, italic, underline
    if size:
        run.font.size = Pt(size)
    return paragraph


def _rule(cell: _Cell, cell_mm: float, width_mm: float) -> None:
    """A short horizontal rule under a header line: an empty, tiny paragraph with a bottom border."""
    paragraph = cell.add_paragraph()
    paragraph.paragraph_format.left_indent = Mm((cell_mm - width_mm) / 2)
    paragraph.paragraph_format.right_indent = Mm((cell_mm - width_mm) / 2)
    paragraph.paragraph_format.line_spacing = Pt(2)
    paragraph.add_run().font.size = Pt(2)
    pPr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "000000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    pPr.append(borders)


def _widths(table: object, millimetres: tuple[float, float]) -> None:
    """Fixed column widths: Word and LibreOffice otherwise squeeze the header blocks."""
    table.autofit = False  # type: ignore[attr-defined]
    for column, width in zip(table.columns, millimetres, strict=True):  # type: ignore[attr-defined]
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)


def _no_borders(table: object) -> None:
    tbl = table._tbl  # type: ignore[attr-defined]
    props = tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        element = OxmlElement(f"w:{edge}")
        element.set(qn("w:val"), "nil")
        borders.append(element)
    props.append(borders)


def _page_numbers(document: DocxDocument) -> None:
    """The page number at the top centre from page 2 on (Decree 30): page 1's header is left empty."""
    section = document.sections[0]
    section.different_first_page_header_footer = True
    paragraph = section.header.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for kind, text in (("begin", None), (None, "PAGE"), ("separate", None), (None, "2"), ("end", None)):
        run = paragraph.add_run()
        run.font.size = Pt(13)
        if kind is not None:
            field = OxmlElement("w:fldChar")
            field.set(qn("w:fldCharType"), kind)
            run._r.append(field)
        elif text == "PAGE":
            code = OxmlElement("w:instrText")
            code.set(qn("xml:space"), "preserve")
            code.text = "PAGE"
            run._r.append(code)
        else:
            run.text = text or ""


def _keep_together(table: object) -> None:
    """The signature block and 'Nơi nhận' on one page: the row may not break across pages."""
    for row in table.rows:  # type: ignore[attr-defined]
        props = row._tr.get_or_add_trPr()
        cant_split = OxmlElement("w:cantSplit")
        props.append(cant_split)


def render_docx(letter: Letter) -> bytes:
    """A4 portrait, margins 20/20/30/15 mm, Times New Roman 13 pt; the two header blocks, body, signature."""
    document = Document()
    _font(document)
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    _page_numbers(document)

    head = document.add_table(rows=1, cols=2)
    head.alignment = WD_TABLE_ALIGNMENT.CENTER
    _no_borders(head)
    _widths(head, (LEFT, RIGHT))
    left, right = head.rows[0].cells
    first = True
    if letter.parent_body:
        _line(left, upper(letter.parent_body), size=12, first=True)
        first = False
    _line(left, upper(letter.issuer_name), bold=True, size=12, first=first)
    _rule(left, LEFT, 22)
    _line(left, f"Số: {letter.reference}", size=13)
    if letter.doc_type == "Công văn":
        _line(left, f"V/v {letter.subject}", size=12)
    if letter.urgency:
        _line(left, upper(letter.urgency), bold=True, size=14)
    _line(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=12, first=True)
    _line(right, "Độc lập - Tự do - Hạnh phúc", bold=True, size=13)
    _rule(right, RIGHT, 58)
    _line(right, letter.dateline, italic=True, size=13)

    if letter.doc_type != "Công văn":
        _line(document, upper(letter.doc_type), bold=True).paragraph_format.space_before = Pt(12)
        _line(document, letter.subject, bold=True)

    recipients = letter.recipients
    if len(recipients) == 1:
        kinh_gui = _line(document, f"Kính gửi: {recipients[0].label}.", align=WD_ALIGN_PARAGRAPH.LEFT)
        kinh_gui.paragraph_format.space_before = Pt(12)
        kinh_gui.paragraph_format.left_indent = Mm(20)
    else:
        label = _line(document, "Kính gửi:", align=WD_ALIGN_PARAGRAPH.LEFT)
        label.paragraph_format.space_before = Pt(12)
        label.paragraph_format.left_indent = Mm(20)
        for i, r in enumerate(recipients):
            end = "." if i == len(recipients) - 1 else ";"
            line = _line(document, f"- {r.label}{end}", align=WD_ALIGN_PARAGRAPH.LEFT)
            line.paragraph_format.left_indent = Mm(40)

    def body(text: str, *, bold: bool = False, italic: bool = False) -> None:
        paragraph = _line(document, text, bold=bold, italic=italic, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
        paragraph.paragraph_format.first_line_indent = Mm(10)
        paragraph.paragraph_format.space_before = Pt(6)
        paragraph.paragraph_format.line_spacing = 1.15

    body(letter.opening)
    for n, section_ in enumerate(letter.sections, 1):
        body(f"{n}. {section_.title}", bold=True)
        for item in section_.items:
            body(f"- {item}")
    body(letter.closing)
    if letter.note:
        body(f"({letter.note})", italic=True)

    document.add_paragraph().paragraph_format.space_after = Pt(6)
    foot = document.add_table(rows=1, cols=2)
    _no_borders(foot)
    _widths(foot, (85, 80))
    copies, sign = foot.rows[0].cells
    _line(copies, "Nơi nhận:", bold=True, italic=True, size=12, align=WD_ALIGN_PARAGRAPH.LEFT, first=True)
    for copy in letter.copies:
        _line(copies, f"- {copy}", size=11, align=WD_ALIGN_PARAGRAPH.LEFT)
    for n, title in enumerate(letter.signer.titles):
        _line(sign, title, bold=True, first=n == 0)
    _line(sign, letter.signer.name, bold=True).paragraph_format.space_before = Pt(60)
    foot.rows[0].cells[0].paragraphs[0].paragraph_format.space_before = Pt(12)
    _keep_together(foot)

    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
