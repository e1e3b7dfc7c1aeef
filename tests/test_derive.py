"""Derivation rules on hierarchies the engine has never seen: a fictional province, three and two levels."""

import unicodedata
from datetime import date
from pathlib import Path

import pytest

from hierarchy import load_hierarchy
from inputs.sources import InputError
from letters.dates import BLANK
from letters.derive import Citation, derived_letter
from letters.directive import load_directive, parse_directive
from letters.plan import plan_cascade
from letters.render import render_html, render_markdown
from tests.conftest import DATA

DAY = date(2023, 12, 1)


@pytest.fixture
def mini():  # type: ignore[no-untyped-def]
    return load_hierarchy(DATA / "mini.yaml")


def test_every_unit_reached_with_units_under_it_gets_exactly_one_draft(mini, mini_directive: Path) -> None:  # type: ignore[no-untyped-def]
    plan = plan_cascade(load_directive(mini_directive, mini), mini, DAY)
    units = [d.letter.unit for level in plan.levels for d in level]
    assert units == ["90.S", "901.P", "902.P"]
    assert plan.silent == []


def test_district_letter_narrows_sections_and_relays_section_one(mini, mini_directive: Path) -> None:  # type: ignore[no-untyped-def]
    plan = plan_cascade(load_directive(mini_directive, mini), mini, DAY)
    dong = plan.levels[1][0].letter
    assert [r.label for r in dong.recipients] == [
        "Bưu điện huyện Đông",
        "Trung tâm Văn hóa, Thể thao và Truyền thông",
        "UBND các xã, thị trấn",
    ]
    assert [s.title for s in dong.sections] == [
        "Đề nghị các doanh nghiệp bưu chính.",
        "Trung tâm Văn hóa, Thể thao và Truyền thông; UBND các xã, thị trấn",
    ]
    assert "các trường THPT trên địa bàn huyện và ngược lại" in dong.sections[0].items[0]
    assert dong.sections[1].items[0].endswith("đến toàn thể nhân dân trên địa bàn huyện.")
    assert dong.opening.startswith(f"Thực hiện Công văn số {BLANK}/SVHTT-HTS ngày {BLANK}/12/2023 của Sở")
    assert "/12/2023 của Sở Văn hóa và Thông tin về việc tăng cường tuyên truyền" in dong.opening
    assert dong.closing.endswith("báo cáo kết quả về Phòng khi có yêu cầu./.")
    # The office's own duty (supervising enterprises) is not passed down.
    assert not any("giám sát" in item for s in dong.sections for item in s.items)
    tay = plan.levels[1][1].letter
    assert [r.label for r in tay.recipients] == ["UBND các xã"]  # the unit's own collective label


def test_two_level_shape_relays_to_communes_from_the_department(mini_directive: Path) -> None:
    h = load_hierarchy(DATA / "mini-2025.yaml")
    text = mini_directive.read_text(encoding="utf-8").replace('issuer: "90.S"', 'issuer: "91.S"')
    plan = plan_cascade(parse_directive(text, h), h, DAY)
    assert plan.count == 1  # communes are leaves: only the department writes
    root = plan.levels[0][0].letter
    titles = [s.title for s in root.sections]
    assert titles == [
        "Báo Lạng Sơn, Đài PTTH tỉnh.",
        "Đề nghị các doanh nghiệp bưu chính.",
        "UBND các xã, phường",
    ]
    assert root.sections[2].items[0].endswith("trên địa bàn tỉnh.")
    assert [r.label for r in root.recipients] == [
        "Báo và Phát thanh, Truyền hình Mẫu",
        "Bưu điện tỉnh Mẫu",
        "UBND các xã, phường",
    ]


def test_same_inputs_give_the_same_bytes(mini, mini_directive: Path) -> None:  # type: ignore[no-untyped-def]
    first = [
        render_markdown(d.letter)
        for lvl in plan_cascade(load_directive(mini_directive, mini), mini, DAY).levels
        for d in lvl
    ]
    again = [
        render_markdown(d.letter)
        for lvl in plan_cascade(load_directive(mini_directive, mini), mini, DAY).levels
        for d in lvl
    ]
    assert first == again


