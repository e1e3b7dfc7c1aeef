"""Working days in Vietnam: weekends, public holidays including Tết (from `holidays`), declared days off."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=1)
def _public_holidays() -> holidays.HolidayBase:
    return holidays.country_holidays("VN")  # expands to each year as it is asked about


class WorkingCalendar:
    """Which days an office works; a directive's issuer may declare extra days off."""

    def __init__(self, days_off: Iterable[date] = ()) -> None:
        self.days_off = frozenset(days_off)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in _public_holidays() and day not in self.days_off

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
