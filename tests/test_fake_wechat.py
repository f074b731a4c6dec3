"""The fake WeChat API and the fixed wechatpy client, against each other on 127.0.0.1."""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator

import pytest
import requests
from sqlite_utils import Database

from bot import fake_wechat as fake_module
from bot.wechat_client import (
    DeskWeChatClient,
    KvSessionStorage,
    SendError,
    make_client,
    send_template,
    send_text,
)
from storage.db import connect
from tests.fakewechat_fixture import FakeWeChat, wechat_config

pytest_plugins = ["tests.fakewechat_fixture"]

OPENID = "o-citizen-1"


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    database = connect(tmp_path / "t.db")
    yield database
    database.conn.close()


@pytest.fixture
def clients(fake_wechat, db, tmp_path) -> Iterator[list[DeskWeChatClient]]:
    """Clients to close after the test; ``clients[0]`` is ready on ``db``."""
    made: list[DeskWeChatClient] = [make_client(wechat_config(fake_wechat, timeout=0.5), db)]
    yield made
    for client in made:
        client.close()


def sends(fake: FakeWeChat) -> list[dict]:
    return [r for r in fake.sent if "/message/" in r["path"]]


def test_token_is_fetched_from_api_base_url(fake_wechat, clients):
    send_text(clients[0], OPENID, "您好")
    [fetch] = fake_wechat.token_fetches()
    assert fetch["path"] == "/cgi-bin/token"
    assert fetch["query"]["appid"] == "wxfake0001"
    assert fetch["query"]["grant_type"] == "client_credential"
    [sent] = fake_wechat.delivered("custom")
    assert sent["json"] == {"touser": OPENID, "msgtype": "text", "text": {"content": "您好"}}


def test_token_is_shared_through_kv_by_two_clients(fake_wechat, clients, db, tmp_path):
    other_db = connect(tmp_path / "t.db")  # another connection, as another process would have
    try:
        other = make_client(wechat_config(fake_wechat), other_db)
        clients.append(other)
        send_text(clients[0], OPENID, "一")
        send_text(other, OPENID, "二")
    finally:
        other_db.conn.close()
    assert len(fake_wechat.token_fetches()) == 1
    tokens = {r["query"]["access_token"] for r in fake_wechat.delivered()}
    assert len(tokens) == 1
    [row] = db.query("SELECT key, value, expires_at FROM kv")
    assert row["key"] == "wechat:access_token:wxfake0001"
    assert row["value"] == tokens.pop()
    assert row["expires_at"] > time.time() + 7000


def test_expired_token_in_kv_is_fetched_again(fake_wechat, clients, db):
    KvSessionStorage(db).set("wechat:access_token:wxfake0001", "OLD", ttl=30)  # nearly expired
    send_text(clients[0], OPENID, "hi")
    assert len(fake_wechat.token_fetches()) == 1
    assert fake_wechat.delivered()[0]["query"]["access_token"] != "OLD"


def test_rejected_token_is_refreshed_once_and_the_call_retried(fake_wechat, clients):
    send_text(clients[0], OPENID, "first")
    fake_wechat.expire_tokens()
    send_text(clients[0], OPENID, "second")
    assert len(fake_wechat.token_fetches()) == 2
    assert [r["outcome"] for r in sends(fake_wechat)] == ["ok", 40001, "ok"]


def test_token_refresh_is_bounded(fake_wechat, clients):
    fake_wechat.fail("invalid_token")  # every send says 40001, forever
    with pytest.raises(SendError) as caught:
        send_text(clients[0], OPENID, "hi")
    assert caught.value.errcode == 40001
    assert caught.value.retryable
    assert len(sends(fake_wechat)) == 2
    assert len(fake_wechat.token_fetches()) == 2


def test_refresh_reuses_a_token_another_process_stored(fake_wechat, clients, db):
    KvSessionStorage(db).set("wechat:access_token:wxfake0001", "NEWER", ttl=7200)
    assert clients[0].refresh_access_token("REJECTED") == "NEWER"
    assert fake_wechat.token_fetches() == []


def test_send_timeout_is_honoured(fake_wechat, clients):
    clients[0].fetch_access_token()
    fake_wechat.fail("timeout", delay=5)
    started = time.monotonic()
    with pytest.raises(SendError) as caught:
        send_text(clients[0], OPENID, "hi")
    assert time.monotonic() - started < 2
    assert caught.value.retryable
    assert caught.value.reason == "timeout"


def test_token_fetch_timeout_is_honoured(fake_wechat, clients):
    fake_wechat.fail("timeout", delay=5)
    started = time.monotonic()
    with pytest.raises(SendError) as caught:
        send_text(clients[0], OPENID, "hi")
    assert time.monotonic() - started < 2
    assert caught.value.retryable
    assert [r["path"] for r in fake_wechat.sent] == ["/cgi-bin/token"]


