"""Run a digest exactly once per period: claim, build, keep, queue for the leaders.

The digest is built first (reads only, so the write lock is not held while
the figures are counted); then one BEGIN IMMEDIATE transaction INSERTs the
``job_runs`` row keyed ``digest:<kind>:<first day>``, keeps the digest and
queues the messages: either all of it happens once, or none of it (a crash
rolls the claim back, so the next tick runs it). A run that loses the claim
drops what it built. Several workers or a
restart cannot send a period twice; the outbox's ``dedupe_key`` is a second
guard. Messages go through the outbox, so a WeChat outage delays them only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from bot.digest import archive, render
from bot.digest.build import build
from bot.digest.periods import Period, latest_due
from storage import clock, outbox
from storage.db import write_transaction

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What one attempt did: sent now, or found the period already done."""

    period: Period
    sent: bool
    markdown: str
    recipients: int = 0
    done_at: str | None = None


def claim(db: Database, key: str, now: datetime) -> bool:
    """Take the period's ``job_runs`` row; False if some run already has it."""
    cursor = db.execute("INSERT INTO job_runs (key, started_at) VALUES (?, ?)"
                        " ON CONFLICT(key) DO NOTHING", [key, clock.iso(now)])
    return cursor.rowcount == 1


def run_digest(db: Database, config: dict[str, Any], period: Period,
               now: datetime) -> RunResult:
    """Build, keep and queue the period's digest unless it was already done."""
    if _done(db, period):
        return _already_done(db, period)
    digest = build(db, config, period, now)  # read-only: outside the write lock
    text = render.markdown(digest)
    with write_transaction(db):
        if not claim(db, period.job_key, now):
            return _already_done(db, period)
        archive.save(db, digest, text)
        recipients = queue_messages(db, config, digest)
        result = {"slug": period.slug, "recipients": recipients,
                  "new": digest["new"]["total"]}
        db.execute("UPDATE job_runs SET finished_at = ?, result = ? WHERE key = ?",
                   [clock.iso(now), json.dumps(result), period.job_key])
    archive.write_file(config["storage.path"], period.slug, text)
    log.info("digest %s queued for %d leader(s)", period.slug, recipients)
    return RunResult(period, True, text, recipients, clock.iso(now))


def _done(db: Database, period: Period) -> bool:
    return db.execute("SELECT 1 FROM job_runs WHERE key = ?", [period.job_key]).fetchone() \
        is not None


def _already_done(db: Database, period: Period) -> RunResult:
    row = db.execute("SELECT finished_at, result FROM job_runs WHERE key = ?",
                     [period.job_key]).fetchone()
    kept = archive.get(db, period.slug)
    recipients = json.loads(row[1]).get("recipients", 0) if row and row[1] else 0
    return RunResult(period, False, kept["markdown"] if kept else "", recipients,
                     row[0] if row else None)


def digest_url(config: dict[str, Any], slug: str) -> str:
    """Link to the full digest in the console, or '' without ``server.public_url``."""
    base = config.get("server.public_url", "").rstrip("/")
    return f"{base}/console/digests/{slug}" if base else ""


def queue_messages(db: Database, config: dict[str, Any], digest: dict[str, Any]) -> int:
    """One message per leading-group member: template when configured, else text."""
    slug = digest["period"]["slug"]
    url = digest_url(config, slug)
    template_id = config.get("wechat.template_digest", "")
    openids = list(dict.fromkeys(config.get("leading_group.openids", [])))
    if not openids:
        log.warning("digest %s: leading_group.openids is empty; kept, sent to nobody", slug)
    for openid in openids:
        key = f"digest:{slug}:{openid}"
        if template_id:
            outbox.enqueue_template(db, openid, template_id, template_data(digest), url=url,
                                    audience="leader", dedupe_key=key)
        else:
            outbox.enqueue_text(db, openid, text_message(digest, url), audience="leader",
                                dedupe_key=key)
    return len(openids)


def template_data(digest: dict[str, Any]) -> dict[str, Any]:
    """Fields of the digest template: first, keyword1 (period), keyword2 (figures), remark."""
    return {"first": {"value": render.title(digest)},
            "keyword1": {"value": digest["period"]["label"]},
            "keyword2": {"value": render.headline(digest)},
            "remark": {"value": "点击查看简报全文"}}


def text_message(digest: dict[str, Any], url: str) -> str:
    where = f"全文：{url}" if url else "全文请登录整治办工作台“简报”查看。"
    return f"【{render.title(digest)}】\n{render.headline(digest)}。\n{where}"


def run_due(db: Database, config: dict[str, Any], kind: str,
            now: datetime) -> RunResult | None:
    """The catch-up: run the latest period that should have gone out, if it has not."""
    cron = config.get(f"scheduler.digest_{kind}", "")
    timezone = config.get("scheduler.timezone", "Asia/Shanghai")
    period = latest_due(kind, cron, timezone, now)
    if period is None:
        return None
    return None if _done(db, period) else run_digest(db, config, period, now)
