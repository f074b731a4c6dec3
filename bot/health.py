"""GET /healthz: 200 and a small JSON status when the database answers.

Besides reachability it shows what an operator should look at: notices still
waiting in the outbox, messages whose handler failed (kept, apologised for), and
in surge mode the messages waiting for the drain (queued in the inbox or still in an
intake journal) and whether the drain is alive.
"""

from __future__ import annotations

import sqlite3

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue

from bot.drain import HEARTBEAT_SECONDS, heartbeat_age
from storage import intake
from storage.db import get_db

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz() -> ResponseReturnValue:
    config = current_app.config["BOT"]
    try:
        db = get_db(config["storage.path"])
        db.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()
        pending = db.execute(
            "SELECT count(*) FROM outbox WHERE status IN ('pending','sending')"
        ).fetchone()[0]
        failed = db.execute("SELECT count(*) FROM messages WHERE status = 'failed'").fetchone()[0]
        queued = intake.waiting_count(db, config["storage.path"])
    except sqlite3.Error as error:
        return jsonify(status="error", database="unreachable", error=str(error)), 503
    return jsonify(status="ok", database="ok", mode=config.message_mode, outbox_pending=pending,
                   messages_failed=failed, messages_queued=queued, drain=_drain_state(config))


def _drain_state(config) -> str:  # noqa: ANN001 - bot.config.Config
    """``off`` (surge mode off), ``running``, or ``not running`` (no recent heartbeat)."""
    if config["surge.mode"] == "off":
        return "off"
    age = heartbeat_age(config)
    return "running" if age is not None and age < 3 * HEARTBEAT_SECONDS else "not running"
