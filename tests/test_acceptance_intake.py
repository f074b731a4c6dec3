"""Intake is done: a black-box check of ``python -m bot serve`` as WeChat would see it.

The server runs as a subprocess on a free port; everything below talks to it
over HTTP through tests/protocol_client.py only (no project code).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from tests.protocol_client import (
    BILLION_LAUGHS,
    ROOT,
    XXE,
    ServedBot,
    WeChatServer,
    free_port,
    http_transport,
    message_xml,
    next_msg_id,
    text_xml,
)

TOKEN = "AcceptanceToken7"
AES_KEY = "QWNjZXB0YW5jZUludGFrZUtleUZvckNvbXBsYWludDA"
APPID = "wxacceptance00001"
SECRET = "AppSecretNeverLogged9"
NUMBER = re.compile(r"GF\d{8}-(\d{4})")


def config_text(directory: Path) -> str:
    return f"""
[wechat]
token = "{TOKEN}"
appid = "{APPID}"
secret = "{SECRET}"
encoding_aes_key = "{AES_KEY}"
fake_api = false

[storage]
path = "{directory / 'acceptance.db'}"

[server]
workers = 2

[scheduler]
enabled = false
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):  # noqa: ANN001, ANN201
    directory = tmp_path_factory.mktemp("acceptance")
    config = directory / "config.toml"
    config.write_text(config_text(directory), "utf-8")
    bot = ServedBot(["--config", str(config)], directory)
    try:
        bot.wait_healthy()
        yield bot
    finally:
        bot.stop()


@pytest.fixture
def wechat(served) -> WeChatServer:  # noqa: ANN001
    return WeChatServer(http_transport(served.url), TOKEN, AES_KEY, APPID)


def number_of(reply: str) -> str:
    match = NUMBER.search(reply)
    assert match, reply
    return match.group(0)


def sequence(number: str) -> int:
    return int(number[-4:])


def test_url_verification(wechat):
    assert wechat.verify("echo-7788").body == "echo-7788"
    wrong = wechat.verify("echo-7788", token="guessed")
    assert wrong.status == 403 and "echo-7788" not in wrong.body


def test_subscribe_gets_an_encrypted_welcome(wechat):
    result = wechat.post(message_xml("oAcceptSub0001", "event", {"Event": "subscribe"}))
    assert result.status == 200 and result.encrypted and "投诉" in result.text


def test_complaint_in_aes_mode_gets_a_number_within_a_second(wechat):
    result = wechat.send_text("oAcceptCitizen01", "区人社局窗口的人不理人，问了三遍都不搭理我")
    assert result.status == 200 and result.encrypted
    assert result.elapsed < 1.0, result.elapsed
    number_of(result.text)


def test_retries_return_the_same_number_and_create_no_ticket(wechat):
    msg_id = next_msg_id()
    xml = text_xml("oAcceptRetry001", "不动产登记中心办房产证等了三个月还没办好", msg_id)
    numbers = {number_of(wechat.post(xml).text) for _ in range(3)}
    assert len(numbers) == 1
    first = numbers.pop()
    later = wechat.send_text("oAcceptRetry002", "税务局办税大厅的人上班打游戏，半天没人办")
    assert sequence(number_of(later.text)) == sequence(first) + 1


def test_three_concurrent_deliveries_are_one_ticket(served, wechat):
    xml = text_xml("oAcceptConc0001", "医保局报销材料交了两个月没消息，打电话也没人接")
    body, params = wechat.encrypted_request(xml)
    results: list = []

    def deliver() -> None:
        sender = WeChatServer(http_transport(served.url), TOKEN, AES_KEY, APPID)
        results.append(sender._read(sender.post_raw(body, params), params))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert [r.status for r in results] == [200, 200, 200]
    numbers = {number_of(r.text) for r in results}
    assert len(numbers) == 1
    later = wechat.send_text("oAcceptConc0002", "城管局的人态度粗暴，骂人，还推搡")
    assert sequence(number_of(later.text)) == sequence(numbers.pop()) + 1


def test_look_up_by_number_reveals_nothing_to_another_openid(wechat):
    owner = "oAcceptLookup01"
    number = number_of(wechat.send_text(owner, "公安分局户籍窗口办户口迁移拖了一个多月").text)
    wechat.send_text(owner, "取消")
    mine = wechat.send_text(owner, f"查询 {number}").text
    assert number in mine and ("已派单" in mine or "已受理" in mine)
    other = wechat.send_text("oAcceptStranger", f"查询 {number}").text
    assert "没有查到" in other
    assert "公安" not in other and "户口" not in other and "已派单" not in other


