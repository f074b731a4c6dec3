"""Black-box acceptance: chat over the webhook, the JSON API, ``python -m bot`` commands,
and notices delivered by the outbox sender to the fake WeChat API on 127.0.0.1.

Only outside contracts are used: signed XML to /wechat, HTTP to /api/v1, the
command line, and what the fake WeChat server received.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import create_app
from bot.cli import main
from bot.config import load
from bot.outbox_sender import deliver_due
from storage import clock
from storage.db import close_all, get_db
from tests.chat import Chat

pytest_plugins = ["tests.fakewechat_fixture"]

ROOT = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"GF\d{8}-\d{4}")
RSJ, ZJJ, SCJG = "区人社局", "区住建局", "区市场监管局"


@dataclass
class Desk:
    """The running bot as the outside world sees it."""

    config_file: Path
    chat: Chat
    http: Any
    fake: Any
    settings: Any
    tokens: dict[str, str]

    def bot(self, *argv: str, stdin: str = "") -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, "-m", "bot", *argv, "--config",
                               str(self.config_file)], input=stdin, capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=120, check=False)

    def account(self, name: str, role: str, unit: str | None = None) -> None:
        """``python -m bot user add … --token``, run in-process to keep the test quick."""
        args = ["user", "add", name, "--role", role, "--token", "--config", str(self.config_file)]
        out, saved = io.StringIO(), sys.stdin
        sys.stdin = io.StringIO("password1234\n")
        try:
            with contextlib.redirect_stdout(out):
                assert main([*args, *(["--unit", unit] if unit else [])]) == 0
        finally:
            sys.stdin = saved
        self.tokens[name] = out.getvalue().strip().splitlines()[-1]

    def get(self, who: str, path: str) -> Any:
        return self.http.get(f"/api/v1{path}", headers={"Authorization": f"Bearer "
                                                                          f"{self.tokens[who]}"})

    def act(self, who: str, number: str, **body: Any) -> Any:
        return self.http.post(f"/api/v1/tickets/{number}/actions", json=body,
                              headers={"Authorization": f"Bearer {self.tokens[who]}"})

    def deliver(self, minutes_later: int = 0) -> dict[str, int]:
        db = get_db(self.settings["storage.path"])
        return deliver_due(db, self.settings, now=clock.now() + timedelta(minutes=minutes_later))

    def texts_to(self, openid: str) -> list[str]:
        return [r["json"]["text"]["content"] for r in self.fake.delivered("custom")
                if r["json"]["touser"] == openid]


@pytest.fixture
def desk(tmp_path, fake_wechat):  # noqa: ANN001, ANN201
    config_file = tmp_path / "bot.toml"
    config_file.write_text(f"""
[wechat]
token = "acceptance-token"
appid = "wxfake0001"
secret = "fake-app-secret"
api_base_url = "{fake_wechat.base_url}"
template_notice = "TPL_NOTICE"
request_timeout_seconds = 2

[storage]
path = "{tmp_path / 'desk.db'}"

[scheduler]
enabled = false

[office]
openids = ["oOfficeDuty"]

[units.liaisons]
"{RSJ}" = ["oLiaisonRSJ"]
"{ZJJ}" = ["oLiaisonZJJ"]

