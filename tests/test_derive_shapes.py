"""A shape the examples do not have: a ministry's urgent plan, four levels, deadlines narrowing down."""

from datetime import date

import pytest

from hierarchy import Hierarchy, load_hierarchy
from letters.content import Letter
from letters.directive import load_directive
from letters.plan import Plan, plan_cascade
from letters.render import render_markdown
from tests.conftest import DATA


@pytest.fixture(scope="module")
def ministry() -> Hierarchy:
    return load_hierarchy(DATA / "ministry.yaml")


@pytest.fixture(scope="module")
def plan(ministry: Hierarchy) -> Plan:
    return plan_cascade(load_directive(DATA / "ministry-plan.yaml", ministry), ministry, date(2024, 3, 4))


def letter_of(plan: Plan, unit: str) -> Letter:
    return next(d.letter for level in plan.levels for d in level if d.letter.unit == unit)


def test_levels_follow_the_roles_the_directive_addresses(plan: Plan) -> None:
    assert [[d.letter.unit for d in level] for level in plan.levels] == [["B"], ["71.S"], ["711.P"]]
    # 72.S is reached but its only child plays no role the plan addresses: nothing to pass down.
    assert plan.silent == ["72.S"]
    assert plan.unreached == ["72.X"]


def test_a_plan_is_titled_and_numbered_as_its_type(plan: Plan) -> None:
    root = letter_of(plan, "B")
    assert root.notation == "KH-BTTTT"
    text = render_markdown(root)
    assert "**KẾ HOẠCH**" in text and "V/v" not in text and "**KHẨN**" in text
    assert root.recipients[0].label == "Sở Thông tin và Truyền thông các tỉnh"
    assert [s.title for s in root.sections] == ["Sở Thông tin và Truyền thông các tỉnh."]


def test_derived_letters_cite_the_plan_and_stay_urgent(plan: Plan) -> None:
    department = letter_of(plan, "71.S")
    assert department.doc_type == "Công văn" and department.notation == "STTTT"
    assert department.urgency == "Khẩn"
    assert department.opening.startswith("Thực hiện Kế hoạch số")
    assert "/KH-BTTTT ngày" in department.opening and "/3/2024 của Bộ Thông tin và Truyền thông" in department.opening


def test_a_relay_already_carried_by_a_direct_section_is_not_repeated(plan: Plan) -> None:
    department = letter_of(plan, "71.S")
    assert [s.title for s in department.sections] == ["Các cơ quan báo chí.", "Phòng Văn hóa và Thông tin các huyện."]
    assert department.sections[0].items == ("Tuyên truyền về chuyển đổi số trên địa bàn tỉnh Bảy.",)


def test_a_relay_two_levels_down_carries_the_content_narrowed(plan: Plan) -> None:
    office = letter_of(plan, "711.P")
    assert [s.title for s in office.sections] == ["UBND xã Một"]
    assert office.sections[0].items == ("Tuyên truyền về chuyển đổi số trên địa bàn huyện Một.",)


def test_report_deadlines_narrow_by_working_days_at_each_level(plan: Plan) -> None:
    # The ministry reports by Monday 15/4/2024; each level keeps two working days to consolidate:
    # the departments owe the ministry 11/4, so their units owe them 09/4, and the communes owe 05/4.
    assert letter_of(plan, "71.S").closing.endswith("báo cáo kết quả về Sở trước ngày 09/4/2024./.")
    assert letter_of(plan, "711.P").closing.endswith("báo cáo kết quả về Phòng trước ngày 05/4/2024./.")


def test_a_deadline_already_passed_is_refused_naming_its_line(ministry: Hierarchy) -> None:
    from inputs.sources import InputError
    from letters.directive import parse_directive

    text = (DATA / "ministry-plan.yaml").read_text(encoding="utf-8")
    with pytest.raises(InputError) as passed:
        parse_directive(text, ministry, "plan.yaml", today=date(2024, 4, 16))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if s.startswith("report:"))
    assert (
        str(passed.value)
        == f"plan.yaml:{line}: report.due: the report deadline 15/04/2024 has already passed (16/04/2024)"
    )
    with pytest.raises(InputError, match="leaves the lowest level a deadline of 05/04/2024, before 08/04/2024"):
        parse_directive(text, ministry, "plan.yaml", today=date(2024, 4, 8))
    assert parse_directive(text, ministry, "plan.yaml", today=date(2024, 4, 5)).report.due == date(2024, 4, 15)
