"""Digest periods: which days a digest covers, its keys, and which one is due.

Daily = the previous calendar day (00:00–24:00 Asia/Shanghai) before the
run; weekly = the previous Monday–Sunday. A period is known by its slug
(``daily-2026-11-24``, ``weekly-2026-11-16`` = the Monday) and its job key
(``digest:daily:2026-11-24``), the ``job_runs`` row that makes it run once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

from storage import clock

KINDS = ("daily", "weekly")
LABELS = {"daily": "日报", "weekly": "周报"}


@dataclass(frozen=True)
class Period:
    """A digest period: its kind and the days covered, [first, last] inclusive."""

    kind: str
    first: date
    last: date

    @property
    def slug(self) -> str:
        return f"{self.kind}-{self.first.isoformat()}"

    @property
    def job_key(self) -> str:
        return f"digest:{self.kind}:{self.first.isoformat()}"

    @property
    def start(self) -> str:
        return clock.iso(datetime.combine(self.first, datetime.min.time(), clock.TZ))

    @property
    def end(self) -> str:
        following = self.last + timedelta(days=1)
        return clock.iso(datetime.combine(following, datetime.min.time(), clock.TZ))

    @property
    def label(self) -> str:
        if self.kind == "daily":
            return f"{self.first:%Y年%m月%d日}"
        return f"{self.first:%Y年%m月%d日}—{self.last:%m月%d日}"

    def previous(self) -> Period:
        """The period just before, of the same kind (for the ranking change)."""
        length = (self.last - self.first).days + 1
        return Period(self.kind, self.first - timedelta(days=length),
                      self.first - timedelta(days=1))


def period_before(kind: str, moment: datetime) -> Period:
    """The full period of ``kind`` that ended last before ``moment``'s day."""
    today = moment.astimezone(clock.TZ).date()
    if kind == "daily":
        day = today - timedelta(days=1)
        return Period(kind, day, day)
    if kind == "weekly":
        monday = today - timedelta(days=today.weekday() + 7)
        return Period(kind, monday, monday + timedelta(days=6))
    raise ValueError(f"unknown digest period {kind!r}")


def from_slug(slug: str) -> Period:
    """Period of an archive slug, e.g. daily-2026-11-24; ValueError if malformed."""
    kind, _, first = slug.partition("-")
    day = date.fromisoformat(first)
    if kind == "daily":
        return Period(kind, day, day)
    if kind == "weekly" and day.weekday() == 0:
        return Period(kind, day, day + timedelta(days=6))
    raise ValueError(slug)


def last_fire_time(cron: str, timezone: str, now: datetime) -> datetime | None:
    """The latest scheduled time of ``cron`` at or before ``now`` (within 8 days)."""
    trigger = CronTrigger.from_crontab(cron, timezone=timezone)
    latest = None
    fire = trigger.get_next_fire_time(None, now - timedelta(days=8))
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return latest


def latest_due(kind: str, cron: str, timezone: str, now: datetime) -> Period | None:
    """The period whose digest should have gone out by ``now`` (for the catch-up)."""
    fired = last_fire_time(cron, timezone, now)
    return period_before(kind, fired) if fired else None
