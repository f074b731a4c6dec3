"""``python -m bot calendar [--year Y]``: which source knows a year's holidays, and what it says.

The office runs it after entering the State Council's schedule in the holiday
file. Exit status 1 when a year is not covered (deadlines in it would count
weekends only), so a monitoring script can run it too. Without ``--year`` it
checks the years the start-up warning checks: this year, and next year from
60 days before the end of this one.
"""

from __future__ import annotations

import argparse
import importlib.metadata
from datetime import date, timedelta

from bot import config as config_module
from storage import clock, workdays

WEEKDAYS = "一二三四五六日"


def register(subparsers: argparse._SubParsersAction) -> None:
    from bot.cli import add_config_argument

    parser = subparsers.add_parser("calendar", help="check the statutory holiday calendar")
    add_config_argument(parser)
    parser.add_argument("--year", type=int, help="the year to check (default: this year, and "
                        "next year within 60 days of the year's end)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = config_module.load(args.config)
    workdays.configure(settings["calendar.holidays_file"])
    if args.year is not None:
        years = [args.year]
    else:
        today = clock.now().date()
        horizon = today + timedelta(days=workdays.WARN_DAYS_BEFORE_YEAR_END)
        years = list(range(today.year, horizon.year + 1))
    missing = 0
    for year in years:
        print("\n".join(describe(year)))
        missing += workdays.source_of(year) is None
    return 1 if missing else 0


def describe(year: int) -> list[str]:
    """The lines printed for one year: its source, then its days off and make-up workdays."""
    plan = workdays.year_plan(year)
    if plan is None:
        return [f"{year} 年：none — 尚未录入法定节假日安排，办理时限只扣除周末。",
                f"  请按国务院办公厅通知填写 {workdays.active_file()}"
                "（或配置 calendar.holidays_file），然后重启服务。"]
    if plan.source == "file":
        where = str(workdays.active_file())
    else:
        where = f"chinesecalendar {importlib.metadata.version('chinesecalendar')}"
    lines = [f"{year} 年：{plan.source} — {where}", f"  放假（{len(plan.off)} 天）："]
    lines += [f"    {span}" for span in _spans(sorted(plan.off))]
    lines.append(f"  调休上班（{len(plan.work)} 天）：" + ("" if plan.work else "无"))
    lines += [f"    {_day(day)}" for day in sorted(plan.work)]
    lines += [f"  注意：{_day(day)}本来就是工作日，列为调休上班没有作用，请核对日期。"
              for day in sorted(plan.work) if day.weekday() < 5]
    return lines


def _day(day: date) -> str:
    return f"{day.isoformat()}（周{WEEKDAYS[day.weekday()]}）"


def _spans(days: list[date]) -> list[str]:
    """Consecutive days as one span, the way the State Council's notice writes them."""
    spans: list[list[date]] = []
    for day in days:
        if spans and day - spans[-1][-1] == timedelta(days=1):
            spans[-1].append(day)
        else:
            spans.append([day])
    return [_day(span[0]) if len(span) == 1
            else f"{_day(span[0])}至 {_day(span[-1])[5:]}，共 {len(span)} 天" for span in spans]
