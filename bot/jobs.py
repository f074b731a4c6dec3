"""The periodic jobs' entry points: open the database, call the plain function."""

from __future__ import annotations

from typing import Any

from bot.config import Config
from storage.db import get_db


def deliver_outbox(settings: Config) -> None:
    """Send the notices that are due."""
    from bot.outbox_sender import deliver_due

    deliver_due(get_db(settings["storage.path"]), settings)


def extra_jobs(settings: Config) -> list[tuple[str, Any, dict[str, Any]]]:
    """Sweep and digests, added by their modules (empty until they exist)."""
    from bot import sweep
    from bot.digest.jobs import digest_jobs

    return [
        ("sweep", sweep.scheduled,
         {"trigger": "interval", "minutes": settings["scheduler.sweep_minutes"]}),
        *digest_jobs(settings),
    ]
