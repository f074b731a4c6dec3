"""Deliver due outbox rows to WeChat: claimed atomically, retried with backoff.

Every notice is an outbox row first, so an API outage only delays it. Rows are
claimed with a conditional UPDATE (two senders never send the same row); a
claimed row's ``next_attempt_at`` is its lease, so a row left in 'sending' by
a crash goes back to 'pending' when the lease runs out. Citizens' texts obey
WeChat's customer-service window (5 messages within 48 h of the citizen's last
message); outside it a template goes instead. See docs/outbound.md.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database
from wechatpy import WeChatClient

from bot.config import Config
from bot.wechat_client import SendError, make_client, send_template, send_text
from storage import clock

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12  # 30 s, 1, 2, 4 … min, capped at 6 h: about 20 h in all
FIRST_BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 6 * 3600
LEASE = timedelta(minutes=5)  # a row 'sending' longer than this was interrupted
WINDOW = timedelta(hours=48)
WINDOW_MESSAGES = 5
FALLBACK_NOTE = "sent as template: "
NO_TEMPLATE = "48-hour window closed and no template configured"
NOTICE_FIRST_CHARS = 200
NOTICE_REMARK = "如需补充或查询进度，请在公众号内回复。"


def deliver_due(
    db: Database,
    cfg: Config,
    client: WeChatClient | None = None,
    now: datetime | None = None,
    limit: int = 50,
) -> dict[str, int]:
    """Send up to ``limit`` due rows; counts of sent, retried, failed and released rows."""
    now = now or clock.now()
    counts = {"sent": 0, "retried": 0, "failed": 0, "released": release_stuck(db, now)}
    ids = due_ids(db, now, limit)
    if not ids:
        return counts
    own_client = client is None
    client = client or make_client(cfg, db)
    try:
        for row_id in ids:
            row = claim(db, row_id, now)
            if row is not None:
                counts[deliver_row(db, cfg, client, row, now)] += 1
    finally:
        if own_client:
            client.close()
    return counts


def due_ids(db: Database, now: datetime, limit: int) -> list[int]:
    """Ids of pending rows whose time has come, oldest first."""
    rows = db.execute(
        "SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?"
        " ORDER BY next_attempt_at, id LIMIT ?",
        [clock.iso(now), limit],
    ).fetchall()
    return [row[0] for row in rows]


def claim(db: Database, row_id: int, now: datetime) -> dict[str, Any] | None:
    """Take one row for this sender, or None if another sender was first."""
    cursor = db.execute(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?"
        " WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?",
        [clock.iso(now + LEASE), row_id, clock.iso(now)],
    )
    if cursor.rowcount != 1:
        return None
    return dict(db["outbox"].get(row_id))


def release_stuck(db: Database, now: datetime) -> int:
    """Rows whose lease ran out (a sender died mid-send) go back to pending."""
    stamp = clock.iso(now)
    db.execute(
        "UPDATE outbox SET status = 'failed', last_error = ? WHERE status = 'sending'"
        " AND next_attempt_at <= ? AND attempts >= ?",
        [f"gave up after {MAX_ATTEMPTS} attempts: interrupted while sending", stamp,
         MAX_ATTEMPTS],
    )
    released = db.execute(
        "UPDATE outbox SET status = 'pending', last_error = 'interrupted while sending'"
        " WHERE status = 'sending' AND next_attempt_at <= ?",
        [stamp],
    ).rowcount
    if released:
        log.warning("outbox: %d row(s) interrupted while sending are pending again", released)
    return released


def deliver_row(
    db: Database, cfg: Config, client: WeChatClient, row: dict[str, Any], now: datetime
) -> str:
    """Send one claimed row and record the outcome: 'sent', 'retried' or 'failed'."""
    try:
        note = _send(db, cfg, client, row, now)
    except SendError as error:
        return _after_error(db, row, error, now)
    except (ValueError, KeyError, TypeError) as error:
        return _mark_failed(db, row, f"unreadable payload: {error!r}")
    except Exception as error:  # a bug must not stop the other rows; the row is retried
        log.exception("outbox %s: unexpected error (ticket %s)", row["id"], row["ticket_number"])
        unexpected = SendError(f"internal error: {type(error).__name__}", retryable=True)
        return _after_error(db, row, unexpected, now)
    _mark_sent(db, row, now, note)
    return "sent"


def _send(
    db: Database, cfg: Config, client: WeChatClient, row: dict[str, Any], now: datetime
) -> str | None:
    """Send the row's message; returns a note when a template stood in for a text."""
    payload = json.loads(row["payload"])
    if row["kind"] == "template":
        _send_template_payload(client, row["recipient"], payload)
        return None
    if row["kind"] != "text":
        raise SendError(f"unknown outbox kind {row['kind']!r}", retryable=False)
    closed = window_closed(db, row["recipient"], now)
    if closed is None:
        try:
            send_text(client, row["recipient"], payload["text"])
            return None
        except SendError as error:
            if not error.window_closed:
                raise
            closed = error.reason
    return _send_fallback(cfg, client, row, payload["text"], closed, now)