@pytest.mark.parametrize(
    ("mode", "errcode", "retryable", "window_closed"),
    [
        ("http_500", None, True, False),
        ("busy", -1, True, False),
        ("unsubscribed", 43004, False, False),
        ("invalid_openid", 40003, False, False),
        ("window_closed", 45015, False, True),
        ("out_of_limit", 45047, False, True),
    ],
)
def test_errors_are_classified(fake_wechat, clients, mode, errcode, retryable, window_closed):
    clients[0].fetch_access_token()
    fake_wechat.fail(mode, count=1)
    with pytest.raises(SendError) as caught:
        send_text(clients[0], OPENID, "hi")
    assert (caught.value.errcode, caught.value.retryable) == (errcode, retryable)
    assert caught.value.window_closed is window_closed
    send_text(clients[0], OPENID, "again")  # count=1: the next call succeeds
    assert len(fake_wechat.delivered()) == 1


def test_template_message(fake_wechat, clients):
    data = {"first": {"value": "新工单"}, "keyword1": {"value": "GF20261125-0007"}}
    send_template(clients[0], "o-liaison", "TPL-1", data, "https://example.org/t/1")
    [sent] = fake_wechat.delivered("template")
    assert sent["json"]["template_id"] == "TPL-1"
    assert sent["json"]["data"] == data
    assert sent["json"]["url"] == "https://example.org/t/1"


def test_absolute_official_urls_go_to_api_base_url(fake_wechat, clients):
    body = {"touser": OPENID, "msgtype": "text", "text": {"content": "x"}}
    clients[0].post("https://api.weixin.qq.com/cgi-bin/message/custom/send", data=body)
    assert len(fake_wechat.delivered("custom")) == 1


def test_secret_and_token_stay_out_of_logs(fake_wechat, clients, caplog):
    caplog.set_level(logging.DEBUG)
    send_text(clients[0], OPENID, "hi")
    token = fake_wechat.delivered()[0]["query"]["access_token"]
    assert "fake-app-secret" not in caplog.text
    assert token not in caplog.text


def test_fake_rejects_unknown_tokens(fake_wechat):
    answer = requests.post(fake_wechat.base_url + "message/custom/send",
                           params={"access_token": "nope"}, json={"touser": OPENID}, timeout=2)
    assert answer.json()["errcode"] == 40001


def test_stable_token_endpoint(fake_wechat):
    body = {"grant_type": "client_credential", "appid": "wx1", "secret": "s"}
    url = fake_wechat.base_url + "stable_token"
    first = requests.post(url, json=body, timeout=2).json()
    again = requests.post(url, json=body, timeout=2).json()
    forced = requests.post(url, json=body | {"force_refresh": True}, timeout=2).json()
    assert first["access_token"] == again["access_token"] != forced["access_token"]
    assert first["expires_in"] == 7200


def test_control_endpoints_drive_the_fake_over_http(fake_wechat, clients):
    root = fake_wechat.base_url.removesuffix("cgi-bin/")
    answer = requests.post(root + "_fake/fail", json={"mode": 43004, "count": 2}, timeout=2)
    assert answer.json() == {"ok": True, "mode": "unsubscribed", "count": 2}
    for _ in range(2):
        with pytest.raises(SendError):
            send_text(clients[0], OPENID, "hi")
    send_text(clients[0], OPENID, "hi")
    sent = requests.get(root + "_fake/sent", timeout=2).json()["sent"]
    assert [r["outcome"] for r in sent if "/message/" in r["path"]] == [43004, 43004, "ok"]
    requests.post(root + "_fake/fail", json={"mode": "http_500"}, timeout=2)
    with pytest.raises(SendError):
        send_text(clients[0], OPENID, "hi")
    requests.post(root + "_fake/recover", timeout=2)
    send_text(clients[0], OPENID, "hi")
    requests.post(root + "_fake/reset", timeout=2)
    assert requests.get(root + "_fake/sent", timeout=2).json()["sent"] == []


def test_control_rejects_unknown_modes(fake_wechat):
    root = fake_wechat.base_url.removesuffix("cgi-bin/")
    answer = requests.post(root + "_fake/fail", json={"mode": "meltdown"}, timeout=2)
    assert answer.status_code == 400
    assert "meltdown" in answer.json()["error"]


def test_cli_registration():
    parser = argparse.ArgumentParser()
    fake_module.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["fake-wechat", "--port", "9999"])
    assert (args.host, args.port, args.func) == ("127.0.0.1", 9999, fake_module.run)
