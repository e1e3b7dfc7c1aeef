"""Working days in Vietnam, as the `holidays` package records them: Monday to Friday less public holidays
(Tết included) and the days off moved to bridge a holiday, plus the Saturdays worked in exchange
(26/04/2025 for Friday 02/05/2025; 04/05/2024 for Monday 29/04/2024); less an issuer's declared days off."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=1)
def _public_holidays() -> holidays.HolidayBase:
    return holidays.country_holidays("VN")  # expands to each year as it is asked about


@lru_cache(maxsize=4096)
def works(day: date) -> bool:
    """Whether offices work on this day by the national calendar: a weekday that is no public holiday and no
    day off moved to bridge one, or a Saturday worked in exchange (the package's `weekend_workdays`)."""
    return bool(_public_holidays().is_working_day(day))


class WorkingCalendar:
    """Which days an office works; a directive's issuer may declare extra days off."""

    def __init__(self, days_off: Iterable[date] = ()) -> None:
        self.days_off = frozenset(days_off)

    def is_working_day(self, day: date) -> bool:
        return works(day) and day not in self.days_off

    def on_or_before(self, day: date) -> date:
        """The day itself if it is a working day, else the working day before it."""
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def minus(self, day: date, count: int) -> date:
        """`count` working days before `day` (which is first moved back onto a working day)."""
        day = self.on_or_before(day)
        for _ in range(count):
            day = self.on_or_before(day - timedelta(days=1))
        return day

    def plus(self, day: date, count: int) -> date:
        """`count` working days after `day`."""
        for _ in range(count):
            day += timedelta(days=1)
            while not self.is_working_day(day):
                day += timedelta(days=1)
        return day

    def between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (negative if end is before start)."""
        if end < start:
            return -self.between(end, start)
        return sum(1 for n in range(1, (end - start).days + 1) if self.is_working_day(start + timedelta(days=n)))
