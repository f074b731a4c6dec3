"""The holiday file: the office's schedule for years chinesecalendar lacks, checks and reminders.

The holiday files written here are TEST DATA with invented dates (a fake 2027
Spring Festival, a fake 2040): they are not the State Council's schedule.
"""

from __future__ import annotations

import argparse
import logging
import re
from datetime import date, datetime
from pathlib import Path

import chinese_calendar
import pytest

from bot import create_app, serve
from bot.cli import main
from bot.config import ConfigError
from bot.sweep import sweep
from storage import clock, holidays, workdays
from storage.db import close_all, get_db
from tests.conftest import make_config
from tests.test_console_support import login, seed

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
    assert workdays.source_of(after) == "file" and workdays.source_of(after + 1) is None
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


# ---------------------------------------------------------------- telling people in time

def test_the_warning_fires_near_the_year_end_only_and_once_a_day(tmp_path, caplog):  # noqa: ANN001
    workdays.configure(write(tmp_path, FAKE_2040))
    with caplog.at_level(logging.WARNING, logger="storage.workdays"):
        assert workdays.warn_if_uncovered(date(2040, 10, 1)) == []
        assert workdays.warn_if_uncovered(date(2040, 11, 1)) == []   # 60 days: still 2040
        assert not caplog.records
        assert workdays.warn_if_uncovered(date(2040, 11, 2)) == [2041]  # 2041-01-01 in reach
        assert workdays.warn_if_uncovered(date(2040, 11, 2)) == [2041]
        assert len(caplog.records) == 1
        workdays.warn_if_uncovered(date(2040, 11, 3))
    assert len(caplog.records) == 2
    record = caplog.records[0]
    assert record.levelno == logging.WARNING
    assert "2041" in record.getMessage() and str(tmp_path) in record.getMessage()


def test_the_sweep_warns_once_a_day(tmp_path, caplog):  # noqa: ANN001
    config = make_config(tmp_path, f'[calendar]\nholidays_file = "{write(tmp_path, FAKE_2040)}"\n')
    create_app(config)
    db = get_db(config["storage.path"])
    try:
        with caplog.at_level(logging.WARNING, logger="storage.workdays"):
            sweep(db, config, at("2040-10-01T09:00"))
            assert not caplog.records
            sweep(db, config, at("2040-12-20T09:00"))
            sweep(db, config, at("2040-12-20T09:05"))
        warnings = [r.getMessage() for r in caplog.records
                    if "no statutory holiday schedule" in r.getMessage()]
        assert len(warnings) == 1 and "for 2041" in warnings[0]
    finally:
        close_all()


def test_serve_warns_at_start_up(tmp_path, monkeypatch, caplog):  # noqa: ANN001
    fake = write(tmp_path, FAKE_2040)
    config_file = write(tmp_path, config_text(tmp_path, fake), "config.toml")
    freeze(monkeypatch, "2040-12-01T08:00")
    monkeypatch.setattr(serve.logs, "setup", lambda *args: None)
    monkeypatch.setattr(serve.GunicornServer, "run", lambda self: None)
    args = argparse.Namespace(config=str(config_file), host=None, port=None, workers=None)
    try:
        with caplog.at_level(logging.WARNING, logger="storage.workdays"):
            assert serve.run(args) == 0
    finally:
        close_all()
    assert workdays.active_file() == fake
    assert any("2041" in r.getMessage() for r in caplog.records)


NOTICE = "2041 年法定节假日安排尚未录入"


@pytest.fixture
def fake_2040_app(tmp_path):  # noqa: ANN001, ANN201
    config = make_config(tmp_path, f'[calendar]\nholidays_file = "{write(tmp_path, FAKE_2040)}"\n')
    application = create_app(config)
    seed(get_db(config["storage.path"]), config)
    yield application
    close_all()


def test_the_console_tells_the_office_and_not_a_unit(fake_2040_app, monkeypatch):  # noqa: ANN001
    freeze(monkeypatch, "2040-11-25T09:00")
    office = login(fake_2040_app, "office")
    for path in ("/console/", "/console/dashboard"):
        page = office.get(path).get_data(as_text=True)
        assert NOTICE in page, path
        assert "国务院办公厅" in page and "holidays.toml" in page
    assert NOTICE in login(fake_2040_app, "admin").get("/console/").get_data(as_text=True)
    unit_page = login(fake_2040_app, "unit").get("/console/")
    assert unit_page.status_code == 200 and NOTICE not in unit_page.get_data(as_text=True)
    leader_page = login(fake_2040_app, "leader").get("/console/dashboard")
    assert leader_page.status_code == 200 and NOTICE not in leader_page.get_data(as_text=True)


def test_no_console_notice_earlier_in_the_year(fake_2040_app, monkeypatch):  # noqa: ANN001
    freeze(monkeypatch, "2040-09-01T09:00")
    page = login(fake_2040_app, "office").get("/console/").get_data(as_text=True)
    assert "法定节假日安排尚未录入" not in page


# ---------------------------------------------------------------- python -m bot calendar

def config_text(tmp_path: Path, holidays_file: Path | str = "") -> str:
    return (f'[wechat]\ntoken = "t"\n[storage]\npath = "{tmp_path / "cli.db"}"\n'
            f'[scheduler]\nenabled = false\n[logging]\njson = false\n'
            f'[calendar]\nholidays_file = "{holidays_file}"\n')


def test_calendar_command_shows_the_file_year(tmp_path, capsys):  # noqa: ANN001
    config_file = write(tmp_path, config_text(tmp_path, write(tmp_path, FAKE_2027)), "c.toml")
    assert main(["calendar", "--config", str(config_file), "--year", "2027"]) == 0
    out = capsys.readouterr().out
    assert "2027 年：file" in out and "holidays.toml" in out
    assert "2027-02-08（周一）至 02-12（周五），共 5 天" in out
    assert "2027-02-06（周六）" in out


def test_calendar_command_package_year_and_uncovered_year(tmp_path, capsys):  # noqa: ANN001
    config_file = write(tmp_path, config_text(tmp_path), "c.toml")
    assert main(["calendar", "--config", str(config_file), "--year", "2026"]) == 0
    out = capsys.readouterr().out
    assert "2026 年：package — chinesecalendar" in out and "2026-10-10（周六）" in out
    assert main(["calendar", "--config", str(config_file), "--year", "2041"]) == 1
    assert "2041 年：none" in capsys.readouterr().out


def test_calendar_command_checks_next_year_near_the_year_end(tmp_path, monkeypatch, capsys):  # noqa: ANN001
    config_file = write(tmp_path, config_text(tmp_path, write(tmp_path, FAKE_2040)), "c.toml")
    freeze(monkeypatch, "2040-06-01T09:00")
    assert main(["calendar", "--config", str(config_file)]) == 0
    freeze(monkeypatch, "2040-11-25T09:00")
    assert main(["calendar", "--config", str(config_file)]) == 1
    out = capsys.readouterr().out
    assert "2040 年：file" in out and "2041 年：none" in out


def test_calendar_command_with_a_bad_file_is_a_config_error(tmp_path, capsys):  # noqa: ANN001
    bad = write(tmp_path, '[years.2027]\noff = ["2028-01-01"]\n')
    config_file = write(tmp_path, config_text(tmp_path, bad), "c.toml")
    assert main(["calendar", "--config", str(config_file)]) == 2
    assert '"2028-01-01" is not in 2027' in capsys.readouterr().err
