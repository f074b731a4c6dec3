"""A message kept by a worker that died before handling it is not lost."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.webhook import recover_unhandled
from storage import clock, inbox
from tests.chat import build_xml


def _keep_unhandled(db, key: str, text: str, age_seconds: int) -> None:  # noqa: ANN001
    xml = build_xml("oDied0001", "text", {"Content": text, "MsgId": key})
    inbox.keep(db, key, "oDied0001", "text", xml, clock.now() - timedelta(seconds=age_seconds))


def test_recovery_job_handles_stale_messages_once_and_sends_the_reply(db, config):
    _keep_unhandled(db, "9001", "区税务局办税大厅的人上班打游戏，没人办事", age_seconds=60)
    _keep_unhandled(db, "9002", "区税务局办税大厅的人上班打游戏", age_seconds=1)  # still fresh
    assert recover_unhandled(db, config) == 1
    assert recover_unhandled(db, config) == 0  # idempotent
    row = inbox.find(db, "9001")
    assert row["status"] == "handled" and re.search(r"GF\d{8}-\d{4}", row["reply"])
    assert inbox.find(db, "9002")["status"] == "new"
    sent = [r["payload"] for r in db.query("SELECT payload FROM outbox WHERE recipient = ?",
                                           ["oDied0001"])]
    assert len(sent) == 1 and row["ticket_number"] in sent[0]
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1


def test_a_retry_takes_over_a_stale_message(wechat, db):
    _keep_unhandled(db, "9100", "区城管局执法人员态度粗暴，骂人", age_seconds=30)
    reply = wechat.message("text", {"Content": "区城管局执法人员态度粗暴，骂人", "MsgId": "9100"},
                           openid="oDied0001")
    assert re.search(r"GF\d{8}-\d{4}", reply)
    assert inbox.find(db, "9100")["status"] == "handled"
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
