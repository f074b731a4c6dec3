"""Immediate alerts: S6 referrals and long-overdue cases, batched, each ticket once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.alerts import send_alerts
from bot.outbox_sender import deliver_due
from storage import clock
from tests.conftest import make_config
from tests.test_stats import NOW, add_ticket, seed

pytest_plugins = ["tests.fakewechat_fixture"]

REFERRAL = "GF20261124-0003"
LONG_OVERDUE = "GF20261110-0002"    # 10 working days over at NOW
SHORT_OVERDUE = "GF20261112-0001"   # 4 working days over at NOW


@pytest.fixture
def config(tmp_path):  # noqa: ANN001, ANN201
    return make_config(tmp_path, """
[leading_group]
openids = ["oLeader-1", "oLeader-2"]
alert_batch_minutes = 10
[deadlines]
escalate_to_leaders_after_working_days = 5
""")


def _texts(db) -> list[tuple[str, str]]:  # noqa: ANN001
    rows = db.execute("SELECT recipient, payload FROM outbox ORDER BY id").fetchall()
    return [(row[0], json.loads(row[1]).get("text", "")) for row in rows]


def _alerted(db) -> list[str]:  # noqa: ANN001
    return [r[0] for r in db.execute(
        "SELECT number FROM tickets WHERE alerted_at IS NOT NULL ORDER BY number")]


def test_first_batch_lists_the_referral_and_the_long_overdue_case(db, config) -> None:  # noqa: ANN001
    seed(db)
    result = send_alerts(db, config, NOW)
    assert result["sent"] and result["numbers"] == [REFERRAL, LONG_OVERDUE]
    texts = _texts(db)
    assert [recipient for recipient, _ in texts] == ["oLeader-1", "oLeader-2"]
    text = texts[0][1]
    assert text.splitlines() == [
        "【领导小组提醒】新增纪委移送线索1件，严重逾期工单1件：",
        f"· {REFERRAL} 涉嫌吃拿卡要线索，已移送区纪委（2026-11-24T11:00）",
        f"· {LONG_OVERDUE} 区市场监管局 逾期10个工作日",
    ]
    assert "投诉正文" not in text and "o-GF" not in text  # no complaint text, no complainant
    assert _alerted(db) == [LONG_OVERDUE, REFERRAL]
    assert SHORT_OVERDUE not in text  # 4 working days < 5


def test_each_ticket_alerts_once_and_batches_wait_for_the_window(db, config) -> None:  # noqa: ANN001
    seed(db)
    send_alerts(db, config, NOW)
    assert send_alerts(db, config, NOW + timedelta(minutes=1))["reason"] == "batch window"
    assert send_alerts(db, config, NOW + timedelta(minutes=10))["reason"] == "nothing new"
    later = clock.iso(NOW + timedelta(minutes=2))
    add_ticket(db, "GF20261125-0001", "S6", "received", later, flags=["discipline"])
    add_ticket(db, "GF20261125-0002", "S6", "received", later, flags=["discipline"])
    assert send_alerts(db, config, NOW + timedelta(minutes=3))["reason"] == "batch window"
    assert send_alerts(db, config, NOW + timedelta(minutes=9))["reason"] == "batch window"
    batch = send_alerts(db, config, NOW + timedelta(minutes=10))
    assert batch["numbers"] == ["GF20261125-0001", "GF20261125-0002"]
    assert len(_texts(db)) == 4  # two batches × two leaders
    assert "新增纪委移送线索2件，严重逾期工单0件" in _texts(db)[-1][1]
    assert send_alerts(db, config, NOW + timedelta(minutes=30))["reason"] == "nothing new"


def test_greetings_never_alert_and_alert_openids_take_precedence(tmp_path, db) -> None:  # noqa: ANN001
    cfg = make_config(tmp_path, '[leading_group]\nopenids = ["oLeader-1"]\n'
                                'alert_openids = ["oDuty-1"]\n')
    add_ticket(db, "GF20261124-0009", "NONE", "received", clock.iso(NOW),
               flags=["discipline"])
    assert send_alerts(db, cfg, NOW)["reason"] == "nothing new"
    add_ticket(db, "GF20261124-0010", "S6", "received", clock.iso(NOW))
    assert send_alerts(db, cfg, NOW)["sent"]
    assert [recipient for recipient, _ in _texts(db)] == ["oDuty-1"]


def test_no_recipients_marks_nothing(tmp_path, db) -> None:  # noqa: ANN001
    seed(db)
    assert send_alerts(db, make_config(tmp_path), NOW)["reason"] == "no recipients"
    assert _alerted(db) == []


def test_alert_template_reaches_the_leaders(db, config, fake_wechat) -> None:  # noqa: ANN001
    seed(db)
    config["wechat.api_base_url"] = fake_wechat.base_url
    config["wechat.template_alert"] = "TPL-ALERT"
    config["server.public_url"] = "https://desk.example.gov.cn"
    send_alerts(db, config, NOW)
    deliver_due(db, config)
    sent = fake_wechat.delivered("template")
    assert sorted(r["json"]["touser"] for r in sent) == ["oLeader-1", "oLeader-2"]
    body = sent[0]["json"]
    assert body["template_id"] == "TPL-ALERT"
    assert body["data"]["keyword1"]["value"] == f"{REFERRAL}、{LONG_OVERDUE}"
    assert body["url"] == "https://desk.example.gov.cn/console/"
    assert "投诉正文" not in json.dumps(body, ensure_ascii=False)
