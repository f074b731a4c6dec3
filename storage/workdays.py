"""Deadlines on the Chinese working-day calendar.

Statutory holidays and make-up workdays come from ``chinesecalendar``; for a
year it does not cover yet, weekends only, with a warning in the log once
per year (update the package when the State Council publishes the schedule).
"""

from __future__ import annotations

import functools
import logging
from datetime import date, datetime, timedelta

import chinese_calendar

log = logging.getLogger(__name__)
_warned_years: set[int] = set()


def is_workday(day: date) -> bool:
    """True on a working day, make-up Saturdays included."""
    known = _calendar_says(day)
    if known is None:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("holiday calendar has no data for %s: counting weekends only", day.year)
        return day.weekday() < 5
    return known


@functools.lru_cache(maxsize=4096)
def _calendar_says(day: date) -> bool | None:
    """chinesecalendar's answer (None: a year it does not cover), kept per date.

    The package revalidates its arguments on every call; deadlines ask about
    the same few days for every ticket dispatched on a day.
    """
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return None


def add_working_days(start: datetime, days: int) -> datetime:
    """The same clock time on the ``days``-th working day after ``start``'s date."""
    day = start.date()
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_workday(day):
            remaining -= 1
    return datetime.combine(day, start.timetz())


def working_days_between(start: datetime, end: datetime) -> int:
    """Whole working days after ``start``'s date up to and including ``end``'s date."""
    count = 0
    day = start.date()
    while day < end.date():
        day += timedelta(days=1)
        if is_workday(day):
            count += 1
    return count
