"""One clock for the whole app, in the district's time zone (Asia/Shanghai).

Every timestamp is stored as ISO 8601 with the +08:00 offset, so text order
is time order and SQL comparisons on strings are correct.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    """Current time in the district's zone, to the second."""
    return datetime.now(TZ).replace(microsecond=0)


def iso(moment: datetime) -> str:
    """Stored form of a moment; naive datetimes are taken as district time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return moment.astimezone(TZ).replace(microsecond=0).isoformat()


def parse(text: str) -> datetime:
    """Read a stored or user-given ISO time; naive input is district time."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return moment.astimezone(TZ)
