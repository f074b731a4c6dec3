"""Conversation state per citizen (the handler's memory between messages)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage import clock
from storage.db import read_rows


def load(db: Database, openid: str) -> dict[str, Any] | None:
    rows = read_rows(db, "SELECT * FROM conversations WHERE openid = ?", [openid])
    if not rows:
        return None
    row = rows[0]
    row["data"] = json.loads(row["data"])
    return row


def touch(db: Database, openid: str, state: str, data: dict[str, Any], now: datetime) -> None:
    """Save the next state; ``last_message_at`` opens the 48-hour service window."""
    stamp = clock.iso(now)
    db.execute(
        "INSERT INTO conversations (openid, state, data, updated_at, last_message_at)"
        " VALUES (?,?,?,?,?) ON CONFLICT(openid) DO UPDATE SET state = excluded.state,"
        " data = excluded.data, updated_at = excluded.updated_at,"
        " last_message_at = excluded.last_message_at",
        [openid, str(state), json.dumps(data, ensure_ascii=False), stamp, stamp],
    )


def expire_idle(db: Database, before: datetime) -> int:
    """Reset conversations idle since ``before`` (the sweep calls this)."""
    cursor = db.execute(
        "UPDATE conversations SET state = 'idle', data = '{}'"
        " WHERE state != 'idle' AND updated_at < ?",
        [clock.iso(before)],
    )
    return cursor.rowcount
