"""Outbound notices: every message to WeChat is a row here first.

The sender (bot/outbox_sender.py) delivers rows; an API outage only delays
them. ``dedupe_key`` makes queuing idempotent (sweeps and retries may ask
for the same notice twice).
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from storage import clock


def enqueue_text(
    db: Database,
    recipient: str,
    text: str,
    *,
    audience: str = "citizen",
    ticket_number: str | None = None,
    dedupe_key: str | None = None,
    fallback: dict[str, Any] | None = None,
) -> int | None:
    """Queue a customer-service text; returns the row id (None if already queued)."""
    return _enqueue(db, recipient, audience, "text", {"text": text}, ticket_number,
                    dedupe_key, fallback)


def enqueue_template(
    db: Database,
    recipient: str,
    template_id: str,
    data: dict[str, Any],
    *,
    url: str = "",
    audience: str = "leader",
    ticket_number: str | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Queue a template message (units, leaders, citizens past the 48 h window)."""
    payload = {"template_id": template_id, "data": data, "url": url}
    return _enqueue(db, recipient, audience, "template", payload, ticket_number, dedupe_key, None)


def _enqueue(
    db: Database,
    recipient: str,
    audience: str,
    kind: str,
    payload: dict[str, Any],
    ticket_number: str | None,
    dedupe_key: str | None,
    fallback: dict[str, Any] | None,
) -> int | None:
    stamp = clock.iso(clock.now())
    cursor = db.execute(
        "INSERT INTO outbox (dedupe_key, recipient, audience, kind, payload, fallback,"
        " ticket_number, next_attempt_at, created_at) VALUES (?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(dedupe_key) DO NOTHING",
        [
            dedupe_key, recipient, audience, kind,
            json.dumps(payload, ensure_ascii=False),
            json.dumps(fallback, ensure_ascii=False) if fallback else None,
            ticket_number, stamp, stamp,
        ],
    )
    return cursor.lastrowid if cursor.rowcount else None