def _send_template_payload(client: WeChatClient, openid: str, payload: dict[str, Any]) -> None:
    send_template(client, openid, payload["template_id"], payload["data"], payload.get("url", ""))


def _send_fallback(
    cfg: Config, client: WeChatClient, row: dict[str, Any], text: str, reason: str,
    now: datetime,
) -> str:
    template = fallback_template(cfg, row, text, now)
    if template is None:
        raise SendError(NO_TEMPLATE, retryable=False)
    _send_template_payload(client, row["recipient"], template)
    return FALLBACK_NOTE + reason


def window_closed(db: Database, openid: str, now: datetime) -> str | None:
    """Why a customer-service message cannot go to ``openid`` now, or None if it can."""
    last = db.execute(
        "SELECT max(received_at) FROM messages WHERE openid = ?", [openid]
    ).fetchone()[0]
    if last is None or clock.parse(last) < now - WINDOW:
        return "no message from the citizen within 48 hours"
    used = db.execute(
        "SELECT count(*) FROM outbox WHERE recipient = ? AND kind = 'text' AND status = 'sent'"
        " AND sent_at >= ? AND (last_error IS NULL OR last_error NOT LIKE ?)",
        [openid, clock.iso(clock.parse(last)), FALLBACK_NOTE + "%"],
    ).fetchone()[0]
    if used >= WINDOW_MESSAGES:
        return f"{WINDOW_MESSAGES} customer-service messages used since the citizen's last message"
    return None


def fallback_template(
    cfg: Config, row: dict[str, Any], text: str, now: datetime
) -> dict[str, Any] | None:
    """The row's own fallback, else the generic notice template, else None."""
    if row.get("fallback"):
        return json.loads(row["fallback"])
    template_id = cfg["wechat.template_notice"]
    if not template_id:
        return None
    return {"template_id": template_id, "data": notice_data(text, row["ticket_number"], now),
            "url": ""}


def notice_data(text: str, ticket_number: str | None, now: datetime) -> dict[str, Any]:
    """Fields of the generic notice template: first, keyword1 (ticket), keyword2, remark."""
    first = text if len(text) <= NOTICE_FIRST_CHARS else text[: NOTICE_FIRST_CHARS - 1] + "…"
    return {
        "first": {"value": first},
        "keyword1": {"value": ticket_number or "—"},
        "keyword2": {"value": now.strftime("%Y-%m-%d %H:%M")},
        "remark": {"value": NOTICE_REMARK},
    }


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` tries: 30 s doubling, capped at 6 h."""
    seconds = FIRST_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, MAX_BACKOFF_SECONDS))


def _after_error(db: Database, row: dict[str, Any], error: SendError, now: datetime) -> str:
    if not error.retryable:
        return _mark_failed(db, row, error.reason)
    if row["attempts"] >= MAX_ATTEMPTS:
        return _mark_failed(db, row, f"gave up after {row['attempts']} attempts: {error.reason}")
    retry_at = now + backoff(row["attempts"])
    db.execute(
        "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?"
        " WHERE id = ? AND status = 'sending'",
        [clock.iso(retry_at), error.reason, row["id"]],
    )
    log.warning("outbox %s: %s; retry %d at %s (ticket %s)", row["id"], error.reason,
                row["attempts"] + 1, clock.iso(retry_at), row["ticket_number"])
    return "retried"


def _mark_failed(db: Database, row: dict[str, Any], reason: str) -> str:
    db.execute(
        "UPDATE outbox SET status = 'failed', last_error = ? WHERE id = ? AND status = 'sending'",
        [reason, row["id"]],
    )
    log.error("outbox %s: failed for good: %s (ticket %s, %s)", row["id"], reason,
              row["ticket_number"], row["audience"])
    return "failed"


def _mark_sent(db: Database, row: dict[str, Any], now: datetime, note: str | None) -> None:
    db.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?, last_error = COALESCE(?, last_error)"
        " WHERE id = ? AND status = 'sending'",
        [clock.iso(now), note, row["id"]],
    )
    how = "as template" if note else row["kind"]
    log.info("outbox %s: sent %s to %s (ticket %s)", row["id"], how, row["audience"],
             row["ticket_number"])
