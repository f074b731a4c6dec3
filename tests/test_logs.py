"""Logs: JSON lines that carry the message key and ticket number, and never a secret.

One full cycle with every secret set: an AES message and its retry, a forged
request, console logins (right and wrong password), API calls (good and bad
token), a notice sent through the (fake) WeChat API, which fetches an access
token with the app secret. Every record, at DEBUG, from every logger, is
formatted by the production formatter and searched for each secret.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from datetime import timedelta

import pytest
from wechatpy.crypto import WeChatCrypto

from bench.chaos import decrypt_reply
from bot import create_app
from bot.logs import JsonFormatter
from bot.outbox_sender import deliver_due
from handlers.casework import act
from storage import clock, users
from storage.db import close_all, get_db
from storage.lifecycle import Actor
from tests.chat import build_xml, sign
from tests.fakewechat_fixture import FakeWeChat

pytest_plugins = ["tests.fakewechat_fixture"]

WX_TOKEN = "tokenSECRETverify77"
AES_KEY = base64.b64encode(b"AESsecret-logs-0123456789abcdefg").decode()[:43]
APP_SECRET = "appSECRET-9f8e7d6c5b4a"
SESSION_KEY = "sessionSECRET-5a4b3c2d1e0f"
PASSWORD = "pwSECRET-correct-horse1"
WRONG_PASSWORD = "pwSECRET-wrong-battery2"
APPID = "wxlogs000000000001"
TICKET = re.compile(r"GF\d{8}-\d{4}")


@pytest.fixture
def secret_app(tmp_path, fake_wechat: FakeWeChat):  # noqa: ANN001, ANN201
    text = (f'[storage]\npath = "{tmp_path / "logs.db"}"\n'
            f'[console]\nsecret_key = "{SESSION_KEY}"\n')
    config = fake_wechat.config(extra=text, timeout=0.5)
    config.update({"wechat.token": WX_TOKEN, "wechat.secret": APP_SECRET,
                   "wechat.appid": APPID, "wechat.encoding_aes_key": AES_KEY,
                   "wechat.mode": "compatible"})
    app = create_app(config)
    yield app
    close_all()


def _post_aes(client, xml: str, token: str = WX_TOKEN):  # noqa: ANN001, ANN202
    stamp, nonce = str(int(time.time())), "8080"
    encrypted = WeChatCrypto(WX_TOKEN, AES_KEY, APPID).encrypt_message(xml, nonce, stamp)
    signature = re.search(r"<MsgSignature><!\[CDATA\[(\w+)", encrypted).group(1)
    query = {"timestamp": stamp, "nonce": nonce, "signature": sign(token, stamp, nonce),
             "encrypt_type": "aes", "msg_signature": signature}
    return client.post("/wechat", query_string=query, data=encrypted.encode())


def _login(client, username: str, password: str):  # noqa: ANN001, ANN202
    page = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": csrf})


def _full_cycle(app, fake_wechat: FakeWeChat) -> tuple[str, str, list[str]]:  # noqa: ANN001
    """Everything a working day does; returns (message key, ticket number, more secrets)."""
    client, db, config = app.test_client(), get_db(app.config["BOT"]["storage.path"]), \
        app.config["BOT"]
    key = "7300000000000001"
    xml = build_xml("oLogCitizen01", "text", {"Content": "区人社局窗口的人不理人，办社保卡跑了三趟",
                                             "MsgId": key})
    response = _post_aes(client, xml)
    number = TICKET.search(decrypt_reply(WeChatCrypto(WX_TOKEN, AES_KEY, APPID),
                                         response.get_data(as_text=True))).group(0)
    assert _post_aes(client, xml).status_code == 200  # WeChat's retry
    assert _post_aes(client, xml, token="forged").status_code == 403
    user = users.create_user(db, "officeLogs", "office", PASSWORD)
    assert _login(app.test_client(), "officeLogs", WRONG_PASSWORD).status_code == 401
    assert _login(client, "officeLogs", PASSWORD).status_code == 302
    api_token = users.issue_token(db, user["id"])
    assert client.get("/api/v1/tickets", headers={
        "Authorization": f"Bearer {api_token}"}).status_code == 200
    assert client.get("/api/v1/tickets", headers={
        "Authorization": f"Bearer {api_token}x"}).status_code == 401
    ticket = db.execute("SELECT unit FROM tickets WHERE number = ?", [number]).fetchone()
    act(db, config, number, "accept", Actor("liaison", "unit", ticket[0]))
    fake_wechat.fail("http_500", count=1)  # one failed attempt is logged too
    for minutes in (1, 10, 30):
        deliver_due(db, config, now=clock.now() + timedelta(minutes=minutes))
    assert fake_wechat.delivered(), "the notice went out"
    access_tokens = list(fake_wechat.state.tokens)
    return key, number, [api_token, *access_tokens]


def test_no_secret_reaches_any_log_record(secret_app, fake_wechat, caplog) -> None:  # noqa: ANN001
    caplog.set_level(logging.DEBUG)
    key, number, more = _full_cycle(secret_app, fake_wechat)
    formatter = JsonFormatter()
    lines = [formatter.format(record) for record in caplog.records]
    assert len(lines) > 5, "the cycle was logged"
    secrets = [WX_TOKEN, AES_KEY, APP_SECRET, SESSION_KEY, PASSWORD, WRONG_PASSWORD, *more]
    for secret in secrets:
        leaking = [line for line in lines if secret in line]
        assert not leaking, f"a secret ({secret[:6]}…) is in the logs: {leaking[:2]}"


def test_logs_are_json_lines_with_the_message_key_and_ticket(secret_app, fake_wechat,  # noqa: ANN001
                                                             caplog) -> None:
    caplog.set_level(logging.INFO)
    key, number, _ = _full_cycle(secret_app, fake_wechat)
    entries = [json.loads(JsonFormatter().format(record)) for record in caplog.records]
    assert all({"time", "level", "logger", "message", "pid"} <= set(e) for e in entries)
    linked = [e for e in entries if key in e["message"] and number in e["message"]]
    assert linked, "one line ties the WeChat message to its ticket"
    assert any(key in e["message"] and "retried" in e["message"] for e in entries)