def test_forged_signature_is_403(wechat):
    assert wechat.post_plain(text_xml("oAcceptForge01", "你好"), token="forged").status == 403
    body, params = wechat.encrypted_request(text_xml("oAcceptForge01", "你好"))
    params["msg_signature"] = "f" * 40
    assert wechat.post_raw(body, params).status == 403


def test_broken_xml_is_400(wechat):
    assert wechat.post_raw(b"<xml><ToUserName>gh</ToUser").status == 400
    body, params = wechat.encrypted_request("<xml><MsgType>text</Msg")
    assert wechat.post_raw(body, params).status == 400


def test_three_mib_body_is_413(wechat):
    result = wechat.post_raw(b"<xml><Content>" + b"a" * (3 * 1024 * 1024) + b"</Content></xml>")
    assert result.status == 413


@pytest.mark.parametrize("bomb", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_entity_bomb_and_xxe_are_400_within_two_seconds(wechat, bomb):
    plain = wechat.post_raw(bomb.encode())
    assert plain.status == 400 and plain.elapsed < 2
    assert "root:" not in plain.body
    body, params = wechat.encrypted_request(bomb)
    encrypted = wechat.post_raw(body, params)
    assert encrypted.status == 400 and encrypted.elapsed < 2


def test_plaintext_message_in_compatible_mode(wechat):
    result = wechat.post_plain(text_xml("oAcceptPlain001", "帮助"))
    assert result.status == 200 and not result.encrypted and "使用说明" in result.text


def test_unknown_message_type_gets_a_polite_reply(wechat):
    result = wechat.post(message_xml("oAcceptVideo001", "video",
                                     {"MediaId": "v1", "ThumbMediaId": "t1",
                                      "MsgId": next_msg_id()}))
    assert result.status == 200 and "暂不支持" in result.text


def test_server_is_healthy_after_all_of_it(served, wechat):
    health = requests.get(f"{served.url}/healthz", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert number_of(wechat.send_text("oAcceptLast0001", "社保局办事拖了两个月还没办好").text)
    assert served.process.poll() is None
    assert SECRET not in served.output and AES_KEY not in served.output
    assert TOKEN not in served.output and "demo Token" not in served.output


# --- start-up: the embedded demo config and config errors --------------------------------

def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "BOT_CONFIG"}


def test_serve_with_the_embedded_demo_config(tmp_path, monkeypatch):
    monkeypatch.delenv("BOT_CONFIG", raising=False)
    bot = ServedBot([], tmp_path)
    try:
        health = bot.wait_healthy()
        assert health["status"] == "ok" and health["mode"] == "compatible"
        assert (tmp_path / "data" / "complaints.db").is_file()
        assert "embedded demo config" in bot.output and "demo Token" in bot.output
    finally:
        bot.stop()


def run_serve(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    config = tmp_path / "broken.toml"
    config.write_text(text, "utf-8")
    return subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--config", str(config), "--port",
         str(free_port())], cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**clean_env(), "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.parametrize(("text", "key"), [
    (f'[wechat]\nappid = "{APPID}"\nsecret = "{SECRET}"\n', "wechat.token"),
    (f'[wechat]\ntoken = "{TOKEN}"\nappid = "{APPID}"\nsecret = "{SECRET}"\n'
     f'encoding_aes_key = "{AES_KEY[:40]}"\n', "wechat.encoding_aes_key"),
    (f'[wechat]\ntoken = "{TOKEN}"\nsecret = "{SECRET}"\n[server]\nport = "eighty"\n',
     "server.port"),
    (f'[wechat]\ntoken = "{TOKEN}"\nsecret = "{SECRET}"\n[scheduler]\nenabled = "yes"\n',
     "scheduler.enabled"),
], ids=["missing-token", "aes-key-length", "wrong-type-port", "wrong-type-bool"])
def test_config_errors_stop_start_up_naming_key_and_file(tmp_path, text, key):
    result = run_serve(tmp_path, text)
    assert result.returncode == 2, result.stderr
    assert key in result.stderr and "broken.toml" in result.stderr
    output = result.stdout + result.stderr
    for secret in (TOKEN, SECRET, AES_KEY[:40]):
        assert secret not in output


def test_unparsable_toml_stops_start_up_naming_the_file(tmp_path):
    result = run_serve(tmp_path, f'[wechat\ntoken = "{TOKEN}"\n')
    assert result.returncode == 2
    assert "broken.toml" in result.stderr and "TOML" in result.stderr
    assert TOKEN not in result.stdout + result.stderr

