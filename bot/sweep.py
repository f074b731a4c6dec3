"""The deadline sweep: overdue marks, reminders, escalations, auto-close, idle chats.

``sweep(db, config, now)`` is a plain function: the scheduler runs it every
``scheduler.sweep_minutes`` and ``python -m bot sweep --now …`` runs it once.
Each step changes a ticket only through a conditional UPDATE that a second run
no longer matches, so running it twice (or in two processes) does nothing more.
Leaders' alerts (``alerted_at``) belong to the digest; this only sets
``escalated_at`` for it to read.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from handlers.casework import SYSTEM, act, notify_office, notify_unit
from storage import clock, conversations, tickets, workdays
from storage.db import write_transaction
from storage.lifecycle import IN_HAND, TransitionError, is_discipline, is_overdue

log = logging.getLogger(__name__)


def sweep(db: Database, config: dict[str, Any], now: datetime | None = None) -> dict[str, int]:
    """Run every step once; the counts of what changed.

    Also warns (once a day) when the holiday calendar lacks a year deadlines will reach.
    """
    now = now or clock.now()
    workdays.warn_if_uncovered(now.date())  # once per process and day
    return {
        "overdue": mark_overdue(db, now),
        "escalated": escalate(db, config, now),
        "reminded": remind(db, config, now),
        "closed": auto_close(db, config, now),
        "conversations_expired": expire_conversations(db, config, now),
    }


def _in_hand(db: Database, condition: str = "1 = 1") -> list[dict[str, Any]]:
    """Tickets a unit is working on (its clock running), never a discipline referral."""
    marks = ", ".join("?" for _ in IN_HAND)
    rows = db.query(f"SELECT * FROM tickets WHERE status IN ({marks}) AND {condition}",
                    sorted(IN_HAND))
    return [ticket for ticket in map(tickets.decode, rows) if not is_discipline(ticket)]


def _late_deadline(ticket: dict[str, Any], now: datetime) -> str:
    stamp = clock.iso(now)
    if ticket["status"] == "dispatched" and (ticket["sign_due_at"] or stamp) < stamp:
        return f"超过签收期限（{ticket['sign_due_at'][:16]}）未签收"
    return f"超过答复期限（{(ticket['due_at'] or '')[:16]}）未答复"


def mark_overdue(db: Database, now: datetime) -> int:
    """Set ``overdue`` on tickets past a deadline, with an event saying which one."""
    count = 0
    for ticket in _in_hand(db, "overdue = 0"):
        if not is_overdue(ticket, now):
            continue
        with write_transaction(db):
            changed = db.execute("UPDATE tickets SET overdue = 1 WHERE id = ? AND overdue = 0",
                                 [ticket["id"]]).rowcount
            if changed:
                tickets.add_event(db, ticket["id"], "system", "system", "overdue",
                                  ticket["status"], ticket["status"],
                                  _late_deadline(ticket, now), internal=True, now=now)
        count += changed
    return count


def escalate(db: Database, config: dict[str, Any], now: datetime) -> int:
    """Overdue tickets go to the office once per deadline (``escalated_at``)."""
    count = 0
    for ticket in _in_hand(db, "overdue = 1 AND escalated_at IS NULL"):
        with write_transaction(db):
            changed = db.execute(
                "UPDATE tickets SET escalated_at = ? WHERE id = ? AND escalated_at IS NULL",
                [clock.iso(now), ticket["id"]]).rowcount
            if not changed:
                continue
            note = f"{ticket['unit']}{_late_deadline(ticket, now)}，升级整治办督办"
            tickets.add_event(db, ticket["id"], "system", "system", "escalate",
                              ticket["status"], ticket["status"], note, internal=True, now=now)
            notify_office(db, config, ticket, f"超期工单 {ticket['number']}：{note}", "escalate")
        count += 1
    return count


def _current_deadline(ticket: dict[str, Any]) -> tuple[str | None, str]:
    if ticket["status"] == "dispatched" and ticket["sign_due_at"]:
        return ticket["sign_due_at"], "签收"
    return ticket["due_at"], "答复"


def remind(db: Database, config: dict[str, Any], now: datetime) -> int:
    """One reminder to the unit's liaisons per deadline, ``remind_hours_before`` it."""
    hours = float(config.get("deadlines.remind_hours_before", 4))
    if hours <= 0:
        return 0
    count = 0
    for ticket in _in_hand(db, "overdue = 0"):
        deadline, step = _current_deadline(ticket)
        if not deadline or is_overdue(ticket, now):
            continue
        window_opens = clock.iso(clock.parse(deadline) - timedelta(hours=hours))
        if clock.iso(now) < window_opens:
            continue
        if ticket["reminded_at"] and ticket["reminded_at"] >= window_opens:
            continue  # already reminded of this deadline
        count += _send_reminder(db, config, ticket, deadline, step, window_opens, now)
    return count


def _send_reminder(db: Database, config: dict[str, Any], ticket: dict[str, Any], deadline: str,
                   step: str, window_opens: str, now: datetime) -> int:
    with write_transaction(db):
        changed = db.execute(
            "UPDATE tickets SET reminded_at = ? WHERE id = ?"
            " AND (reminded_at IS NULL OR reminded_at < ?)",
            [clock.iso(now), ticket["id"], window_opens]).rowcount
        if changed:
            headline = (f"工单 {ticket['number']} 将于 {deadline[:16].replace('T', ' ')} "
                        f"到{step}期限，请及时{step}")
            notify_unit(db, config, ticket, f"remind-{step}-{deadline}", headline)
            tickets.add_event(db, ticket["id"], "system", "system", "remind", ticket["status"],
                              ticket["status"], f"提醒{step}：{headline}", internal=True,
                              now=now)
    return changed


def auto_close(db: Database, config: dict[str, Any], now: datetime) -> int:
    """Answered tickets the citizen never rated close after ``auto_close_days`` days."""
    days = int(config.get("deadlines.auto_close_days", 7))
    cutoff = clock.iso(now - timedelta(days=days))
    rows = db.query("SELECT number FROM tickets WHERE status = 'answered' AND rating IS NULL"
                    " AND answered_at <= ?", [cutoff])
    count = 0
    for row in list(rows):
        try:
            act(db, config, row["number"], "close", SYSTEM,
                {"note": f"答复后{days}天未评价，自动办结"}, now=now)
        except TransitionError as error:  # rated or closed meanwhile by someone else
            log.info("auto-close of %s skipped: %s", row["number"], error.reason)
            continue
        count += 1
    return count


def expire_conversations(db: Database, config: dict[str, Any], now: datetime) -> int:
    """Reset conversations idle for longer than ``conversation.timeout_minutes``."""
    minutes = int(config.get("conversation.timeout_minutes", 30))
    return conversations.expire_idle(db, now - timedelta(minutes=minutes))


def scheduled(settings: dict[str, Any]) -> None:
    """The scheduler's entry point: open this thread's database and sweep now."""
    from storage.db import get_db

    counts = sweep(get_db(settings["storage.path"]), settings)
    if any(counts.values()):
        log.info("sweep: %s", counts)
