"""The holiday file: the office's schedule for years chinesecalendar lacks, checks and reminders.

The holiday files written here are TEST DATA with invented dates (a fake 2027
Spring Festival, a fake 2040): they are not the State Council's schedule.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import chinese_calendar
import pytest

from bot.config import ConfigError
from storage import clock, holidays, workdays
from tests.conftest import make_config

TZ = clock.TZ

# FAKE schedule for tests only: 2027-02-08 (Mon) .. 02-12 (Fri) off, Saturday 02-06 worked.
FAKE_2027 = """\
# TEST DATA: invented dates, not the real 2027 schedule.
[years.2027]
off = ["2027-01-01", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12"]
work = ["2027-02-06"]
"""
# FAKE 2040 (the package will not know it for years): only 1 January off.
FAKE_2040 = """\
# TEST DATA: invented.
[years.2040]
off = ["2040-01-01"]
"""


@pytest.fixture(autouse=True)
def fresh_calendar(monkeypatch):  # noqa: ANN001, ANN201
    """Each test starts on the shipped file and leaves no calendar or warning state behind."""
    monkeypatch.setattr(workdays, "_active", {})
    monkeypatch.setattr(workdays, "_warned_days", set())
    monkeypatch.setattr(workdays, "_warned_years", set())
    workdays._calendar_says.cache_clear()
    yield
    workdays._calendar_says.cache_clear()


def write(tmp_path: Path, text: str, name: str = "holidays.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def freeze(monkeypatch, moment: str) -> None:  # noqa: ANN001
    monkeypatch.setattr(clock, "now", lambda: at(moment))


# ---------------------------------------------------------------- the calendar

def test_an_override_year_moves_a_deadline_past_its_holiday(tmp_path):  # noqa: ANN001
    workdays.configure(write(tmp_path, FAKE_2027))
    assert workdays.source_of(2027) == "file"
    # Wed 3 Feb + 5 working days: Thu 4, Fri 5, Sat 6 (make-up), [8-12 off], Mon 15, Tue 16
    assert workdays.add_working_days(at("2027-02-03T10:00"), 5) == at("2027-02-16T10:00")
    assert workdays.working_days_between(at("2027-02-05T09:00"), at("2027-02-15T09:00")) == 2


def test_a_make_up_saturday_counts_as_a_working_day(tmp_path):  # noqa: ANN001
    workdays.configure(write(tmp_path, FAKE_2027))
    assert workdays.is_workday(date(2027, 2, 6))       # Saturday, worked
    assert not workdays.is_workday(date(2027, 2, 13))  # the next Saturday is not
    assert not workdays.is_workday(date(2027, 2, 8))   # Monday, off
    assert workdays.add_working_days(at("2027-02-05T16:30"), 1) == at("2027-02-06T16:30")


def test_the_file_wins_over_the_package_for_a_year_both_cover(tmp_path):  # noqa: ANN001
    assert not chinese_calendar.is_workday(date(2026, 10, 1))  # the package: National Day
    before = workdays.add_working_days(at("2026-09-30T10:00"), 1)
    assert before == at("2026-10-08T10:00")
    # a (fake) correction of 2026 with only New Year's Day off
    workdays.configure(write(tmp_path, '[years.2026]\noff = ["2026-01-01"]\n'))
    assert workdays.source_of(2026) == "file"
    assert workdays.add_working_days(at("2026-09-30T10:00"), 1) == at("2026-10-01T10:00")
    assert not workdays.is_workday(date(2026, 10, 10))  # the package's make-up day is gone
    workdays.configure(None)  # back to the shipped file: the per-date cache follows
    assert workdays.add_working_days(at("2026-09-30T10:00"), 1) == before


def test_coverage_follows_the_file(tmp_path):  # noqa: ANN001
    package_last = max(chinese_calendar.holidays).year
    after = package_last + 1
    workdays.configure(write(tmp_path, f'[years.{after}]\noff = ["{after}-01-01"]\n'))
    assert workdays.covered_until() == date(package_last + 1, 12, 31)
    assert workdays.uncovered_years(date(package_last + 1, 12, 1), 60) == [package_last + 2]
    assert workdays.uncovered_years(date(package_last + 1, 6, 1), 60) == []


def test_the_shipped_file_loads_and_its_example_must_be_filled_in(tmp_path):  # noqa: ANN001
    text = holidays.SHIPPED_FILE.read_text("utf-8")
    assert "国务院办公厅" in text
    assert all(plan.source == "file" for plan in holidays.load(None).values())
    # uncommenting the example without copying the dates from the notice is refused
    start = text.index("# [years.2027]")
    example = text[start:text.index("# ]", text.index("work =", start)) + 3]
    uncommented = write(tmp_path, re.sub(r"^# ?", "", example, flags=re.M))
    with pytest.raises(holidays.HolidayFileError, match=r'"2027-MM-DD" is not a date'):
        holidays.load(uncommented)


# ---------------------------------------------------------------- start-up checks

BAD_FILES = [
    ("[years.2027\noff = [", r"not valid TOML: .*line 1"),
    ('[years.2027]\noff = ["2027-01-01",\n       "2026-10-01"]\n',
     r':3: \[years.2027\] off: "2026-10-01" is not in 2027'),
    ('[years.2027]\noff = ["2027-01-01", "2027-02-06"]\nwork = ["2027-02-06"]\n',
     r':2: \[years.2027\] "2027-02-06" is both in \'off\' and in \'work\''),
    ('[years.2027]\noff = ["2027-01-01"]\nwork = ["2027-02-30"]\n',
     r':3: \[years.2027\] work: "2027-02-30" is not a date'),
    ('[years.2027]\noff = ["2027-01-01", "2月6日"]\n',
     r':2: \[years.2027\] off: "2月6日" is not a date'),
    ("[years.2027]\noff = []\n", r":2: \[years.2027\] 'off' lists no days"),
    ('[years.2027]\noff = ["2027-01-01"]\nrest = ["2027-01-02"]\n', r":3: .*unknown key 'rest'"),
]


@pytest.mark.parametrize(("text", "problem"), BAD_FILES)
def test_a_bad_holiday_file_stops_start_up_naming_file_line_and_value(tmp_path, text, problem):  # noqa: ANN001
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, f'[calendar]\nholidays_file = "{path}"\n')
    message = str(caught.value)
    assert message.startswith("test-config: key 'calendar.holidays_file' ")
    assert str(path) in message
    assert re.search(problem, message), message


def test_a_missing_holiday_file_is_a_config_error(tmp_path):  # noqa: ANN001
    with pytest.raises(ConfigError, match=r"calendar.holidays_file.*nowhere.toml.*cannot read"):
        make_config(tmp_path, f'[calendar]\nholidays_file = "{tmp_path / "nowhere.toml"}"\n')


def test_by_default_the_shipped_file_is_used(tmp_path):  # noqa: ANN001
    config = make_config(tmp_path)
    assert config["calendar.holidays_file"] == ""
    assert workdays.configure(config["calendar.holidays_file"]) == holidays.SHIPPED_FILE
    assert workdays.active_file() == holidays.SHIPPED_FILE
