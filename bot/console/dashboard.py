"""The dashboard (统计看板): counts, trend, the 12345 "three rates" per unit, overdue list.

Every figure comes from ``storage.stats`` (the same definitions as the
leading group's digest); this module only picks the period and lays out charts.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app, render_template, request
from flask.typing import ResponseReturnValue

from bot.access import current_user, db
from bot.console import charts
from bot.console.auth import login_required
from bot.console.labels import kind_label
from storage import clock, stats, workdays
from storage.lifecycle import STATUS_LABELS

PERIODS = {7: "近7天", 30: "近30天", 90: "近90天", 365: "近一年"}
DEFAULT_DAYS = 30
TOP_UNITS = 15
OVERDUE_ROWS = 30
CACHE_SECONDS = 60
RATES = ("response_rate", "resolution_rate", "satisfaction_rate")
CALENDAR_NOTICE_ROLES = ("office", "admin")


def period(days: int, now: datetime) -> tuple[str, str]:
    """The last ``days`` calendar days up to and including today, as [start, end)."""
    today = now.date()
    start, _ = stats.day_bounds(today - timedelta(days=days - 1))
    _, end = stats.day_bounds(today)
    return start, end


def overall_rates(units: list[dict[str, Any]]) -> dict[str, float | None]:
    """District-wide rates: the units' numerators over their denominators."""
    def total(name: str) -> int:
        return sum(item[name] for item in units)

    def ratio(part: str, whole: str) -> float | None:
        return total(part) / total(whole) if total(whole) else None

    return {"response_rate": ratio("signed_on_time", "sign_due"),
            "resolution_rate": ratio("resolved", "answer_due"),
            "satisfaction_rate": ratio("satisfied", "rated")}


def figures(conn: Any, days: int, now: datetime) -> dict[str, Any]:
    """All numbers the page shows, as plain data (tests read this too)."""
    start, end = period(days, now)
    units = stats.unit_rates(conn, start, end, now)
    return {
        "new": stats.new_complaints(conn, start, end),
        "closed": stats.closed_count(conn, start, end),
        "rejected": stats.rejected_count(conn, start, end),
        "referrals": stats.discipline_referrals(conn, start, end),
        "by_kind": stats.counts_by_kind(conn, start, end),
        "by_unit": stats.counts_by_unit(conn, start, end),
        "by_status": stats.counts_by_status(conn),
        "trend": stats.daily_trend(conn, start, end),
        "units": units,
        "overall": overall_rates(units),
        "overdue": stats.overdue_tickets(conn, now),
    }


def chart_data(data: dict[str, Any]) -> dict[str, Any]:
    """SVG geometry for the four charts."""
    units = list(data["by_unit"].items())[:TOP_UNITS]
    return {
        "kind": charts.horizontal_bars([(kind_label(k), n) for k, n in data["by_kind"].items()]),
        "unit": charts.horizontal_bars([(u or "未定单位", n) for u, n in units], label_width=170),
        "status": charts.horizontal_bars(
            [(STATUS_LABELS[s], n) for s, n in data["by_status"].items()], label_width=90),
        "trend": charts.line_chart([(d["day"], d["count"]) for d in data["trend"]]),
    }


def cached_figures(days: int) -> tuple[dict[str, Any], datetime]:
    """Figures at most CACHE_SECONDS old, per app and period.

    On a million tickets the overdue list and the unit rates take seconds to
    build; a dashboard a minute old is fine for people reading trends, and the
    page says when its figures were taken.
    """
    cache = current_app.extensions.setdefault("console.dashboard", {})
    entry = cache.get(days)
    if entry and time.monotonic() - entry[0] < CACHE_SECONDS:
        return entry[1], entry[2]
    now = clock.now()
    data = figures(db(), days, now)
    cache[days] = (time.monotonic(), data, now)
    return data, now


def calendar_notice(role: str | None) -> dict[str, Any] | None:
    """Years about to count weekends only, for the accounts that can have them entered.

    Shown on the office's pages (queue and dashboard) from 60 days before the
    year's end; the text is in ``console/_calendar_notice.html``.
    """
    if role not in CALENDAR_NOTICE_ROLES:
        return None
    file = workdays.active_file()  # configured by create_app
    years = workdays.uncovered_years(clock.now().date())
    if not years:
        return None
    try:
        shown = file.relative_to(Path.cwd())
    except ValueError:
        shown = file
    return {"years": years, "file": str(shown)}


@login_required("office", "leader", "admin")
def dashboard() -> ResponseReturnValue:
    """Leaders' and the office's overview for a chosen period."""
    days = request.args.get("days", type=int)
    days = days if days in PERIODS else DEFAULT_DAYS
    data, now = cached_figures(days)
    return render_template(
        "console/dashboard.html", data=data, charts=chart_data(data), days=days,
        periods=PERIODS, percent=charts.percent, rates=RATES,
        overdue=data["overdue"][:OVERDUE_ROWS], status_labels=STATUS_LABELS,
        kind_label=kind_label, now=now, calendar_notice=calendar_notice(current_user()["role"]))
