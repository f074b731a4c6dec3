"""Immediate alerts to the leaders, between digests: S6 referrals and long-overdue cases.

``send_alerts(db, config, now)`` is a plain job (run every minute). Items:
a complaint referred to 区纪委 (kind ``S6`` or the ``discipline`` flag), or an
open complaint overdue for at least
``deadlines.escalate_to_leaders_after_working_days`` working days (see
``storage.stats.overdue_tickets``). Each ticket alerts once: its
``alerted_at`` is set (a re-dispatch clears it, so the new unit's delay can
alert again). At most one message per recipient per
``leading_group.alert_batch_minutes``: the first item goes out at once, the
ones arriving inside the window wait for the next batch. The batch is a
``job_runs`` row ``alerts:<time>`` taken in the same BEGIN IMMEDIATE
transaction as the marks and the outbox rows, so several workers send it once.
An S6 item shows only its number and time: never the text or the complainant.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils import Database

from storage import clock, outbox, stats
from storage.db import write_transaction

log = logging.getLogger(__name__)
MAX_LINES = 20


def recipients(config: dict[str, Any]) -> list[str]:
    """``leading_group.alert_openids``, else the digest recipients."""
    chosen = config.get("leading_group.alert_openids") or config.get("leading_group.openids", [])
    return list(dict.fromkeys(chosen))


def referral_items(db: Database) -> list[dict[str, Any]]:
    """S6 referrals not alerted yet: number and time only."""
    rows = db.execute(
        "SELECT id, number, created_at FROM tickets WHERE alerted_at IS NULL AND kind != 'NONE'"
        " AND (kind = 'S6' OR EXISTS (SELECT 1 FROM json_each(tickets.flags)"
        " WHERE value = 'discipline')) ORDER BY id").fetchall()
    return [{"id": row[0], "number": row[1], "kind": "referral", "at": row[2]} for row in rows]


def overdue_items(db: Database, config: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Open complaints overdue for the configured working days, not alerted yet."""
    limit = config.get("deadlines.escalate_to_leaders_after_working_days", 3)
    over = [item for item in stats.overdue_tickets(db, now)
            if not item["discipline"] and item["deadline"] and item["working_days_over"] >= limit]
    if not over:
        return []
    marks = ",".join("?" * len(over))
    pending = {row[0]: row[1] for row in db.execute(
        f"SELECT number, id FROM tickets WHERE alerted_at IS NULL AND number IN ({marks})",
        [item["number"] for item in over])}
    return [{"id": pending[item["number"]], "number": item["number"], "kind": "overdue",
             "unit": item["unit"], "working_days_over": item["working_days_over"]}
            for item in over if item["number"] in pending]


def pending_items(db: Database, config: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    return referral_items(db) + overdue_items(db, config, now)


def _line(item: dict[str, Any]) -> str:
    if item["kind"] == "referral":
        return f"· {item['number']} 涉嫌吃拿卡要线索，已移送区纪委（{item['at'][:16]}）"
    return (f"· {item['number']} {item['unit'] or '未定单位'} 逾期"
            f"{item['working_days_over']}个工作日")


def message(items: list[dict[str, Any]]) -> str:
    """The batch text: counts first, then one line per item (at most MAX_LINES)."""
    referrals = sum(1 for item in items if item["kind"] == "referral")
    head = (f"【领导小组提醒】新增纪委移送线索{referrals}件，"
            f"严重逾期工单{len(items) - referrals}件：")
    lines = [_line(item) for item in items[:MAX_LINES]]
    if len(items) > MAX_LINES:
        lines.append(f"……另有{len(items) - MAX_LINES}件，请登录工作台查看")
    return "\n".join([head, *lines])


def _batch_open(db: Database, config: dict[str, Any], now: datetime) -> bool:
    """True when the last batch is at least ``alert_batch_minutes`` old (or none yet)."""
    last = db.execute("SELECT max(started_at) FROM job_runs WHERE key LIKE 'alerts:%'"
                      ).fetchone()[0]
    window = timedelta(minutes=config.get("leading_group.alert_batch_minutes", 10))
    return last is None or clock.parse(last) + window <= now


def send_alerts(db: Database, config: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Queue one batch of new items for the leaders if the window allows; marks them."""
    openids = recipients(config)
    if not openids:
        return {"sent": False, "reason": "no recipients", "items": 0}
    with write_transaction(db):
        if not _batch_open(db, config, now):
            return {"sent": False, "reason": "batch window", "items": 0}
        items = pending_items(db, config, now)
        if not items:
            return {"sent": False, "reason": "nothing new", "items": 0}
        key = f"alerts:{clock.iso(now)}"
        db.execute("INSERT INTO job_runs (key, started_at, finished_at, result)"
                   " VALUES (?, ?, ?, ?)", [key, clock.iso(now), clock.iso(now),
                                            json.dumps({"items": len(items)})])
        ids = [item["id"] for item in items]
        db.execute(f"UPDATE tickets SET alerted_at = ? WHERE id IN ({','.join('?' * len(ids))})",
                   [clock.iso(now), *ids])
        _queue(db, config, key, items, openids)
    log.info("leader alert: %d item(s) to %d recipient(s)", len(items), len(openids))
    return {"sent": True, "items": len(items), "numbers": [i["number"] for i in items]}


def _queue(db: Database, config: dict[str, Any], key: str, items: list[dict[str, Any]],
           openids: list[str]) -> None:
    text = message(items)
    template_id = config.get("wechat.template_alert", "")
    base = config.get("server.public_url", "").rstrip("/")
    url = f"{base}/console/" if base else ""
    for openid in openids:
        dedupe = f"{key}:{openid}"
        if template_id:
            data = {"first": {"value": text.splitlines()[0]},
                    "keyword1": {"value": "、".join(i["number"] for i in items[:MAX_LINES])},
                    "keyword2": {"value": key.removeprefix("alerts:")[:16]},
                    "remark": {"value": "详情请登录整治办工作台查看"}}
            outbox.enqueue_template(db, openid, template_id, data, url=url,
                                    audience="leader", dedupe_key=dedupe)
        else:
            outbox.enqueue_text(db, openid, text, audience="leader", dedupe_key=dedupe)