def test_nfd_directive_gives_the_same_letters(mini, mini_directive: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    nfd = tmp_path / "nfd.yaml"
    nfd.write_text(unicodedata.normalize("NFD", mini_directive.read_text(encoding="utf-8")), encoding="utf-8")
    a = plan_cascade(load_directive(mini_directive, mini), mini, DAY)
    b = plan_cascade(load_directive(nfd, mini), mini, DAY)
    assert [render_markdown(d.letter) for lvl in a.levels for d in lvl] == [
        render_markdown(d.letter) for lvl in b.levels for d in lvl
    ]


def test_directive_text_is_data_never_template_code(mini, mini_directive: Path) -> None:  # type: ignore[no-untyped-def]
    text = mini_directive.read_text(encoding="utf-8").replace(
        "Đề cao cảnh giác, phát hiện", "Đề cao cảnh giác {{ 7*7 }} <script>alert('x')</script> {% if 1 %}, phát hiện"
    )
    letter = plan_cascade(parse_directive(text, mini), mini, DAY).levels[0][0].letter
    md, html = render_markdown(letter), render_html(letter)
    assert "{{ 7*7 }}" in md and "{% if 1 %}" in md and "49" not in md
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_a_draft_cites_with_blanks_and_a_signed_letter_with_its_number() -> None:
    draft = Citation("Công văn", "STTTT-TTBCXB", None, None, date(2024, 3, 1), "Sở Thông tin và Truyền thông")
    signed = Citation(
        "Công văn", "STTTT-TTBCXB", 590, date(2024, 3, 20), date(2024, 3, 1), "Sở Thông tin và Truyền thông"
    )
    assert signed.text() == "Công văn số 590/STTTT-TTBCXB ngày 20/3/2024 của Sở Thông tin và Truyền thông"
    assert draft.text() == f"Công văn số {BLANK}/STTTT-TTBCXB ngày {BLANK}/3/2024 của Sở Thông tin và Truyền thông"


def test_derived_letter_cites_the_signed_letter_above(mini, mini_directive: Path) -> None:  # type: ignore[no-untyped-def]
    directive = load_directive(mini_directive, mini)
    above = Citation("Công văn", "SVHTT-VP", 7, date(2024, 2, 5), DAY, "Sở Văn hóa và Thông tin")
    letter = derived_letter(directive, mini, "901.P", above, DAY)
    assert letter is not None
    assert letter.opening.startswith("Thực hiện Công văn số 07/SVHTT-VP ngày 05/02/2024 của Sở Văn hóa và Thông tin")


def directive_errors(text: str, hierarchy=None) -> list[str]:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        parse_directive(text, hierarchy, "d.yaml")
    return [str(p) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_unknown_role_in_a_directive_names_its_line(mini, mini_directive: Path) -> None:  # type: ignore[no-untyped-def]
    text = mini_directive.read_text(encoding="utf-8").replace("to: [telecom]", "to: [telecoms]")
    (message,) = directive_errors(text, mini)
    assert message.startswith(f"d.yaml:{line_of(text, 'telecoms')}: sections[2].to[0]: unknown role 'telecoms'")


def test_missing_signer_in_a_directive(mini_directive: Path) -> None:
    text = mini_directive.read_text(encoding="utf-8").split("signer:")[0]
    (message,) = directive_errors(text)
    assert message == f"d.yaml:{line_of(text, 'issuer:')}: signer: missing field 'signer'"


def test_unknown_placeholder_and_relay_target_are_refused(mini_directive: Path) -> None:
    text = mini_directive.read_text(encoding="utf-8").replace(
        "trên địa bàn {scope} và ngược lại", "trên địa bàn {huyen}"
    )
    text = text.replace("content: media", "content: press")
    messages = directive_errors(text)
    assert any(f":{line_of(text, '{huyen}')}:" in m and "unknown placeholder {huyen}" in m for m in messages)
    assert any(f":{line_of(text, 'content: press')}:" in m and "no section has id 'press'" in m for m in messages)


def test_broken_directive_yaml_names_its_line(mini_directive: Path) -> None:
    text = mini_directive.read_text(encoding="utf-8").replace("  - id: telecom", "  - id: telecom\n   bad: [")
    (message,) = directive_errors(text)
    assert message.startswith("d.yaml:") and "broken YAML" in message
