"""``drain``: handle the messages a surge left queued (bot/surge.py), in arrival order.

Its own process, started by ``serve`` beside the web workers and run at a lower
priority (``surge.drain_nice``). Handling a message holds the database's write
lock for about a millisecond, and every acknowledgement needs that lock too: so
while messages still pour in (more than ``surge.per_second`` new rows a second)
the drain only trickles, one message every ``TRICKLE_SECONDS``, and the workers
keep acknowledging at full speed; when the rush ends it catches up at full speed
(several hundred messages a second). Each reply goes out
through the outbox as a customer-service message. If the drain is not running,
the recovery job handles what stays queued for more than two minutes.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from pathlib import Path

from bot import config as config_module
from bot import logs
from bot.config import Config

log = logging.getLogger(__name__)
IDLE_SECONDS = 0.2  # how soon a queued message is picked up when the drain is idle
HEARTBEAT_SECONDS = 5  # /healthz calls the drain stale after three missed beats
TRICKLE_SECONDS = 0.1  # during a rush: ten messages a second, the lock left to the workers
BATCH = 100


def register(subparsers: argparse._SubParsersAction) -> None:
    from bot.cli import add_config_argument

    parser = subparsers.add_parser("drain", help="handle messages queued in a surge")
    add_config_argument(parser)
    parser.add_argument("--until-empty", action="store_true",
                        help="stop when the queue is empty (default: run until stopped)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = config_module.load(args.config)
    logs.setup(settings["logging.level"], settings["logging.json"])
    handled = drain(settings, until_empty=args.until_empty, parent=os.getppid(),
                    nice=settings["surge.drain_nice"])
    log.info("drain stopped after %s messages", handled)
    return 0


def heartbeat_path(settings: Config) -> Path:
    return Path(f"{settings['storage.path']}-drain")


def heartbeat_age(settings: Config) -> float | None:
    """Seconds since the drain last showed it is alive; None if it never ran here."""
    try:
        return max(0.0, time.time() - heartbeat_path(settings).stat().st_mtime)
    except OSError:
        return None


def drain(settings: Config, *, until_empty: bool = False, parent: int | None = None,
          stop: threading.Event | None = None, nice: int = 0) -> int:
    """Handle queued messages until stopped (or until none is left); how many.

    Starts (the classifier's dictionary) at normal priority, then lowers its own.
    """
    from bot import create_app
    from bot.webhook import handle_queued
    from storage.db import get_db

    app = create_app(settings)  # the database migrated, holidays and classifier loaded
    if nice:
        os.nice(nice)
    db = get_db(settings["storage.path"])
    arrivals = ArrivalRate(db)
    beat = heartbeat_path(settings)
    handled, last_beat = 0, 0.0
    with app.app_context():
        while stop is None or not stop.is_set():
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                beat.touch()
                last_beat = time.monotonic()
            rush = arrivals.per_second() > settings["surge.per_second"]
            taken = handle_queued(db, settings, 1 if rush else BATCH)
            handled += taken
            if rush:
                time.sleep(TRICKLE_SECONDS)
            elif taken:
                continue
            elif until_empty or (parent is not None and os.getppid() != parent):
                break  # nothing left, or ``serve`` is gone
            else:
                time.sleep(IDLE_SECONDS)
    return handled


class ArrivalRate:
    """New messages a second since the last look (the inbox's newest rowid; no lock)."""

    def __init__(self, db) -> None:  # noqa: ANN001 - sqlite_utils.Database
        self.db = db
        self.last = (self._newest(), time.monotonic())

    def _newest(self) -> int:
        return self.db.execute("SELECT coalesce(max(rowid), 0) FROM messages").fetchone()[0]

    def per_second(self) -> float:
        newest, now = self._newest(), time.monotonic()
        rowid, then = self.last
        self.last = (newest, now)
        return (newest - rowid) / max(now - then, 1e-3)
