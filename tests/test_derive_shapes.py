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
    # report.due (Monday 15/4/2024) is the date the ministry's letter prints: the departments' deadline. It used
    # to be the ministry's own, which gave every level two working days less (11/4, 09/4, 05/4 below).
    # Each level keeps two working days: the departments' offices owe them 11/4, the communes owe the offices 09/4.
    assert letter_of(plan, "B").closing.endswith(
        "Yêu cầu Sở Thông tin và Truyền thông các tỉnh báo cáo kết quả thực hiện về Bộ "
        "trước ngày 15 tháng 4 năm 2024./."
    )
    assert letter_of(plan, "71.S").closing.endswith(
        "Yêu cầu Phòng Văn hóa và Thông tin báo cáo kết quả về Sở trước ngày 11 tháng 4 năm 2024./."
    )


def test_without_report_from_only_the_units_a_writer_directs_owe_a_report(plan: Plan) -> None:
    # The plan names no `report.from`: the press (asked to cooperate) is told the content but owes no report,
    # and a district office only requests the communes' cooperation, so its letter asks them for none.
    department = letter_of(plan, "71.S").closing
    assert department.startswith("Sở Thông tin và Truyền thông đề nghị Báo Bảy; Phòng Văn hóa và Thông tin phối hợp")
    assert "Báo Bảy báo cáo" not in department
    assert letter_of(plan, "711.P").closing == (
        "Phòng Văn hóa và Thông tin đề nghị UBND xã Một phối hợp triển khai thực hiện nội dung nêu trên./."
    )


def test_report_from_names_who_owes_at_every_level(ministry: Hierarchy) -> None:
    from letters.directive import parse_directive

    text = (
        (DATA / "ministry-plan.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "report: {due: 2024-04-15, lead_days: 2}",
            "report: {due: 2024-04-15, lead_days: 2, from: [department, culture_office, commune_committee]}",
        )
    )
    plan = plan_cascade(parse_directive(text, ministry, "plan.yaml"), ministry, date(2024, 3, 4))
    assert letter_of(plan, "711.P").closing == (
        "Phòng Văn hóa và Thông tin đề nghị UBND xã Một phối hợp triển khai thực hiện nội dung nêu trên và báo cáo "
        "kết quả về Phòng trước ngày 09 tháng 4 năm 2024./."
    )


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
    # The lowest letter (the offices', depth 2) gives its recipients 15/4 less 2 x 2 working days: 09/4.
    with pytest.raises(InputError, match="leaves the lowest level a deadline of 09/04/2024, before 10/04/2024"):
        parse_directive(text, ministry, "plan.yaml", today=date(2024, 4, 10))
    assert parse_directive(text, ministry, "plan.yaml", today=date(2024, 4, 9)).report.due == date(2024, 4, 15)


def test_an_unknown_role_in_report_from_names_its_line(ministry: Hierarchy) -> None:
    from inputs.sources import InputError
    from letters.directive import parse_directive

    text = (
        (DATA / "ministry-plan.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "report: {due: 2024-04-15, lead_days: 2}", "report:\n  due: 2024-04-15\n  from: [department, communes]"
        )
    )
    with pytest.raises(InputError) as bad:
        parse_directive(text, ministry, "plan.yaml", today=date(2024, 4, 1))
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "communes]" in s)
    assert str(bad.value).startswith(f"plan.yaml:{line}: report.from[1]: unknown role 'communes'")
