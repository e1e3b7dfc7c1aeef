import unicodedata
from pathlib import Path

import pytest

from hierarchy import load_hierarchy, parse_hierarchy
from hierarchy.model import Link
from hierarchy.tree import render_tree
from inputs.sources import InputError
from tests.conftest import DATA

MINI = (DATA / "mini.yaml").read_text(encoding="utf-8")


def errors_of(text: str, name: str = "h.yaml") -> list[str]:
    with pytest.raises(InputError) as info:
        parse_hierarchy(text, name)
    return [str(p) for p in info.value.problems]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_loads_the_graph_with_links_and_roles() -> None:
    h = load_hierarchy(DATA / "mini.yaml")
    assert len(h) == 14
    assert [u.code for u in h.children("901.P")] == ["901.TT", "901.BD", "90101", "90102"]
    assert h.link("90.S", "901.P") is Link.direct
    assert h.link("90.S", "90.BAO") is Link.request
    assert h.unit("901.P").roles == ("culture_office",)
    assert h.graph.has_edge("90", "90.S")


def test_duplicate_code_names_both_lines() -> None:
    text = MINI.replace('code: "90202"', 'code: "90201"')
    (message,) = errors_of(text)
    assert f"h.yaml:{line_of(text, 'Ăn Khê')}: unit 90201 field 'code': duplicate code" in message
    assert f"first at line {line_of(text, 'Tây Sơn')}" in message


def test_cycle_is_refused() -> None:
    text = MINI.replace('{code: "90.S", parent: "90"', '{code: "90.S", parent: "901.P"')
    messages = errors_of(text)
    assert any("cycle: " in m and "901.P" in m and "90.S" in m for m in messages)


def test_unknown_role_names_unit_line_and_known_roles() -> None:
    text = MINI.replace("roles: [press]", "roles: [newspaper]")
    (message,) = errors_of(text)
    assert message.startswith(
        f"h.yaml:{line_of(text, 'newspaper')}: unit 90.BAO field 'roles': unknown role 'newspaper'"
    )
    assert "press" in message


def test_unknown_parent_is_refused() -> None:
    text = MINI.replace(
        'parent: "902.P", link: request, name: UBND xã Tây Sơn', 'parent: "999", link: request, name: UBND xã Tây Sơn'
    )
    (message,) = errors_of(text)
    assert "unit 90201 field 'parent': unknown parent '999'" in message


def test_missing_signer_of_a_unit_with_units_under_it() -> None:
    text = MINI.replace("signer: {position: TRƯỞNG PHÒNG, name: Đỗ Thị Bốn}, ", "")
    (message,) = errors_of(text)
    assert "unit 902.P field 'signer': missing field 'signer'" in message


def test_missing_required_field_names_the_line() -> None:
    text = MINI.replace("email: x90202@mau.example, ", "")
    (message,) = errors_of(text)
    assert message == f"h.yaml:{line_of(text, 'Ăn Khê')}: units[13].email: missing field 'email'"


def test_unit_without_parent_is_unreachable() -> None:
    text = MINI.replace('parent: "902.P", link: request, name: UBND xã Tây Sơn', "link: request, name: UBND xã Tây Sơn")
    (message,) = errors_of(text)
    assert "unit 90201: missing field 'parent'" in message


def test_broken_yaml_names_the_line() -> None:
    text = MINI.replace("units:\n", "units:\n  - [unclosed\n")
    (message,) = errors_of(text)
    assert message.startswith("h.yaml:") and "broken YAML" in message


def test_nfd_file_gives_the_same_hierarchy_as_nfc(tmp_path: Path) -> None:
    path = tmp_path / "nfd.yaml"
    path.write_text(unicodedata.normalize("NFD", MINI), encoding="utf-8")
    nfd, nfc = load_hierarchy(path), load_hierarchy(DATA / "mini.yaml")
    assert nfd.digest == nfc.digest
    assert nfd.unit("90202").name == "UBND xã Ăn Khê"


def test_tree_is_sorted_the_vietnamese_way_and_honours_depth() -> None:
    h = load_hierarchy(DATA / "mini.yaml")
    tree = render_tree(h, root="90.S", depth=1).splitlines()
    assert tree[0].startswith("Sở Văn hóa và Thông tin (90.S)")
    names = [line.split("── ", 1)[1].removeprefix("(phối hợp) ") for line in tree[1:]]
    assert [n.split(" (")[0] for n in names] == [
        "Báo Mẫu",
        "Bưu điện tỉnh Mẫu",
        "Đài Phát thanh tỉnh Mẫu",
        "Phòng Văn hóa và Thông tin",
        "Phòng Văn hóa và Thông tin",
        "Viễn thông Mẫu",
    ]
    full = render_tree(h, root="902.P")
    assert full.index("Ăn Khê") < full.index("Tây Sơn")
