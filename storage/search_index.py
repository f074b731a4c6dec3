"""The queue's full-text index (FTS5 trigram), kept up to date off the intake path.

Indexing a complaint's trigrams inside the intake transaction cost about a
tenth of the webhook's time per message, under the write lock that every worker
queues behind. New tickets are indexed instead in batches: by a scheduler job
every few seconds, and by any search that finds rows still pending, so a search
never misses a ticket. ``search_progress.last_id`` is the highest ticket id
indexed; ids are handed out under the write lock, so every committed ticket at
or below it is in the index.
"""

from __future__ import annotations

import logging
import sqlite3

from sqlite_utils import Database

from storage.db import write_transaction

log = logging.getLogger(__name__)

BATCH = 500  # ids per transaction: ~3 ms under the write lock


def pending(db: Database) -> int:
    """How many tickets are not in the index yet (one read of two integers)."""
    row = db.conn.execute(
        "SELECT coalesce((SELECT max(id) FROM tickets), 0) - last_id FROM search_progress"
    ).fetchone()
    return max(0, row[0]) if row else 0


def index_pending(db: Database, batch: int = BATCH) -> int:
    """Index the tickets added since the last run, ``batch`` ids per transaction.

    Returns how far the index moved on (ids are dense: tickets are never deleted).
    """
    done = 0
    while True:
        with write_transaction(db):
            last_id = db.conn.execute("SELECT last_id FROM search_progress").fetchone()[0]
            top = db.conn.execute(
                "SELECT max(id) FROM (SELECT id FROM tickets WHERE id > ? ORDER BY id LIMIT ?)",
                [last_id, batch]).fetchone()[0]
            if top is None:
                return done
            db.conn.execute("INSERT INTO tickets_fts(rowid, text) SELECT id, text FROM tickets"
                            " WHERE id > ? AND id <= ? ORDER BY id", [last_id, top])
            db.conn.execute("UPDATE search_progress SET last_id = ?", [top])
            done += top - last_id


def catch_up(db: Database) -> None:
    """Before a text search: index what is pending, if the database can be written.

    A read-only database (or one another process holds for long) still gets its
    search; only the newest tickets may then be missing from the results.
    """
    if not pending(db):
        return
    try:
        index_pending(db)
    except sqlite3.Error as error:
        log.warning("search index not caught up (%s): newest tickets may be missing", error)
