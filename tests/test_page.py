"""The HTML letter opened in headless Chromium looks like a Decree-30 page."""

import os
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from hierarchy import load_hierarchy
from letters.directive import load_directive
from letters.plan import plan_cascade
from letters.render import render_html
from tests.conftest import DATA

pytestmark = pytest.mark.browser


@pytest.fixture
def page_of_district_letter(browser: Any, mini_directive: Path, tmp_path: Path) -> Iterator[Any]:
    h = load_hierarchy(DATA / "mini.yaml")
    letter = plan_cascade(load_directive(mini_directive, h), h, date(2023, 12, 1)).levels[1][0].letter
    html = tmp_path / "letter.html"
    html.write_text(render_html(letter), encoding="utf-8")
    page = browser.new_page(viewport={"width": 900, "height": 1200})
    page.goto(html.as_uri())
    yield page
    page.close()


def box(page: Any, selector: str) -> dict[str, float]:
    found: dict[str, float] = page.locator(selector).first.bounding_box()
    return found


def test_header_blocks_sit_side_by_side_and_the_page_is_a4(page_of_district_letter: Any, tmp_path: Path) -> None:
    page = page_of_district_letter
    issuer, motto = box(page, "td.issuer"), box(page, "td.motto")
    assert issuer["x"] + issuer["width"] <= motto["x"] + 1  # issuing body left, national motto right
    assert abs(issuer["y"] - motto["y"]) < 2
    sheet = box(page, ".page")
    assert abs(sheet["width"] - 210 / 25.4 * 96) < 2  # 210 mm at 96 px per inch
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith(
        '"Liberation Serif"'
    )  # the face the PDF embeds
    assert page.evaluate("getComputedStyle(document.querySelector('.dateline')).fontStyle") == "italic"
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    shots = Path(os.environ.get("CHIDAO_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "district-letter.png"), full_page=True)
    assert (shots / "district-letter.png").stat().st_size > 10_000


def test_printing_gives_a4_pages(page_of_district_letter: Any, tmp_path: Path) -> None:
    pdf = page_of_district_letter.pdf(prefer_css_page_size=True)
    sizes = {
        tuple(round(float(v)) for v in m) for m in re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    }
    assert sizes == {(595, 842)}  # A4 in PostScript points


def test_printed_from_chromium_it_is_one_face_numbered_from_page_two_with_the_block_together(
    browser: Any, tmp_path: Path
) -> None:
    import subprocess

    from tests.conftest import LANGSON
    from tests.printed import poppler

    h = load_hierarchy(LANGSON / "hierarchy.yaml")
    letter = plan_cascade(load_directive(LANGSON / "directive-hsg-2023.yaml", h), h, date(2023, 12, 1)).levels[0][0]
    html = tmp_path / "department.html"
    html.write_text(render_html(letter.letter), encoding="utf-8")
    page = browser.new_page()
    page.goto(html.as_uri())
    printed = tmp_path / "department.pdf"
    printed.write_bytes(page.pdf(prefer_css_page_size=True))
    page.close()
    fonts = subprocess.run([poppler("pdffonts"), str(printed)], capture_output=True, text=True, check=True).stdout
    faces = [line.split()[0] for line in fonts.splitlines()[2:]]
    assert faces and all("LiberationSerif" in face for face in faces), fonts  # no DejaVu for ơ, ư
    text = subprocess.run([poppler("pdftotext"), str(printed), "-"], capture_output=True, text=True, check=True)
    pages = [p for p in text.stdout.split("\f") if p.strip()]
    assert len(pages) >= 2
    assert not pages[0].strip().splitlines()[0].strip().isdigit()
    assert [p.strip().splitlines()[0].strip() for p in pages[1:]] == [str(n) for n in range(2, len(pages) + 1)]
    signer = letter.letter.signer.name
    on = next(i for i, p in enumerate(pages) if signer in p)
    assert "Nơi nhận" in pages[on] and letter.letter.signer.position in pages[on]
