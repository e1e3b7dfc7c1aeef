"""Working days: weekends, Vietnam's public holidays (Tết included), the days moved to bridge a holiday and the
Saturdays worked in exchange (from the `holidays` package), and an issuer's own days off."""

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
    # report.due is the date printed in the issuer's letter: its own recipients' deadline (depth 0). It used to be
    # the issuer's own deadline, which gave depth 0 two working days less (16/2 for a due of 20/2).
    report = Report(due=date(2024, 2, 20), lead_days=2)
    dues = [report.due_for(depth) for depth in range(4)]
    assert dues == [date(2024, 2, 20), date(2024, 2, 16), date(2024, 2, 7), date(2024, 2, 5)]
    assert report.issuer_due() == date(2024, 2, 22)  # the issuer keeps lead_days to consolidate after its units
    assert all(a is not None and b is not None and b < a for a, b in pairwise(dues))
    within = Report(within_days=5, lead_days=1)
    assert within.due_for(0) is None  # not known until the issuer's letter is issued
    assert within.due_for(0, root_issued=date(2024, 2, 5)) == date(2024, 2, 19)
    assert within.due_for(1, root_issued=date(2024, 2, 5)) == date(2024, 2, 16)


def test_the_saturdays_worked_in_exchange_are_working_days_and_the_days_they_bridge_are_not() -> None:
    calendar = WorkingCalendar()
    # 2025: Saturday 26/04 was worked for Friday 02/05, making 30/04 to 04/05 one break.
    assert calendar.is_working_day(date(2025, 4, 26)) and not calendar.is_working_day(date(2025, 5, 2))
    # 2024: Saturday 04/05 was worked for Monday 29/04, making 27/04 to 01/05 one break.
    assert calendar.is_working_day(date(2024, 5, 4)) and not calendar.is_working_day(date(2024, 4, 29))
    assert not calendar.is_working_day(date(2024, 5, 11)) and not calendar.is_working_day(date(2025, 4, 19))


def test_deadlines_across_the_make_up_saturdays_count_them() -> None:
    calendar = WorkingCalendar()
    # The working day before Monday 28/04/2025 is Saturday 26/04, and the one after Friday 25/04 too.
    assert calendar.minus(date(2025, 4, 28), 1) == date(2025, 4, 26)
    assert calendar.minus(date(2025, 4, 28), 2) == date(2025, 4, 25)
    assert calendar.plus(date(2025, 4, 25), 1) == date(2025, 4, 26)
    assert calendar.between(date(2025, 4, 25), date(2025, 5, 5)) == 4  # 26/04, 28/04, 29/04 and 05/05
    # Deadline on Sunday 05/05/2024 moves back onto Saturday 04/05, a working day; one before it is Friday 03/05.
    assert calendar.on_or_before(date(2024, 5, 5)) == date(2024, 5, 4)
    assert calendar.minus(date(2024, 5, 6), 1) == date(2024, 5, 4)
    assert calendar.minus(date(2024, 5, 6), 2) == date(2024, 5, 3)
    assert calendar.plus(date(2024, 4, 26), 1) == date(2024, 5, 2)  # 27/04 to 01/05 off, 29/04 bridged
    # A directive's levels: due Tuesday 06/05/2025, two working days kept per level (30/04 to 04/05 off).
    report = Report(due=date(2025, 5, 6), lead_days=2)
    assert [report.due_for(depth) for depth in range(3)] == [date(2025, 5, 6), date(2025, 4, 29), date(2025, 4, 26)]
    assert Report(due=date(2024, 5, 7), lead_days=2).due_for(1) == date(2024, 5, 4)