[logging]
json = false
""", "utf-8")
    settings = load(str(config_file))
    app = create_app(settings)
    desk = Desk(config_file, Chat(app.test_client(), "acceptance-token"), app.test_client(),
                fake_wechat, settings, {})
    for name, role, unit in (("office1", "office", None), ("rsj", "unit", RSJ),
                             ("zjj", "unit", ZJJ), ("scjg", "unit", SCJG),
                             ("lead1", "leader", None)):
        desk.account(name, role, unit)
    yield desk
    close_all()


def complain(desk: Desk, text: str, openid: str) -> tuple[str, str]:
    reply = desk.chat.send(text, openid=openid)
    match = NUMBER.search(reply)
    assert match, reply
    return match.group(0), reply


def test_complaint_dispatched_signed_during_an_outage_answered_and_rated(desk):  # noqa: ANN001
    citizen = "oCitizenA"
    number, reply = complain(desk, "区人社局办社保卡的窗口工作人员不理人，问了三遍都不搭理",
                             citizen)
    assert RSJ in reply
    desk.chat.send("昨天上午", openid=citizen)
    desk.chat.send("13812348000", openid=citizen)

    office_view = desk.get("office1", f"/tickets/{number}").json
    assert office_view["status"] == "dispatched" and office_view["unit"] == RSJ
    assert office_view["due_at"] and office_view["sign_due_at"]
    assert desk.get("zjj", f"/tickets/{number}").status_code == 404
    unit_view = desk.get("rsj", f"/tickets/{number}").json
    assert "openid" not in unit_view and citizen not in json.dumps(unit_view)
    assert unit_view["phone"] == "138****8000"

    desk.fake.fail("http_500")  # the WeChat API is down while the unit signs
    assert desk.act("rsj", number, action="accept").status_code == 200
    desk.deliver()
    assert not any("签收" in text for text in desk.texts_to(citizen))
    desk.fake.recover()
    desk.deliver(minutes_later=5)
    assert any("签收" in text and number in text for text in desk.texts_to(citizen))

    answer = "已于今日为您补办社保卡，并对窗口人员进行了批评教育。"
    assert desk.act("rsj", number, action="answer", note=answer).status_code == 200
    desk.deliver(minutes_later=6)
    assert any(answer in text for text in desk.texts_to(citizen))
    assert "感谢" in desk.chat.send("满意", openid=citizen)
    closed = desk.get("office1", f"/tickets/{number}").json
    assert closed["status"] == "closed" and closed["rating"] == "satisfied"
    assert len(closed["events"]) >= 4
    assert desk.act("rsj", number, action="answer", note="再答一次").status_code == 409


def test_unsatisfied_reopens(desk):  # noqa: ANN001
    citizen = "oCitizenB"
    number, _ = complain(desk, "区人社局办退休手续一拖再拖，说好的一周变成两个月还没办", citizen)
    desk.act("rsj", number, action="accept")
    desk.act("rsj", number, action="answer", note="已在办理中")
    assert "重新" in desk.chat.send("不满意", openid=citizen)
    assert desk.get("rsj", f"/tickets/{number}").json["status"] == "reopened"


def test_returned_ticket_is_redispatched_by_the_office_and_goes_overdue(desk):  # noqa: ANN001
    number, _ = complain(desk, "区人社局窗口工作人员态度恶劣，冲我吼叫，还把材料扔出来",
                         "oCitizenC")
    returned = desk.act("rsj", number, action="return", note="涉及工地农民工，非本局窗口")
    assert returned.status_code == 200 and returned.json["status"] == "returned"
    assert desk.act("rsj", number, action="dispatch", unit=ZJJ).status_code == 403
    assert desk.act("office1", number, action="dispatch", unit=ZJJ).status_code == 200
    assert desk.get("zjj", f"/tickets/{number}").json["unit"] == ZJJ
    assert number in [t["number"] for t in desk.get("zjj", "/tickets").json["tickets"]]
    assert desk.get("rsj", f"/tickets/{number}").status_code == 404

    assert desk.get("office1", "/tickets?overdue=1").json["total"] == 0
    three_weeks = (clock.now() + timedelta(weeks=3)).isoformat()
    swept = desk.bot("sweep", "--now", three_weeks)
    assert swept.returncode == 0, swept.stderr
    assert json.loads(swept.stdout)["overdue"] >= 1
    listed = desk.get("office1", "/tickets?overdue=1").json["tickets"]
    assert number in [t["number"] for t in listed]
    assert desk.get("zjj", f"/tickets/{number}").json["overdue"] is True
    again = desk.bot("sweep", "--now", three_weeks)
    assert json.loads(again.stdout)["overdue"] == 0


def test_s6_report_is_referred_not_dispatched(desk):  # noqa: ANN001
    number, reply = complain(desk, "区市场监管局办营业执照的工作人员暗示要请吃饭送烟才给办",
                             "oCitizenD")
    assert "区纪委" in reply
    view = desk.get("office1", f"/tickets/{number}").json
    assert view["flags"] == ["discipline"] and view["status"] == "received"
    assert desk.get("lead1", "/tickets?kind=S6").json["total"] == 1
    assert desk.get("scjg", f"/tickets/{number}").status_code == 404
    assert desk.get("scjg", "/tickets").json["total"] == 0
    assert desk.act("office1", number, action="dispatch", unit=SCJG).status_code == 409


def test_bad_or_missing_tokens_are_refused(desk):  # noqa: ANN001
    number, _ = complain(desk, "区人社局办社保卡的窗口工作人员不理人，问了三遍都不搭理",
                         "oCitizenE")
    for headers in ({}, {"Authorization": "Bearer nope"},
                    {"Authorization": f"Token {desk.tokens['office1']}"}):
        assert desk.http.get("/api/v1/tickets", headers=headers).status_code == 401
        assert desk.http.get(f"/api/v1/tickets/{number}", headers=headers).status_code == 401
    result = desk.bot("user", "disable", "rsj")
    assert result.returncode == 0
    assert desk.get("rsj", "/tickets").status_code == 401
