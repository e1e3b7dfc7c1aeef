"""Dates as Decree 30/2020 writes them."""

from __future__ import annotations

from datetime import date

BLANK = "\u00a0" * 6  # the space a clerk fills by hand; non-breaking so no renderer collapses it


def _day(d: date) -> str:
    return f"{d.day:02d}"


def _month(d: date) -> str:
    # Leading zero for months 1 and 2 only, so "02" cannot be misread as "12".
    return f"{d.month:02d}" if d.month < 3 else str(d.month)


def long_date(d: date, *, blank_day: bool = False) -> str:
    """'ngày 05 tháng 02 năm 2024'; a draft leaves the day blank: 'ngày      tháng 3 năm 2024'."""
    day = BLANK if blank_day else _day(d)
    return f"ngày {day} tháng {_month(d)} năm {d.year}"


def short_date(d: date, *, blank_day: bool = False) -> str:
    """'20/3/2024', '05/02/2024'; a draft: '      /3/2024'."""
    day = BLANK if blank_day else _day(d)
    return f"{day}/{_month(d)}/{d.year}"
