"""The inbox: every accepted message is kept, keyed so a retry is recognised.

The webhook keeps the message and handles it in one transaction; a message
is committed as ``new`` alone only when storage failed while handling it (or
by an older version that kept first). One still ``new`` after ``STALE_AFTER``
is handled by the next retry or by the recovery job.

In a surge (bot/surge.py) the webhook appends a message to its intake journal
(storage/intake.py), which the drain (bot/drain.py) takes into the inbox as
``queued`` with the acknowledgement it gave, and handles queued messages in
arrival order; the recovery job takes over one queued for longer than
``QUEUED_STALE_AFTER`` (a drain that is not running).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from storage import clock
from storage.db import read_rows

STALE_AFTER = timedelta(seconds=10)   # handling takes milliseconds; WeChat waits 5 s
QUEUED_STALE_AFTER = timedelta(minutes=2)  # a drain handles ~700 a second


def find(db: Database, key: str) -> dict[str, Any] | None:
    rows = read_rows(db, "SELECT * FROM messages WHERE key = ?", [key])
    return rows[0] if rows else None


def keep(db: Database, key: str, openid: str, msg_type: str, raw: str,
         now: datetime) -> None:
    """Insert a new message as ``new`` (call inside the webhook's transaction)."""
    db.execute(
        "INSERT INTO messages (key, openid, msg_type, received_at, raw) VALUES (?,?,?,?,?)",
        [key, openid, msg_type, clock.iso(now), raw],
    )


def keep_queued(db: Database, key: str, openid: str, msg_type: str, raw: str,
                now: datetime, acknowledgement: str) -> bool:
    """Insert a message to be handled later (a retry gets the same acknowledgement);
    False when this key was already kept. Call inside the caller's transaction."""
    return keep_queued_at(db, key, openid, msg_type, raw, clock.iso(now), acknowledgement)


def keep_queued_at(db: Database, key: str, openid: str, msg_type: str, raw: str,
                   received_at: str, acknowledgement: str) -> bool:
    """``keep_queued`` with the arrival time already as stored (an intake journal's line)."""
    return db.execute(
        "INSERT OR IGNORE INTO messages (key, openid, msg_type, received_at, raw, status, reply)"
        " VALUES (?,?,?,?,?,'queued',?)",
        [key, openid, msg_type, received_at, raw, acknowledgement]).rowcount == 1


def has_queued(db: Database, openid: str) -> bool:
    """Whether this citizen has a message waiting: a later one must wait behind it."""
    return db.execute("SELECT 1 FROM messages WHERE openid = ? AND status = 'queued' LIMIT 1",
                      [openid]).fetchone() is not None


def queued(db: Database, limit: int = 100) -> list[dict[str, Any]]:
    """Messages acknowledged first, in the order they arrived."""
    return list(db.query(
        "SELECT * FROM messages WHERE status = 'queued' ORDER BY rowid LIMIT ?", [limit]))


def count_queued(db: Database) -> int:
    return db.execute("SELECT count(*) FROM messages WHERE status = 'queued'").fetchone()[0]


def finish(db: Database, key: str, reply: str, ticket_number: str | None) -> None:
    db.execute(
        "UPDATE messages SET status = 'handled', reply = ?, ticket_number = ? WHERE key = ?",
        [reply, ticket_number, key],
    )


def is_stale(row: dict[str, Any], now: datetime) -> bool:
    """Kept as ``new`` for longer than any live handler takes."""
    return row["status"] == "new" and clock.parse(row["received_at"]) + STALE_AFTER < now


def stale_new(db: Database, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
    """Messages kept but never handled, oldest first: ``new`` ones after ``STALE_AFTER``,
    queued ones after ``QUEUED_STALE_AFTER``."""
    return list(db.query(
        "SELECT * FROM messages WHERE status = 'new' AND received_at < ?"
        " UNION ALL SELECT * FROM messages WHERE status = 'queued' AND received_at < ?"
        " ORDER BY received_at LIMIT ?",
        [clock.iso(now - STALE_AFTER), clock.iso(now - QUEUED_STALE_AFTER), limit],
    ))
