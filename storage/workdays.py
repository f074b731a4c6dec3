"""Deadlines on the Chinese working-day calendar.

Each year's statutory holidays and make-up workdays come from the office's
holiday file (``calendar.holidays_file``, by default ``storage/holidays.toml``)
when it lists the year, else from ``chinesecalendar``. A year neither knows
counts weekends only, with a warning in the log once per year; before that
happens, ``warn_if_uncovered`` (start-up and sweep) and the console tell the
office to enter the State Council's schedule.
"""

from __future__ import annotations

import functools
import logging
import threading
from datetime import date, datetime, timedelta
from pathlib import Path

import chinese_calendar

from storage import holidays
from storage.holidays import YearPlan

log = logging.getLogger(__name__)
WARN_DAYS_BEFORE_YEAR_END = 60
_warned_years: set[int] = set()
_warned_days: set[date] = set()
_lock = threading.Lock()
_active: dict[str, object] = {}  # "file": Path, "years": dict[int, YearPlan]


def configure(path: str | Path | None) -> Path:
    """Use this holiday file ("" or None: the shipped one); a file already in use is kept.

    Raises ``holidays.HolidayFileError`` naming the file and line. Call it at
    start-up: every worker must count with the same calendar, so an edit takes
    effect on restart, not halfway through a day.
    """
    file = holidays.resolve(path).resolve()
    with _lock:
        if _active.get("file") != file:
            years = holidays.load(file)
            _active.update(file=file, years=years)
            _calendar_says.cache_clear()
    return file


def active_file() -> Path:
    """The holiday file in use (the shipped one until ``configure`` says otherwise)."""
    _file_years()
    return _active["file"]  # type: ignore[return-value]


def _file_years() -> dict[int, YearPlan]:
    if "years" not in _active:
        configure(None)
    return _active["years"]  # type: ignore[return-value]


def is_workday(day: date) -> bool:
    """True on a working day, make-up Saturdays included."""
    known = _calendar_says(day)
    if known is None:
        if day.year not in _warned_years:
            _warned_years.add(day.year)
            log.warning("holiday calendar has no data for %s: counting weekends only "
                        "(enter it in %s)", day.year, active_file())
        return day.weekday() < 5
    return known


@functools.lru_cache(maxsize=4096)
def _calendar_says(day: date) -> bool | None:
    """The file's or the package's answer (None: a year neither covers), kept per date.

    Deadlines ask about the same few days for every ticket dispatched on a day;
    the cache is cleared when another holiday file is configured.
    """
    plan = year_plan(day.year)
    return None if plan is None else plan.is_workday(day)


def year_plan(year: int) -> YearPlan | None:
    """The year's schedule: from the holiday file if it lists the year, else the package's."""
    plan = _file_years().get(year)
    return plan if plan is not None else _package_plan(year)


def source_of(year: int) -> str | None:
    """Who defines ``year``: "file", "package", or None (weekends only)."""
    plan = year_plan(year)
    return plan.source if plan else None


@functools.cache
def _package_plan(year: int) -> YearPlan | None:
    first, last = min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year
    if not first <= year <= last:
        return None
    off = frozenset(day for day in chinese_calendar.holidays if day.year == year)
    work = frozenset(day for day in chinese_calendar.workdays if day.year == year)
    return YearPlan(year, off, work, "package")


def uncovered_years(today: date, horizon_days: int = WARN_DAYS_BEFORE_YEAR_END) -> list[int]:
    """Years from ``today`` to ``horizon_days`` ahead that would count weekends only."""
    last = today + timedelta(days=horizon_days)
    return [year for year in range(today.year, last.year + 1) if source_of(year) is None]


def warn_if_uncovered(today: date, horizon_days: int = WARN_DAYS_BEFORE_YEAR_END) -> list[int]:
    """Log a WARNING (once per process and day) for years about to lack a holiday schedule."""
    missing = uncovered_years(today, horizon_days)
    if missing and today not in _warned_days:
        _warned_days.add(today)
        years = ", ".join(map(str, missing))
        log.warning("holiday calendar: no statutory holiday schedule for %s; deadlines in it "
                    "will count weekends only. Enter the State Council's schedule in %s "
                    "(config calendar.holidays_file) and check with `python -m bot calendar`",
                    years, active_file())
    return missing


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
