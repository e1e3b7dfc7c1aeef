"""The example of the seeds: the root letter reads as seed 001, the Cao Lộc draft has seed 000's structure."""

import re
from datetime import date

import pytest

from hierarchy import Hierarchy, load_hierarchy
from letters.content import Letter
from letters.directive import load_directive
from letters.plan import Plan, plan_cascade
from letters.render import render_markdown
from tests.conftest import LANGSON, SEEDS


def plain(text: str) -> list[str]:
    """Lines without Markdown marks and with whitespace collapsed, for comparing with the seeds."""
    out = []
    for line in text.splitlines():
        line = re.sub(r"^#+\s*", "", line.replace("**", "").replace("\\", "")).strip("* ")
        line = " ".join(line.split())
        if line:
            out.append(line)
    return out


@pytest.fixture(scope="module")
def langson() -> Hierarchy:
    return load_hierarchy(LANGSON / "hierarchy.yaml")


@pytest.fixture(scope="module")
def plan(langson: Hierarchy) -> Plan:
    return plan_cascade(load_directive(LANGSON / "directive-hsg-2023.yaml", langson), langson, date(2023, 12, 1))


def office_of(plan: Plan, langson: Hierarchy, district: str) -> Letter:
    (letter,) = [d.letter for d in plan.levels[1] if district in (langson.unit(d.letter.unit).parent_body or "")]
    return letter


def test_the_example_hierarchy_has_the_seeds_world(langson: Hierarchy) -> None:
    offices = [u for u in langson.children("20.STTTT") if "culture_office" in u.roles]
    assert len(offices) == 11
    communes = [u for u in langson.graph.nodes.values() if "commune_committee" in u["unit"].roles]
    assert len(communes) == 194  # vietnam-provinces 0.6.0 (the official count before 2025 was 205)
    (cao_loc,) = [u for u in offices if u.parent_body == "UBND huyện Cao Lộc"]
    names = [u.name for u in langson.children(cao_loc.code) if "commune_committee" in u.roles]
    assert len(names) == 22
    assert "UBND thị trấn Đồng Đăng" in names and "UBND xã Tân Thành" in names


def test_root_letter_reads_as_seed_001(plan: Plan) -> None:
    ours = plain(render_markdown(plan.levels[0][0].letter))
    seed = plain((SEEDS / "001_c5e2942674deea72.txt").read_text(encoding="utf-8"))
    position = 0
    for line in seed:  # every line of the real letter, in order
        found = next((i for i in range(position, len(ours)) if line in ours[i]), None)
        assert found is not None, f"seed line not in our letter (after line {position}): {line}"
        position = found + 1


def test_every_office_reached_writes_exactly_one_draft_and_leaves_none(plan: Plan, langson: Hierarchy) -> None:
    assert [len(level) for level in plan.levels] == [1, 11]
    writers = [d.letter.unit for level in plan.levels for d in level]
    assert len(set(writers)) == len(writers)
    assert all(langson.has_children(code) for code in writers)
    assert plan.silent == []


def test_cao_loc_draft_has_the_structure_of_seed_000(plan: Plan, langson: Hierarchy) -> None:
    letter = office_of(plan, langson, "Cao Lộc")
    text = plain(render_markdown(letter))
    seed = plain((SEEDS / "000_8cc2f4c42fc7f4b3.txt").read_text(encoding="utf-8"))
    # The same recipients, grouped the same way.
    kinh_gui = seed[seed.index("Kính gửi:") + 1 : seed.index("Kính gửi:") + 4]
    assert text[text.index("Kính gửi:") + 1 : text.index("Kính gửi:") + 4] == kinh_gui
    # Opening cites the provincial letter by its full reference.
    opening = next(line for line in text if line.startswith("Thực hiện "))
    assert opening.startswith("Thực hiện Công văn số /STTTT-HTS ngày /12/2023 của Sở Thông tin và Truyền thông về việc")
    # Sections follow roles down, numbered as the seed's.
    titles = [line for line in text if re.match(r"^\d\. ", line)]
    assert [t.rstrip(".") for t in titles] == [t.rstrip(".") for t in seed if re.match(r"^\d\. ", t)]
    # Narrowed to the district; section 3 carries section 1's content.
    body = "\n".join(text)
    assert "các trường THPT trên địa bàn huyện và ngược lại" in body
    assert "đến toàn thể nhân dân trên địa bàn huyện." in body
    assert "trên địa bàn tỉnh" not in body
    # Reports back to the office; the office's letterhead, notation, place and signer.
    assert any(line.endswith("báo cáo kết quả về Phòng khi có yêu cầu./.") for line in text)
    assert text[:2] == ["UBND HUYỆN CAO LỘC", "PHÒNG VĂN HÓA VÀ THÔNG TIN"]
    assert "Số: /VHTT" in text and "Cao Lộc, ngày tháng 12 năm 2023" in text
    assert text[-2:] == ["TRƯỞNG PHÒNG", "Hoàng Thị Phương Huệ"]
    assert text[text.index("Nơi nhận:") + 1 : text.index("Nơi nhận:") + 4] == [
        "- Như trên;",
        "- TP, PTP;",
        "- VC phụ trách;",
    ]


def test_the_city_office_addresses_wards_and_communes(plan: Plan, langson: Hierarchy) -> None:
    letter = office_of(plan, langson, "thành phố Lạng Sơn")
    assert letter.recipients[-1].label == "UBND các phường, xã"
    assert "trên địa bàn thành phố" in render_markdown(letter)


def test_two_level_example_goes_from_department_to_communes() -> None:
    h = load_hierarchy(LANGSON / "hierarchy-2025.yaml")
    (department,) = [u for u in h.children(h.root) if u.kind == "department"]
    text = (
        (LANGSON / "directive-hsg-2023.yaml").read_text(encoding="utf-8").replace('"20.STTTT"', f'"{department.code}"')
    )
    from letters.directive import parse_directive

    plan = plan_cascade(parse_directive(text, h), h, date(2025, 9, 1))
    assert plan.count == 1
    root = plan.levels[0][0].letter
    assert root.recipients[-1].label == "UBND các xã, phường"
    communes = [c for r in root.recipients for c in r.units if "commune_committee" in h.unit(c).roles]
    assert len(communes) == 65
    assert any(s.title == "UBND các xã, phường" for s in root.sections)
