"""Acknowledge first in a surge (bot/surge.py), handle later (bot/drain.py): nothing lost,
nothing doubled, nobody's messages out of order."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from bot import create_app
from bot.config import ConfigError
from bot.drain import ArrivalRate, drain, heartbeat_path
from bot.surge import SurgeGauge
from bot.webhook import handle_queued, recover_unhandled
from handlers.texts import say
from storage import clock, inbox, intake
from storage.db import get_db, write_transaction
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


def _queue_in_inbox(db, key: str, openid: str, text: str = COMPLAINT,  # noqa: ANN001
                    age_seconds: int = 0) -> None:
    """A message kept as queued in the inbox (as the drain takes it from a journal)."""
    with write_transaction(db):
        inbox.keep_queued(db, key, openid, "text",
                          build_xml(openid, "text", {"Content": text, "MsgId": key}),
                          clock.now() - timedelta(seconds=age_seconds), say("queued"))


def test_a_queued_complaint_is_acknowledged_then_handled_with_the_reply_sent(tmp_path):
    config, app, db, chat = _setup(tmp_path, "always")
    path = config["storage.path"]
    fields = {"Content": COMPLAINT, "MsgId": "70001"}
    reply = chat.message("text", fields, openid="oBusy0001")
    assert reply == say("queued")
    # kept by one append to the worker's journal; not yet in the inbox, no ticket
    assert intake.unread_count(db, path) == 1 and inbox.find(db, "70001") is None
    # WeChat retries before the drain got to it: the same acknowledgement ...
    assert chat.message("text", fields, openid="oBusy0001") == say("queued")
    assert intake.take(db, path, settle_seconds=0) == 1  # ... and still one message
    assert inbox.find(db, "70001")["status"] == "queued" and _tickets(db) == 0
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
    assert intake.take(db, path, settle_seconds=0) == 0
    assert _outbox(db, "oBusy0001") == sent and _tickets(db) == 1


def test_a_retry_after_the_surge_finds_its_message_still_in_the_journal(tmp_path):
    config, app, db, chat = _setup(tmp_path, "auto")  # far below surge.per_second
    path = config["storage.path"]
    fields = {"Content": COMPLAINT, "MsgId": "70010"}
    intake.journal_for(path).append("70010", "oBusy0010", "text", clock.iso(clock.now()),
                                    build_xml("oBusy0010", "text", fields), say("queued"))
    # answered in full, the retry would open a second ticket when the drain takes the first
    assert chat.message("text", fields, openid="oBusy0010") == say("queued")
    assert inbox.find(db, "70010")["status"] == "queued" and intake.unread_count(db, path) == 0
    with app.app_context():
        assert handle_queued(db, config) == 1
    assert _tickets(db) == 1


def test_a_citizen_with_a_queued_message_is_queued_behind_it(tmp_path):
    config, app, db, chat = _setup(tmp_path, "auto")  # far below surge.per_second
    _queue_in_inbox(db, "70100", "oBusy0002")
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


def test_a_citizen_whose_message_is_still_in_a_journal_is_queued_behind_it(tmp_path):
    config, app, db, chat = _setup(tmp_path, "auto")
    path = config["storage.path"]
    intake.journal_for(path).append(
        "70110", "oBusy0011", "text", clock.iso(clock.now()),
        build_xml("oBusy0011", "text", {"Content": COMPLAINT, "MsgId": "70110"}), say("queued"))
    assert chat.message("text", {"Content": "昨天上午", "MsgId": "70111"},
                        openid="oBusy0011") == say("queued")
    order = [r["key"] for r in db.query(
        "SELECT key FROM messages WHERE openid = 'oBusy0011' ORDER BY rowid")]
    assert order == ["70110", "70111"]


def test_off_mode_never_queues(tmp_path):
    config, app, db, chat = _setup(tmp_path, "off")
    _queue_in_inbox(db, "70200", "oBusy0003")
    reply = chat.message("text", {"Content": COMPLAINT, "MsgId": "70201"}, openid="oBusy0003")
    assert NUMBER.search(reply)


def test_recovery_takes_over_a_queue_the_drain_left(tmp_path, monkeypatch):
    config, app, db, chat = _setup(tmp_path, "always")
    monkeypatch.setattr(intake, "SETTLE_SECONDS", 0)  # the journal's line has settled
    for key, age in (("70300", 300), ("70301", 5)):
        _queue_in_inbox(db, key, "oBusy0004", age_seconds=age)
    chat.message("text", {"Content": COMPLAINT, "MsgId": "70302"}, openid="oBusy0005")
    with app.app_context():
        assert recover_unhandled(db, config) == 1  # only the one queued for minutes
    assert inbox.find(db, "70300")["status"] == "handled"
    assert inbox.find(db, "70301")["status"] == "queued"
    # with no drain running, it also took the journal in (handled later: just arrived)
    assert intake.unread_count(db, config["storage.path"]) == 0
    assert inbox.find(db, "70302")["status"] == "queued"


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


def test_the_drain_sees_a_rush_from_what_it_takes_in_over_the_last_second():
    tick = Clock()
    rate = ArrivalRate(monotonic=tick)
    assert rate.add(80) == 80.0
    tick.now += 0.5
    assert rate.add(80) == 160.0  # above surge.per_second (100): only trickle
    tick.now += 0.6
    assert rate.add(0) == 80.0  # the first pass has left the window
    tick.now += 1.0
    assert rate.add(5) == 5.0
