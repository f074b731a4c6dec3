"""Acknowledge first in a surge (bot/surge.py), handle later (bot/drain.py): nothing lost,
nothing doubled, nobody's messages out of order."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from bot import create_app
from bot.config import ConfigError
from bot.drain import drain, heartbeat_path
from bot.surge import SurgeGauge
from bot.webhook import handle_queued, recover_unhandled
from handlers.texts import say
from storage import clock, inbox
from storage.db import get_db
from tests.chat import Chat, build_xml
from tests.conftest import TOKEN, make_config

NUMBER = re.compile(r"GF\d{8}-\d{4}")
COMPLAINT = "区税务局办税大厅的人上班时间打游戏，叫了三遍都不理人"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_gauge_acknowledges_first_above_the_rate_and_holds_after_it_falls():
    tick = Clock()
    gauge = SurgeGauge("auto", per_second=3, hold_seconds=5, monotonic=tick)
    assert [gauge.arrive() for _ in range(3)] == [False, False, False]
    assert gauge.arrive() is True  # the fourth within one second
    tick.now += 2  # the rate has fallen (one message in the last second) ...
    assert gauge.arrive() is True  # ... but the surge holds for hold_seconds
    tick.now += 5
    assert gauge.arrive() is False
    assert SurgeGauge("off", 1, 5, tick).arrive() is False
    always = SurgeGauge("always", 1000, 0, tick)
    assert always.arrive() is True


def _setup(tmp_path, mode: str):  # noqa: ANN202
    config = make_config(tmp_path, surge=mode)
    app = create_app(config)
    return config, app, get_db(config["storage.path"]), Chat(app.test_client(), TOKEN)


def _outbox(db, openid: str) -> list[str]:  # noqa: ANN001
    rows = db.query("SELECT payload FROM outbox WHERE recipient = ? ORDER BY id", [openid])
    return [json.loads(r["payload"])["text"] for r in rows]


def _tickets(db) -> int:  # noqa: ANN001
    return db.execute("SELECT count(*) FROM tickets").fetchone()[0]


def test_a_queued_complaint_is_acknowledged_then_handled_with_the_reply_sent(tmp_path):
    config, app, db, chat = _setup(tmp_path, "always")
    fields = {"Content": COMPLAINT, "MsgId": "70001"}
    reply = chat.message("text", fields, openid="oBusy0001")
    assert reply == say("queued")
    assert inbox.find(db, "70001")["status"] == "queued" and _tickets(db) == 0
    # WeChat retries before the drain got to it: the same acknowledgement, no second row
    assert chat.message("text", fields, openid="oBusy0001") == say("queued")
    with app.app_context():
        assert handle_queued(db, config) == 1
        assert handle_queued(db, config) == 0
    kept = inbox.find(db, "70001")
    assert kept["status"] == "handled" and NUMBER.search(kept["ticket_number"])
    assert _tickets(db) == 1
    sent = _outbox(db, "oBusy0001")
    assert sent and kept["ticket_number"] in sent[0]  # the ticket number reaches the citizen
    # a late retry gets the acknowledgement it was first given, not the reply a second time
    assert chat.message("text", fields, openid="oBusy0001") == say("queued")
    assert _outbox(db, "oBusy0001") == sent and _tickets(db) == 1


def test_a_citizen_with_a_queued_message_is_queued_behind_it(tmp_path):
    config, app, db, chat = _setup(tmp_path, "auto")  # far below surge.per_second
    inbox.keep_queued(db, "70100", "oBusy0002", "text",
                      build_xml("oBusy0002", "text", {"Content": COMPLAINT, "MsgId": "70100"}),
                      clock.now(), say("queued"))
    later = chat.message("text", {"Content": "昨天上午", "MsgId": "70101"},
                         openid="oBusy0002")
    assert later == say("queued")  # not handled before the first one
    other = chat.message("text", {"Content": COMPLAINT, "MsgId": "70102"}, openid="oCalm0001")
    assert NUMBER.search(other)  # someone else is answered in full at once
    with app.app_context():
        assert handle_queued(db, config) == 2
    order = [r["key"] for r in db.query(
        "SELECT key FROM messages WHERE openid = 'oBusy0002' ORDER BY rowid")]
    assert order == ["70100", "70101"]
    assert all(inbox.find(db, k)["status"] == "handled" for k in order)
    # the second message answered the first complaint's question (when did it happen?)
    assert db.execute("SELECT incident_time FROM tickets WHERE openid = 'oBusy0002'"
                      ).fetchone()[0] == "昨天上午"


def test_off_mode_never_queues(tmp_path):
    config, app, db, chat = _setup(tmp_path, "off")
    inbox.keep_queued(db, "70200", "oBusy0003", "text",
                      build_xml("oBusy0003", "text", {"Content": COMPLAINT, "MsgId": "70200"}),
                      clock.now(), say("queued"))
    reply = chat.message("text", {"Content": COMPLAINT, "MsgId": "70201"}, openid="oBusy0003")
    assert NUMBER.search(reply)


def test_recovery_takes_over_a_queue_the_drain_left(tmp_path):
    config, app, db, chat = _setup(tmp_path, "always")
    for key, age in (("70300", 300), ("70301", 5)):
        inbox.keep_queued(db, key, "oBusy0004", "text",
                          build_xml("oBusy0004", "text", {"Content": COMPLAINT, "MsgId": key}),
                          clock.now() - timedelta(seconds=age), say("queued"))
    with app.app_context():
        assert recover_unhandled(db, config) == 1  # only the one queued for minutes
    assert inbox.find(db, "70300")["status"] == "handled"
    assert inbox.find(db, "70301")["status"] == "queued"


def test_drain_handles_every_queued_message_once(tmp_path):
    config, app, db, chat = _setup(tmp_path, "always")
    for n in range(25):
        reply = chat.message("text", {"Content": f"{COMPLAINT}，第{n}次", "MsgId": str(70400 + n)},
                             openid=f"oMany{n:04d}")
        assert reply == say("queued")
    assert drain(config, until_empty=True) == 25
    assert inbox.count_queued(db) == 0 and _tickets(db) == 25
    assert drain(config, until_empty=True) == 0


def test_unknown_surge_mode_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="surge.mode"):
        make_config(tmp_path, surge="sometimes")


def test_health_shows_the_queue_and_whether_the_drain_is_alive(tmp_path):
    config, app, db, chat = _setup(tmp_path, "always")
    chat.message("text", {"Content": COMPLAINT, "MsgId": "70500"}, openid="oBusy0005")
    health = app.test_client().get("/healthz").get_json()
    assert (health["messages_queued"], health["drain"]) == (1, "not running")
    heartbeat_path(config).touch()  # what the drain does every few seconds
    assert app.test_client().get("/healthz").get_json()["drain"] == "running"
    off_config, off_app, _db, _chat = _setup(tmp_path / "off", "off")
    assert off_app.test_client().get("/healthz").get_json()["drain"] == "off"
