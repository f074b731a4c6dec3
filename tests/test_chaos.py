"""Faults under load: nothing a citizen sent is lost or doubled.

The first two drive the real server (gunicorn, AES safe mode) through
bench/chaos.py; the others run in-process with the fault injected at the seam.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from bench.chaos import kill_and_restart, repeated_delivery, ticket_of
from bot import create_app
from bot.outbox_sender import deliver_due
from bot.webhook import recover_unhandled
from handlers.casework import act
from handlers.texts import say
from storage import clock
from storage.db import close_all, get_db
from storage.lifecycle import Actor
from tests.chat import Chat
from tests.fakewechat_fixture import FakeWeChat

pytest_plugins = ["tests.fakewechat_fixture"]

COMPLAINTS = ["区人社局窗口的人不理人，办社保卡跑了三趟",
              "区市场监管局办营业执照拖了一个月还没办好",
              "区不动产登记中心过户一直说排队，半个月没消息",
              "区税务局办税大厅的人上班打游戏，没人办事"]
TICKET = re.compile(r"GF\d{8}-\d{4}")


def test_each_message_delivered_three_times_at_once_to_three_workers(tmp_path: Path) -> None:
    outcome, requests = repeated_delivery(tmp_path, messages=40, copies=3, workers=3)
    assert outcome.problems(requests) == []
    for request in requests:
        replies = outcome.replies[request.msg_id]
        assert [status for status, _ in replies] == ["200"] * 3
        numbers = {ticket_of(text) for _, text in replies}
        assert len(numbers) == 1 and None not in numbers, replies


def test_surge_acknowledges_every_copy_alike_and_the_drain_opens_one_ticket_each(
        tmp_path: Path) -> None:
    # every message acknowledged first (bot/surge.py), three copies at once to three workers:
    # each copy gets the acknowledgement, and once the drain process (started by serve) has
    # caught up, each message has exactly one ticket
    outcome, requests = repeated_delivery(tmp_path, messages=40, copies=3, workers=3,
                                          extra='[surge]\nmode = "always"\n')
    assert outcome.problems(requests) == [], outcome.notes
    assert "acknowledged first (surge): 120 replies; left queued: 0" in outcome.notes
    for request in requests:
        assert outcome.replies[request.msg_id] == [("200", say("queued"))] * 3


def test_kill_9_mid_load_then_restart_loses_and_doubles_nothing(tmp_path: Path) -> None:
    outcome, requests = kill_and_restart(tmp_path, messages=150, kill_after=40, resend_for=30)
    assert outcome.problems(requests) == [], outcome.notes
    assert "missing from the database after it: 0" in " ".join(outcome.notes)
    assert "still unanswered: 0" in " ".join(outcome.notes)
    unanswered = [r for r in requests if not any(s == "200" for s, _ in outcome.replies[r.msg_id])]
    assert not unanswered


def _app_on_fake(tmp_path: Path, fake: FakeWeChat):  # noqa: ANN202
    storage = f'[storage]\npath = "{tmp_path / "chaos.db"}"\n'
    config = fake.config(extra=f"\n{storage}", timeout=0.5)
    return create_app(config), config


def test_api_outage_delays_notices_and_delivers_each_once_after(tmp_path: Path,
                                                                fake_wechat: FakeWeChat) -> None:
    app, config = _app_on_fake(tmp_path, fake_wechat)
    chat = Chat(app.test_client(), "x")
    try:
        for n, text in enumerate(COMPLAINTS * 3):
            assert TICKET.search(chat.send(text, openid=f"oOutage{n:04d}"))
        db = get_db(config["storage.path"])
        for number, unit in db.execute("SELECT number, unit FROM tickets WHERE status ="
                                       " 'dispatched'").fetchall():
            act(db, config, number, "accept", Actor("liaison", "unit", unit))
        queued = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        assert queued >= len(COMPLAINTS * 3), "each unit's signing is told to its citizen"
        fake_wechat.fail("http_500")
        moment = clock.now()
        for _ in range(4):
            moment += timedelta(minutes=10)
            assert deliver_due(db, config, now=moment)["sent"] == 0
        assert fake_wechat.delivered() == []
        assert db.execute("SELECT count(*) FROM outbox WHERE status != 'pending'"
                          ).fetchone()[0] == 0, "an outage only delays: nothing given up"
        fake_wechat.recover()
        for _ in range(10):
            moment += timedelta(minutes=30)
            deliver_due(db, config, now=moment, limit=500)
        statuses = dict(db.execute("SELECT status, count(*) FROM outbox GROUP BY status"
                                   ).fetchall())
        assert statuses == {"sent": queued}
        delivered = [(r["json"]["touser"], str(r["json"])) for r in fake_wechat.delivered()]
        assert len(delivered) == queued == len(set(delivered)), "each notice exactly once"
    finally:
        close_all()


def _send_many(wechat: Chat, prefix: str, count: int) -> list[tuple[str, str]]:
    """(openid, reply) for ``count`` complaints from different citizens; all must be 200."""
    replies = []
    for n in range(count):
        openid = f"{prefix}{n:04d}"
        reply = wechat.send(COMPLAINTS[n % len(COMPLAINTS)] + f"（第{n}次）", openid=openid)
        assert wechat.last_response.status_code == 200
        replies.append((openid, reply))
    return replies


def _tickets_of(db, openid: str) -> list[str]:  # noqa: ANN001
    return [row[0] for row in db.execute("SELECT number FROM tickets WHERE openid = ?",
                                         [openid]).fetchall()]


def test_disk_full_gets_an_apology_not_a_crash_and_recovers(wechat: Chat, db, config, app,
                                                           monkeypatch) -> None:  # noqa: ANN001
    _send_many(wechat, "oBefore", 3)
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")  # this connection serves the test client
    replies = _send_many(wechat, "oFull", 40)
    refused = [openid for openid, reply in replies if reply == say("storage_unavailable")]
    apologised = [openid for openid, reply in replies if reply == say("apology")]
    assert refused or apologised, "the database never filled up"
    for openid, reply in replies:
        number = ticket_of(reply)
        if number:
            assert _tickets_of(db, openid) == [number], "an acknowledged ticket is stored"
    assert app.test_client().get("/healthz").status_code == 200, "still serving"
    db.execute("PRAGMA max_page_count = 1073741823")
    later = clock.now() + timedelta(minutes=5)
    monkeypatch.setattr(clock, "now", lambda: later)  # the recovery job runs a bit later
    recover_unhandled(db, config)
    monkeypatch.undo()
    for openid in apologised:  # kept before the disk filled: handled by the recovery job
        assert len(_tickets_of(db, openid)) == 1
    again = _send_many(wechat, "oAfter", 2)
    assert all(ticket_of(reply) for _, reply in again)


def test_read_only_database_gets_a_clear_apology(wechat: Chat, db, caplog) -> None:  # noqa: ANN001
    _send_many(wechat, "oRw", 1)
    db.execute("PRAGMA query_only = ON")  # like a read-only file or mount
    try:
        reply = wechat.send(COMPLAINTS[0], openid="oReadOnly01")
        assert wechat.last_response.status_code == 200
        assert reply == say("storage_unavailable")
        assert any("cannot store message" in r.getMessage() for r in caplog.records)
        assert wechat.client.get("/healthz").status_code == 200
    finally:
        db.execute("PRAGMA query_only = OFF")
    assert ticket_of(wechat.send(COMPLAINTS[0], openid="oReadOnly01"))
