"""Scheduler entries for digests and alerts (added to ``bot.jobs.extra_jobs``).

Each digest kind has a cron job at its configured time and a catch-up job at
start-up and every ``scheduler.sweep_minutes``: both call ``run_due``, which
runs the latest due period only if no ``job_runs`` row has it, so a digest
missed while the server was down goes out once when it comes back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger

from bot.config import Config
from bot.digest.periods import KINDS
from storage import clock
from storage.db import get_db

ALERT_CHECK_SECONDS = 60


def run_due_digests(settings: Config) -> None:
    """Send every digest kind whose latest period has not gone out yet."""
    from bot.digest.run import run_due

    db = get_db(settings["storage.path"])
    for kind in KINDS:
        run_due(db, settings, kind, clock.now())


def send_alerts(settings: Config) -> None:
    """Batch the new S6 referrals and long-overdue cases to the leaders."""
    from bot.alerts import send_alerts as send

    send(get_db(settings["storage.path"]), settings, clock.now())


def digest_jobs(settings: Config) -> list[tuple[str, Any, dict[str, Any]]]:
    """(name, function, trigger arguments) for the scheduler."""
    timezone = settings["scheduler.timezone"]
    jobs: list[tuple[str, Any, dict[str, Any]]] = [
        (f"digest-{kind}", run_due_digests,
         {"trigger": CronTrigger.from_crontab(settings[f"scheduler.digest_{kind}"],
                                              timezone=timezone)})
        for kind in KINDS
    ]
    jobs.append(("digest-catch-up", run_due_digests,
                 {"trigger": "interval", "minutes": settings["scheduler.sweep_minutes"],
                  "next_run_time": clock.now() + timedelta(seconds=5)}))
    jobs.append(("leader-alerts", send_alerts,
                 {"trigger": "interval", "seconds": ALERT_CHECK_SECONDS}))
    return jobs
