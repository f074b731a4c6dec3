"""APScheduler wiring: every periodic job, in one place.

Jobs are plain functions of (db, config, now) that live elsewhere and are
safe to run twice; this module only says when they run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import IO, Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.config import Config

log = logging.getLogger(__name__)
_running: dict[str, Any] = {}


def _jobs(settings: Config) -> list[tuple[str, Callable[[Config], None], dict[str, Any]]]:
    """(name, function, trigger arguments) for every periodic job."""
    from bot import jobs

    return [
        ("outbox", jobs.deliver_outbox,
         {"trigger": "interval", "seconds": settings["scheduler.outbox_seconds"]}),
        *jobs.extra_jobs(settings),
    ]


def start(settings: Config, keep_alive: IO[str] | None = None) -> BackgroundScheduler:
    """Start the background scheduler (once per server; see bot.serve)."""
    scheduler = BackgroundScheduler(timezone=settings["scheduler.timezone"])
    for name, function, trigger in _jobs(settings):
        scheduler.add_job(_guarded(name, function), id=name, args=[settings],
                          max_instances=1, coalesce=True, misfire_grace_time=3600, **trigger)
    scheduler.start()
    _running.update(scheduler=scheduler, lock=keep_alive)
    return scheduler


def _guarded(name: str, function: Callable[[Config], None]) -> Callable[[Config], None]:
    def run(settings: Config) -> None:
        try:
            function(settings)
        except Exception:
            log.exception("scheduled job %s failed", name)
    return run
