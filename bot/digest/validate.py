"""Fail fast on digest settings: the cron lines, the time zone and ``[campaign]``.

Called when the app is built and by the CLI, so a typo stops start-up with
a message naming the key instead of a scheduler error at 08:30.
"""

from __future__ import annotations

from typing import Any

from apscheduler.triggers.cron import CronTrigger

from bot import campaign
from bot.config import ConfigError
from bot.digest.periods import KINDS


def check_config(settings: dict[str, Any]) -> None:
    """Raise ConfigError naming the first bad key."""
    source = getattr(settings, "source", "config")
    timezone = settings.get("scheduler.timezone", "Asia/Shanghai")
    for kind in KINDS:
        key = f"scheduler.digest_{kind}"
        try:
            CronTrigger.from_crontab(settings.get(key, ""), timezone=timezone)
        except (ValueError, KeyError, TypeError, LookupError) as error:
            raise ConfigError(f"{source}: key '{key}' (or scheduler.timezone) is not a "
                              f"valid cron line: {error}") from None
    campaign.from_config(settings)
