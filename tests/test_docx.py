"""The Word file: the decree's page set-up, and what LibreOffice prints from it."""

import io
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from docx import Document

from hierarchy import load_hierarchy
from letters.content import Letter
from letters.directive import load_directive
from letters.docx import render_docx
from letters.plan import plan_cascade
from tests.conftest import LANGSON


@pytest.fixture(scope="module")
def cao_loc() -> Letter:
    h = load_hierarchy(LANGSON / "hierarchy.yaml")
    plan = plan_cascade(load_directive(LANGSON / "directive-hsg-2023.yaml", h), h, date(2023, 12, 1))
    draft = next(d.letter for d in plan.levels[1] if d.letter.unit == "183.VHTT")
    return draft.model_copy(update={"number": 5, "issued_on": date(2024, 2, 5)})


def test_page_set_up_and_font_follow_the_decree(cao_loc: Letter) -> None:
    document = Document(io.BytesIO(render_docx(cao_loc)))
    section = document.sections[0]
    measured = (
        section.page_width,
        section.page_height,
        section.top_margin,
        section.bottom_margin,
        section.left_margin,
        section.right_margin,
    )
    # Word keeps lengths in twips: compare to a tenth of a millimetre.
    assert [round(length.mm, 1) for length in measured] == [210, 297, 20, 20, 30, 15]
    assert document.styles["Normal"].font.name == "Times New Roman"
    head, foot = document.tables
    left, right = (cell.text for cell in head.rows[0].cells)
    assert left.startswith("UBND HUYỆN CAO LỘC\nPHÒNG VĂN HÓA VÀ THÔNG TIN")
    assert "Số: 05/VHTT" in left and "V/v tăng cường tuyên truyền" in left
    assert right.startswith("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc")
    assert "Cao Lộc, ngày 05 tháng 02 năm 2024" in right
    copies, sign = (cell.text for cell in foot.rows[0].cells)
    assert copies.startswith("Nơi nhận:\n- Như trên;")
    assert sign.split("\n")[0] == "TRƯỞNG PHÒNG" and sign.endswith("Hoàng Thị Phương Huệ")
    body = "\n".join(p.text for p in document.paragraphs)
    assert "3. Trung tâm Văn hóa, Thể thao và Truyền thông; UBND các xã, thị trấn" in body


def test_libreoffice_prints_it_on_a4(cao_loc: Letter, tmp_path: Path) -> None:
    soffice, pdftotext = shutil.which("soffice"), shutil.which("pdftotext")
    if not (soffice and pdftotext):
        if os.environ.get("CHIDAO_REQUIRE_OFFICE"):
            pytest.fail("LibreOffice and poppler required (CHIDAO_REQUIRE_OFFICE): run scripts/setup --system")
        pytest.skip("LibreOffice or poppler-utils not installed (scripts/setup --system)")
    source = tmp_path / "letter.docx"
    source.write_bytes(render_docx(cao_loc))
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    pdf = tmp_path / "letter.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "(A4)" in info
    text = subprocess.run([pdftotext, "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    first_line = next(line for line in text.splitlines() if line.strip())
    # The two header blocks side by side on the first printed line.
    assert "UBND HUYỆN CAO LỘC" in first_line and "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in first_line
    assert "Hoàng Thị Phương Huệ" in text
    # One face for every Vietnamese letter: Liberation Serif 2, embedded (1.07 would drop ơ, ư to DejaVu).
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    faces = [line.split()[0] for line in fonts.splitlines()[2:]]
    assert faces and all("LiberationSerif" in face for face in faces), fonts
    pages = text.split("\f")
    assert len([p for p in pages if p.strip()]) >= 2
    assert pages[1].strip().splitlines()[0].strip() == "2"  # the page number from page 2, at the top
    assert not pages[0].strip().splitlines()[0].strip().isdigit()
    signed_on = next(i for i, page in enumerate(pages) if "Hoàng Thị Phương Huệ" in page)
    assert "Nơi nhận" in pages[signed_on] and "TRƯỞNG PHÒNG" in pages[signed_on]  # the block kept together


def test_the_page_number_and_the_unbroken_signature_block_are_in_the_file(cao_loc: Letter) -> None:
    document = Document(io.BytesIO(render_docx(cao_loc)))
    section = document.sections[0]
    assert section.different_first_page_header_footer  # page 1 has no number
    assert "PAGE" in section.header._element.xml
    foot = document.tables[-1]
    assert "w:cantSplit" in foot.rows[0]._tr.xml
