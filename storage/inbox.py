"""The inbox: every accepted message is kept, keyed so a retry is recognised.

The webhook keeps the message and handles it in one write transaction, so a
retried delivery either finds the stored reply or waits for the first one to
commit; it never creates a second ticket.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage import clock


def find(db: Database, key: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM messages WHERE key = ?", [key]))
    return rows[0] if rows else None


def keep(db: Database, key: str, openid: str, msg_type: str, raw: str,
         now: datetime) -> None:
    """Insert a new message as ``new`` (call inside the webhook's transaction)."""
    db.execute(
        "INSERT INTO messages (key, openid, msg_type, received_at, raw) VALUES (?,?,?,?,?)",
        [key, openid, msg_type, clock.iso(now), raw],
    )


def finish(db: Database, key: str, reply: str, ticket_number: str | None) -> None:
    db.execute(
        "UPDATE messages SET status = 'handled', reply = ?, ticket_number = ? WHERE key = ?",
        [reply, ticket_number, key],
    )


def keep_failed(db: Database, key: str, openid: str, msg_type: str, raw: str,
                now: datetime, error: str, reply: str) -> None:
    """After a handler crash: keep the message as ``failed`` with the error and the apology."""
    db.execute(
        "INSERT INTO messages (key, openid, msg_type, received_at, raw, status, error, reply)"
        " VALUES (?,?,?,?,?,'failed',?,?) ON CONFLICT(key) DO NOTHING",
        [key, openid, msg_type, clock.iso(now), raw, error[:2000], reply],
    )
