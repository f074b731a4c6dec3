"""``drain``: handle the messages a surge acknowledged first (bot/surge.py), in arrival order.

Its own process, started by ``serve`` beside the web workers and run at the lowest
priority (``surge.drain_nice``). While messages still pour in (more than
``surge.per_second`` a second) it only trickles, one message every
``TRICKLE_SECONDS``, and leaves the cores to the workers that acknowledge them;
when the rush ends it catches up at full speed (several hundred messages a
second). Each pass takes what the workers appended to their intake
journals into the inbox as ``queued`` (storage/intake.py; lines younger than a
second wait for the next pass so that arrival order holds across workers),
then handles queued messages in that order; each reply goes out through the
outbox as a customer-service message. If the drain is not running, the recovery
job takes the journals in and handles what stays queued for more than two minutes.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path

from bot import config as config_module
from bot import logs
from bot.config import Config

log = logging.getLogger(__name__)
IDLE_SECONDS = 0.2  # how soon a queued message is picked up when the drain is idle
HEARTBEAT_SECONDS = 5  # /healthz calls the drain stale after three missed beats
TRICKLE_SECONDS = 0.1  # during a rush: ten messages a second, the cores left to the workers
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
    from storage import intake
    from storage.db import get_db

    app = create_app(settings)  # the database migrated, holidays and classifier loaded
    if nice:
        os.nice(nice)
    path = settings["storage.path"]
    db = get_db(path)
    beat = heartbeat_path(settings)
    arrivals = ArrivalRate()
    handled, last_beat = 0, 0.0
    with app.app_context():
        while stop is None or not stop.is_set():
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                beat.touch()
                intake.tidy(db, path)
                last_beat = time.monotonic()
            rush = arrivals.add(intake.take(db, path)) > settings["surge.per_second"]
            taken = handle_queued(db, settings, 1 if rush else BATCH)
            handled += taken
            if rush:
                time.sleep(TRICKLE_SECONDS)
            elif taken:
                continue
            elif until_empty and not intake.unread_count(db, path):
                break  # nothing queued, nothing left in a journal
            elif parent is not None and os.getppid() != parent:
                break  # ``serve`` is gone
            else:
                time.sleep(IDLE_SECONDS)
    intake.tidy(db, path)
    return handled


class ArrivalRate:
    """Messages a second taken in from the journals over the last second."""

    def __init__(self, monotonic=time.monotonic) -> None:  # noqa: ANN001
        self._now = monotonic
        self._passes: deque[tuple[float, int]] = deque()

    def add(self, count: int) -> float:
        """Record one pass's count; the rate over the last second."""
        now = self._now()
        self._passes.append((now, count))
        while self._passes[0][0] <= now - 1.0:
            self._passes.popleft()
        return float(sum(count for _, count in self._passes))
