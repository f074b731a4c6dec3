"""The periodic jobs' entry points: open the database, call the plain function."""

from __future__ import annotations

from typing import Any

from bot.config import Config
from storage.db import get_db


def deliver_outbox(settings: Config) -> None:
    """Send the notices that are due."""
    from bot.outbox_sender import deliver_due

    deliver_due(get_db(settings["storage.path"]), settings)


def recover_inbox(settings: Config) -> None:
    """Handle messages a dead worker kept but never handled; replies go via the outbox."""
    from bot.webhook import recover_unhandled

    recover_unhandled(get_db(settings["storage.path"]), settings)


def index_search(settings: Config) -> None:
    """Add the newest tickets to the queue's full-text index (storage/search_index.py)."""
    from storage import search_index

    search_index.index_pending(get_db(settings["storage.path"]))


def extra_jobs(settings: Config) -> list[tuple[str, Any, dict[str, Any]]]:
    """Inbox recovery, the search index, the deadline sweep and the digests."""
    from bot import sweep
    from bot.digest.jobs import digest_jobs

    return [
        ("inbox", recover_inbox, {"trigger": "interval", "seconds": 30}),
        ("search-index", index_search, {"trigger": "interval", "seconds": 2}),
        ("sweep", sweep.scheduled,
         {"trigger": "interval", "minutes": settings["scheduler.sweep_minutes"]}),
        *digest_jobs(settings),
    ]
