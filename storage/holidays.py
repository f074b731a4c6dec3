"""The office's holiday file (``storage/holidays.toml``): statutory days off and make-up workdays.

Data, not code: the State Council (国务院办公厅) publishes each year's schedule
around November, usually before ``chinesecalendar`` ships it. A year listed in
the file is fully defined by it (weekends + ``off`` − ``work``) and wins over
the package. Every problem names the file and the line, so start-up can point
the office at the entry to fix.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

SHIPPED_FILE = Path(__file__).resolve().with_name("holidays.toml")
FIELDS = ("off", "work")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class HolidayFileError(ValueError):
    """A holiday file that cannot be used; the message names the file (and line)."""


@dataclass(frozen=True)
class YearPlan:
    """One year's schedule: days off (holidays) and make-up working days (调休上班)."""

    year: int
    off: frozenset[date]
    work: frozenset[date]
    source: str  # "file" or "package"

    def is_workday(self, day: date) -> bool:
        """Weekends and ``off`` are rest days, unless the day is a make-up workday."""
        return day in self.work or (day.weekday() < 5 and day not in self.off)


def resolve(path: str | Path | None) -> Path:
    """The file to read: the given one, or the shipped ``storage/holidays.toml`` for ""/None."""
    return Path(path) if path else SHIPPED_FILE


def load(path: str | Path | None = None) -> dict[int, YearPlan]:
    """Parse and check the holiday file; raise HolidayFileError naming file and line."""
    file = resolve(path)
    try:
        text = file.read_text("utf-8")
    except OSError as error:
        raise HolidayFileError(f"{file}: cannot read holiday file: {error.strerror}") from None
    except UnicodeDecodeError:
        raise HolidayFileError(f"{file}: not UTF-8 text") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise HolidayFileError(f"{file}: not valid TOML: {error}") from None
    return _Checker(file, text.splitlines()).years(raw)


class _Checker:
    """Checks the parsed file, finding the line of each bad entry for the message."""

    def __init__(self, file: Path, lines: list[str]) -> None:
        self.file = file
        self.lines = lines

    def fail(self, line: int, message: str) -> HolidayFileError:
        where = f"{self.file}:{line}" if line else str(self.file)
        return HolidayFileError(f"{where}: {message}")

    def line_of(self, needle: str, year: str | None = None) -> int:
        """1-based line of ``needle`` (after ``[years.YEAR]`` when given); 0 if not found."""
        header = None
        if year is not None:
            pattern = re.compile(rf"^\s*\[\s*years\s*\.\s*[\"']?{re.escape(year)}[\"']?\s*\]")
            header = next((i for i, line in enumerate(self.lines) if pattern.match(line)), None)
        for i in range(header or 0, len(self.lines)):
            if needle in self.lines[i] and not self.lines[i].lstrip().startswith("#"):
                return i + 1
        return header + 1 if header is not None else 0

    def years(self, raw: dict) -> dict[int, YearPlan]:
        for name in raw:
            if name != "years":
                raise self.fail(self.line_of(name), f"unknown key '{name}' (expected [years.YYYY])")
        table = raw.get("years", {})
        if not isinstance(table, dict):
            raise self.fail(self.line_of("years"), "'years' must be a table such as [years.2027]")
        return {int(name): self.year(name, entry) for name, entry in table.items()}

    def year(self, name: str, entry: object) -> YearPlan:
        if not re.fullmatch(r"\d{4}", name):
            raise self.fail(self.line_of(f"years.{name}"),
                            f"[years.{name}]: the table name must be a year such as 2027")
        if not isinstance(entry, dict):
            raise self.fail(self.line_of(f"years.{name}"),
                            f"years.{name} must be a table with 'off' and 'work' lists")
        for field in entry:
            if field not in FIELDS:
                raise self.fail(self.line_of(field, name),
                                f"[years.{name}] unknown key '{field}' (expected 'off' and 'work')")
        off = self.dates(name, "off", entry.get("off", []))
        work = self.dates(name, "work", entry.get("work", []))
        if not off:
            raise self.fail(self.line_of("off", name) or self.line_of(f"years.{name}"),
                            f"[years.{name}] 'off' lists no days: copy the holidays from the "
                            "国务院办公厅 notice (or delete the table until it is published)")
        both = sorted(off & work)
        if both:
            raise self.fail(self.line_of(both[0].isoformat(), name),
                            f"[years.{name}] \"{both[0]}\" is both in 'off' and in 'work'")
        return YearPlan(int(name), frozenset(off), frozenset(work), "file")

    def dates(self, year: str, field: str, values: object) -> set[date]:
        if not isinstance(values, list):
            raise self.fail(self.line_of(field, year),
                            f"[years.{year}] '{field}' must be a list of dates \"YYYY-MM-DD\"")
        days = set()
        for value in values:
            day = _as_date(value)
            shown = f'"{value}"' if isinstance(value, str) else str(value)
            if day is None:
                raise self.fail(self.line_of(str(value), year),
                                f"[years.{year}] {field}: {shown} is not a date (YYYY-MM-DD)")
            if str(day.year) != year:
                raise self.fail(self.line_of(str(value), year),
                                f"[years.{year}] {field}: {shown} is not in {year}")
            days.add(day)
        return days


def _as_date(value: object) -> date | None:
    """A "YYYY-MM-DD" string or a TOML date (not a date-time); None for anything else."""
    if isinstance(value, date) and type(value) is date:
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None
