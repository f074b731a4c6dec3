"""Build one digest: every figure as plain data, read from the database.

Figures come from ``storage.stats`` (definitions there); this module only
chooses the periods and puts them together. Unit rates rank the cohort
dispatched in the ``RATES_WINDOW_DAYS`` days up to the period's end (a single
day is too few tickets to rank), against the same window one period earlier.
Discipline referrals are a count: no text, no complainant, no ticket number.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot import campaign as campaign_module
from bot.digest.periods import LABELS, Period
from storage import clock, stats

RATES_WINDOW_DAYS = 30


def build(db: Database, config: dict[str, Any], period: Period, now: datetime) -> dict[str, Any]:
    """Every figure of the digest for ``period`` as of ``now``."""
    start, end = period.start, period.end
    top_n = config.get("digest.top_n", 10)
    overdue = stats.overdue_tickets(db, now)
    return {
        "period": {"kind": period.kind, "name": LABELS[period.kind], "label": period.label,
                   "slug": period.slug, "start": start, "end": end},
        "built_at": clock.iso(now),
        "new": {"total": stats.new_complaints(db, start, end),
                "by_kind": stats.counts_by_kind(db, start, end),
                "by_unit": [[unit, n] for unit, n in stats.counts_by_unit(db, start, end).items()]},
        "closed": stats.closed_count(db, start, end),
        "rejected": stats.rejected_count(db, start, end),
        "by_status": stats.counts_by_status(db),
        "overdue": {"total": len(overdue), "top": overdue[:top_n]},
        "discipline_referrals": stats.discipline_referrals(db, start, end),
        "repeats": stats.repeat_complaints(db, start, end),
        "units": unit_ranking(db, period, now),
        "campaign": campaign_section(db, config, now),
    }


def rates_window(period: Period, shift: int = 0) -> tuple[str, str]:
    """The rates cohort window ending with ``period`` (shifted back ``shift`` periods)."""
    length = (period.last - period.first).days + 1
    end = clock.parse(period.end) - timedelta(days=length * shift)
    return clock.iso(end - timedelta(days=RATES_WINDOW_DAYS)), clock.iso(end)


def unit_ranking(db: Database, period: Period, now: datetime) -> dict[str, Any]:
    """Per-unit rates and rank, with the change against the window one period earlier."""
    start, end = rates_window(period)
    current = stats.unit_rates(db, start, end, now)
    previous = stats.unit_rates(db, *rates_window(period, shift=1), now)
    return {"start": start, "end": end, "window_days": RATES_WINDOW_DAYS,
            "rows": stats.with_rank_change(current, previous)}


def campaign_section(db: Database, config: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Current phase with days left, and targets overdue or due within 30 days."""
    campaign = campaign_module.from_config(config)
    today = now.astimezone(clock.TZ).date()
    phase, days_left = campaign_module.current_phase(campaign, today)
    targets = campaign_module.targets_with_status(db, campaign)
    overdue, soon = campaign_module.attention(targets, today)
    return {
        "phase": phase.name if phase else None,
        "phase_end": phase.end.isoformat() if phase else None,
        "days_left": days_left,
        "overdue_targets": [_target(t, today) for t in overdue],
        "due_targets": [_target(t, today) for t in soon],
    }


def _target(target: campaign_module.Target, today: Any) -> dict[str, Any]:
    return {"id": target.id, "text": target.text, "deadline": target.deadline.isoformat(),
            "days_left": target.days_left(today), "status": target.status_label,
            "lead_units": list(target.lead_units)}
