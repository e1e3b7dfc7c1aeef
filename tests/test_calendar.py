"""Working days: weekends, Vietnam's public holidays (Tết included) and an issuer's own days off."""

from datetime import date
from itertools import pairwise

from letters.calendar import WorkingCalendar
from letters.directive import Report

TET_2024 = [date(2024, 2, d) for d in range(8, 15)]  # 29 Tết to the fifth day: 8-14 February 2024


def test_tet_and_weekends_are_not_working_days() -> None:
    calendar = WorkingCalendar()
    assert not any(calendar.is_working_day(d) for d in TET_2024)
    assert calendar.is_working_day(date(2024, 2, 7)) and calendar.is_working_day(date(2024, 2, 15))
    assert not calendar.is_working_day(date(2024, 9, 2))  # National Day


def test_a_deadline_on_a_holiday_moves_to_the_working_day_before() -> None:
    calendar = WorkingCalendar()
    assert calendar.on_or_before(date(2024, 2, 12)) == date(2024, 2, 7)
    assert calendar.minus(date(2024, 2, 15), 1) == date(2024, 2, 7)
    assert calendar.minus(date(2024, 3, 25), 1) == date(2024, 3, 22)  # Monday -> Friday


def test_counting_forward_and_between_skips_the_same_days() -> None:
    calendar = WorkingCalendar()
    assert calendar.plus(date(2024, 2, 6), 2) == date(2024, 2, 15)
    assert calendar.between(date(2024, 2, 6), date(2024, 2, 15)) == 2
    assert calendar.between(date(2024, 2, 15), date(2024, 2, 6)) == -2


def test_declared_days_off_count_as_holidays() -> None:
    calendar = WorkingCalendar([date(2024, 3, 22)])
    assert calendar.minus(date(2024, 3, 25), 1) == date(2024, 3, 21)


def test_each_levels_deadline_precedes_its_parents() -> None:
    report = Report(due=date(2024, 2, 20), lead_days=2)
    dues = [report.due_for(depth) for depth in range(4)]
    assert dues == [date(2024, 2, 16), date(2024, 2, 7), date(2024, 2, 5), date(2024, 2, 1)]
    assert all(a is not None and b is not None and b < a for a, b in pairwise(dues))
    within = Report(within_days=5, lead_days=1)
    assert within.due_for(0) is None  # not known until the issuer's letter is issued
    assert within.due_for(0, root_issued=date(2024, 2, 5)) == date(2024, 2, 19)
    assert within.due_for(1, root_issued=date(2024, 2, 5)) == date(2024, 2, 16)
