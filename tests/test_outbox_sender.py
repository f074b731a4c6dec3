"""Outbox delivery against the fake WeChat API: retries, windows, fallbacks, races."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlite_utils import Database

from bot.outbox_sender import MAX_ATTEMPTS, NO_TEMPLATE, backoff, deliver_due
from storage import clock
from storage.db import connect
from storage.outbox import enqueue_template, enqueue_text
from tests.fakewechat_fixture import FakeWeChat, wechat_config

pytest_plugins = ["tests.fakewechat_fixture"]

CITIZEN = "o-citizen-1"
TICKET = "GF20261125-0007"


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = connect(tmp_path / "t.db")
    yield database
    database.conn.close()


@pytest.fixture
def now() -> datetime:
    """A fixed clock a little after the rows were queued."""
    return clock.now() + timedelta(seconds=1)


@pytest.fixture
def cfg(fake_wechat):
    return wechat_config(fake_wechat, timeout=0.5)


@pytest.fixture
def cfg_notice(fake_wechat):
    return wechat_config(fake_wechat, 'template_notice = "TPL-NOTICE"', timeout=0.5)


def citizen_wrote(db: Database, at: datetime, openid: str = CITIZEN) -> None:
    """A message from the citizen at ``at``: opens the 48 h window."""
    db.execute(
        "INSERT INTO messages (key, openid, msg_type, received_at, raw) VALUES (?,?,?,?,?)",
        [f"{openid}:{at.timestamp()}", openid, "text", clock.iso(at), "<xml/>"],
    )


def row(db: Database, row_id: int) -> dict:
    return dict(db["outbox"].get(row_id))


def texts(fake: FakeWeChat) -> list[str]:
    return [r["json"]["text"]["content"] for r in fake.delivered("custom")]


def test_text_is_delivered(db, cfg, fake_wechat, now):
    citizen_wrote(db, now - timedelta(hours=1))
    row_id = enqueue_text(db, CITIZEN, "您的诉求已受理", ticket_number=TICKET)
    assert deliver_due(db, cfg, now=now) == {"sent": 1, "retried": 0, "failed": 0, "released": 0}
    assert texts(fake_wechat) == ["您的诉求已受理"]
    assert fake_wechat.delivered()[0]["json"]["touser"] == CITIZEN
    sent = row(db, row_id)
    assert (sent["status"], sent["attempts"], sent["sent_at"]) == ("sent", 1, clock.iso(now))
    assert deliver_due(db, cfg, now=now + timedelta(hours=1))["sent"] == 0  # never twice


def test_template_row_is_delivered(db, cfg, fake_wechat, now):
    data = {"first": {"value": "新派单"}, "keyword1": {"value": TICKET}}
    row_id = enqueue_template(db, "o-liaison", "TPL-DISPATCH", data, url="https://x.org/t",
                              audience="unit", ticket_number=TICKET)
    assert deliver_due(db, cfg, now=now)["sent"] == 1
    [sent] = fake_wechat.delivered("template")
    assert sent["json"]["touser"] == "o-liaison"
    assert (sent["json"]["template_id"], sent["json"]["data"]) == ("TPL-DISPATCH", data)
    assert row(db, row_id)["status"] == "sent"


@pytest.mark.parametrize(("mode", "reason"), [("http_500", "HTTP 500"), ("timeout", "timeout"),
                                              ("busy", "errcode -1: system error")])
def test_outage_keeps_the_row_and_delivers_after_recovery(
    db, cfg, fake_wechat, now, mode, reason
):
    citizen_wrote(db, now - timedelta(hours=1))
    row_id = enqueue_text(db, CITIZEN, "进度通知", ticket_number=TICKET)
    fake_wechat.fail(mode, delay=3)
    assert deliver_due(db, cfg, now=now)["retried"] == 1
    waiting = row(db, row_id)
    assert (waiting["status"], waiting["attempts"], waiting["last_error"]) == (
        "pending", 1, reason)
    assert waiting["next_attempt_at"] == clock.iso(now + timedelta(seconds=30))
    assert deliver_due(db, cfg, now=now + timedelta(seconds=10))["retried"] == 0  # not yet due
    assert deliver_due(db, cfg, now=now + timedelta(seconds=30))["retried"] == 1
    assert row(db, row_id)["next_attempt_at"] == clock.iso(now + timedelta(seconds=90))
    fake_wechat.recover()
    assert deliver_due(db, cfg, now=now + timedelta(seconds=90))["sent"] == 1
    assert texts(fake_wechat) == ["进度通知"]
    assert row(db, row_id)["status"] == "sent"


def test_backoff_doubles_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(MAX_ATTEMPTS).total_seconds() == 6 * 3600
    total = sum(backoff(n).total_seconds() for n in range(1, MAX_ATTEMPTS))
    assert 12 * 3600 < total < 24 * 3600  # retries spread over most of a day


def test_retries_are_bounded(db, cfg, fake_wechat, now):
    row_id = enqueue_template(db, "o-leader", "TPL", {"first": {"value": "x"}})
    db.execute("UPDATE outbox SET attempts = ? WHERE id = ?", [MAX_ATTEMPTS - 1, row_id])
    fake_wechat.fail("http_500")
    assert deliver_due(db, cfg, now=now)["failed"] == 1
    failed = row(db, row_id)
    assert failed["status"] == "failed"
    assert failed["last_error"] == f"gave up after {MAX_ATTEMPTS} attempts: HTTP 500"


def test_unsubscribed_user_fails_for_good(db, cfg, fake_wechat, now):
    citizen_wrote(db, now - timedelta(hours=1))
    row_id = enqueue_text(db, CITIZEN, "通知", ticket_number=TICKET)
    fake_wechat.fail("unsubscribed")
    assert deliver_due(db, cfg, now=now)["failed"] == 1
    failed = row(db, row_id)
    assert failed["status"] == "failed"
    assert failed["last_error"].startswith("errcode 43004")
    assert deliver_due(db, cfg, now=now + timedelta(days=1))["sent"] == 0


def test_45015_falls_back_to_the_notice_template(db, cfg_notice, fake_wechat, now):
    citizen_wrote(db, now - timedelta(hours=1))
    row_id = enqueue_text(db, CITIZEN, "单位已答复，请评价", ticket_number=TICKET)
    fake_wechat.fail("window_closed", count=1)
    assert deliver_due(db, cfg_notice, now=now)["sent"] == 1
    assert [r["outcome"] for r in fake_wechat.sent if "/message/" in r["path"]] == [45015, "ok"]
    [sent] = fake_wechat.delivered("template")
    assert sent["json"]["template_id"] == "TPL-NOTICE"
    assert sent["json"]["data"]["first"]["value"] == "单位已答复，请评价"
    assert sent["json"]["data"]["keyword1"]["value"] == TICKET
    done = row(db, row_id)
    assert done["status"] == "sent"
    assert done["last_error"].startswith("sent as template: errcode 45015")


def test_closed_window_uses_the_rows_own_fallback(db, cfg_notice, fake_wechat, now):
    citizen_wrote(db, now - timedelta(hours=49))
    own = {"template_id": "TPL-STATUS", "data": {"keyword1": {"value": TICKET}}, "url": ""}
    enqueue_text(db, CITIZEN, "状态变更", ticket_number=TICKET, fallback=own)
    assert deliver_due(db, cfg_notice, now=now)["sent"] == 1
    assert fake_wechat.delivered("custom") == []  # the window was known closed: no custom try
    [sent] = fake_wechat.delivered("template")
    assert (sent["json"]["template_id"], sent["json"]["data"]) == ("TPL-STATUS", own["data"])


def test_closed_window_without_template_fails_with_reason(db, cfg, fake_wechat, now):
    row_id = enqueue_text(db, CITIZEN, "状态变更", ticket_number=TICKET)  # citizen never wrote
    assert deliver_due(db, cfg, now=now)["failed"] == 1
    assert fake_wechat.sent == []
    failed = row(db, row_id)
    assert (failed["status"], failed["last_error"]) == ("failed", NO_TEMPLATE)


def test_five_custom_messages_per_48_hours(db, cfg_notice, fake_wechat, now):
    citizen_wrote(db, now - timedelta(hours=47))
    for n in range(7):
        enqueue_text(db, CITIZEN, f"通知{n}", ticket_number=TICKET)
    assert deliver_due(db, cfg_notice, now=now)["sent"] == 7
    assert texts(fake_wechat) == [f"通知{n}" for n in range(5)]
    firsts = [r["json"]["data"]["first"]["value"] for r in fake_wechat.delivered("template")]
    assert firsts == ["通知5", "通知6"]
    citizen_wrote(db, now + timedelta(minutes=1))  # the citizen writes again: five more
    enqueue_text(db, CITIZEN, "通知7", ticket_number=TICKET)
    assert deliver_due(db, cfg_notice, now=now + timedelta(minutes=2))["sent"] == 1
    assert texts(fake_wechat)[-1] == "通知7"


def test_window_is_per_citizen(db, cfg_notice, fake_wechat, now):
    citizen_wrote(db, now - timedelta(hours=1))
    citizen_wrote(db, now - timedelta(hours=1), openid="o-other")
    for n in range(5):
        enqueue_text(db, CITIZEN, f"a{n}")
    enqueue_text(db, "o-other", "b0")
    deliver_due(db, cfg_notice, now=now)
    assert sorted(texts(fake_wechat)) == ["a0", "a1", "a2", "a3", "a4", "b0"]


def test_stuck_sending_rows_are_recovered(db, cfg, fake_wechat, now):
    citizen_wrote(db, now - timedelta(hours=1))
    stuck = enqueue_text(db, CITIZEN, "stuck")
    busy = enqueue_text(db, CITIZEN, "in flight elsewhere")
    lease_gone, lease_held = clock.iso(now - timedelta(seconds=1)), clock.iso(now + timedelta(1))
    db.execute("UPDATE outbox SET status='sending', attempts=1, next_attempt_at=? WHERE id=?",
               [lease_gone, stuck])
    db.execute("UPDATE outbox SET status='sending', attempts=1, next_attempt_at=? WHERE id=?",
               [lease_held, busy])
    assert deliver_due(db, cfg, now=now) == {"sent": 1, "retried": 0, "failed": 0, "released": 1}
    assert texts(fake_wechat) == ["stuck"]
    assert (row(db, stuck)["status"], row(db, stuck)["attempts"]) == ("sent", 2)
    assert row(db, busy)["status"] == "sending"


def test_two_senders_never_send_a_row_twice(tmp_path, cfg, fake_wechat, now):
    path = tmp_path / "t.db"
    setup = connect(path)
    citizen_wrote(setup, now - timedelta(hours=1))
    expected = []
    for n in range(40):
        openid = f"o-{n}"
        citizen_wrote(setup, now - timedelta(hours=1), openid=openid)
        enqueue_text(setup, openid, f"msg {n}")
        expected.append(f"msg {n}")
    start = threading.Barrier(2)
    totals: list[dict] = []

    def sender() -> None:
        db = connect(path)
        start.wait()
        try:
            while (counts := deliver_due(db, cfg, now=now, limit=3))["sent"]:
                totals.append(counts)
        finally:
            db.conn.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(texts(fake_wechat)) == sorted(expected)  # each exactly once
    assert sum(c["sent"] for c in totals) == 40
    statuses = {r["status"] for r in setup.query("SELECT status FROM outbox")}
    setup.conn.close()
    assert statuses == {"sent"}


def test_sends_are_logged_without_secrets(db, cfg, fake_wechat, now, caplog):
    caplog.set_level(logging.DEBUG)
    citizen_wrote(db, now - timedelta(hours=1))
    row_id = enqueue_text(db, CITIZEN, "hi", ticket_number=TICKET)
    deliver_due(db, cfg, now=now)
    token = fake_wechat.delivered()[0]["query"]["access_token"]
    assert f"outbox {row_id}: sent text to citizen (ticket {TICKET})" in caplog.text
    assert token not in caplog.text
    assert "fake-app-secret" not in caplog.text


def test_unreadable_payload_fails_without_stopping_others(db, cfg, fake_wechat, now):
    citizen_wrote(db, now - timedelta(hours=1))
    bad = enqueue_text(db, CITIZEN, "bad")
    db.execute("UPDATE outbox SET payload = ? WHERE id = ?", [json.dumps({"oops": 1}), bad])
    good = enqueue_text(db, CITIZEN, "good")
    assert deliver_due(db, cfg, now=now) == {"sent": 1, "retried": 0, "failed": 1, "released": 0}
    assert row(db, bad)["last_error"].startswith("unreadable payload")
    assert row(db, good)["status"] == "sent"
