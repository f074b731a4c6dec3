"""The digest end to end: complaints through the chat, ``python -m bot digest``, the leaders.

Five complaints and one greeting go through the signed webhook; the CLI's
``--at`` puts the clock on the next morning so "yesterday" is today.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot import cli
from bot.config import parse_text
from bot.outbox_sender import deliver_due
from storage import clock
from storage.db import get_db

pytest_plugins = ["tests.fakewechat_fixture"]

ROOT = Path(__file__).parent.parent
LEADERS = ["oLeader-zuzhang", "oLeader-fuzuzhang"]
COMPLAINTS = {
    "oCitizen-1": "区人社局窗口的人不理人，问了三遍都不回答",
    "oCitizen-2": "去区不动产登记中心办房产证，工作人员暗示要请吃饭才给办",
    "oCitizen-3": "区市场监管局办营业执照拖了两个月还没办好",
    "oCitizen-4": "区公安分局户籍窗口工作人员上班时间玩手机",
    "oCitizen-5": "区行政服务中心没有公布办事需要的材料清单",
}
S6_TEXT = COMPLAINTS["oCitizen-2"]


@pytest.fixture
def config(tmp_path, fake_wechat):  # noqa: ANN001, ANN201
    """Two leaders, a digest template, the fake WeChat API; also written out for the CLI."""
    path = tmp_path / "cfg.toml"
    path.write_text(_config_text(tmp_path, fake_wechat.base_url), "utf-8")
    return parse_text(path.read_text("utf-8"), str(path))


def _config_text(tmp_path, base_url: str) -> str:  # noqa: ANN001
    return f"""
[wechat]
token = "testtoken"
appid = "wxfake0001"
secret = "fake-app-secret"
api_base_url = "{base_url}"
template_digest = "TPL-DIGEST"
[storage]
path = "{tmp_path / 'test.db'}"
[scheduler]
enabled = false
[logging]
json = false
[leading_group]
openids = {LEADERS!r}
[server]
public_url = "https://desk.example.gov.cn"
"""


def _tomorrow_morning() -> str:
    return clock.iso((clock.now() + timedelta(days=1)).replace(hour=8, minute=30, second=0))


def _to_leaders(fake_wechat) -> list[dict]:  # noqa: ANN001
    return [r for r in fake_wechat.delivered("template")
            if r["json"]["touser"] in LEADERS]


def test_five_complaints_and_a_greeting_make_a_daily_digest_sent_once(
        wechat, config, fake_wechat, capsys) -> None:  # noqa: ANN001
    for openid, text in COMPLAINTS.items():
        assert "GF" in wechat.send(text, openid=openid)
    assert "GF" not in wechat.send("你好", openid="oCitizen-6")

    at = _tomorrow_morning()
    argv = ["digest", "--now", "--period", "daily", "--config", config.source, "--at", at]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "新增投诉5件" in out
    assert "| S6 推诿索要 | 1 |" in out
    assert "移送区纪委线索1件" in out
    assert "请吃饭" not in out and S6_TEXT not in out and "oCitizen-2" not in out
    assert "已排队发送给 2 位" in out

    deliver_due(get_db(config["storage.path"]), config)
    sent = _to_leaders(fake_wechat)
    assert sorted(r["json"]["touser"] for r in sent) == sorted(LEADERS)
    for record in sent:
        body = record["json"]
        assert body["template_id"] == "TPL-DIGEST"
        assert "新增投诉5件" in body["data"]["keyword2"]["value"]
        assert body["url"].startswith("https://desk.example.gov.cn/console/digests/daily-")
        assert "请吃饭" not in str(body)

    again = subprocess.run([sys.executable, "-m", "bot", *argv], capture_output=True,
                           text=True, timeout=120, cwd=ROOT, check=True).stdout
    assert "本次不再发送" in again and "新增投诉5件" in again
    assert len(_to_leaders(fake_wechat)) == 2


def test_weekly_digest_builds(wechat, config, capsys) -> None:  # noqa: ANN001
    for openid, text in COMPLAINTS.items():
        wechat.send(text, openid=openid)
    at = clock.iso(clock.now() + timedelta(days=7))
    argv = ["digest", "--period", "weekly", "--config", config.source, "--at", at]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "群众办事难专项整治周报" in out
    assert "新增投诉5件" in out
    assert "预览" in out
