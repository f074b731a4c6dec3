"""The /wechat protocol, driven by an independent WeChat-server client (tests/protocol_client.py).

Every bad input the issue lists is refused with the right status and creates
nothing; good input in each mode is answered in that mode; the inbox keeps
every message once, whatever the retries or a crashing handler do.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from bot import create_app, webhook, wxprotocol
from bot.config import parse_text
from storage.db import close_all, get_db
from tests.conftest import TOKEN, make_config
from tests.protocol_client import (
    BILLION_LAUGHS,
    XXE,
    AesCipher,
    WeChatServer,
    flask_transport,
    message_xml,
    next_msg_id,
    sha1_signature,
    text_xml,
)

AES_KEY = "Q29tcGxhaW50RGVza1Byb3RvY29sVGVzdEtleTAwMDA"
APPID = "wx1234567890abcdef"
CITIZEN = "oProtocolCitizen01"

# Tencent's published message-encryption sample: the 公众平台 消息加解密 sample code
# (WXBizMsgCrypt, Python demo Sample.py by jonyqin, 2014; the same values appear in
# the Node port fotock/WXbizMsgCrypt-Node README). Decrypting it with our own client
# below reproduces the published msg_sign, so the client is right before it tests us.
SAMPLE_TOKEN = "spamtest"
SAMPLE_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLE_APPID = "wx2c2769f8efd9abc2"
SAMPLE_TIMESTAMP = "1409735669"
SAMPLE_NONCE = "1320562132"
SAMPLE_MSG_SIGN = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8"
    "PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jis"
    "a+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6"
    "X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl"
    "9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
SAMPLE_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA["
    "oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime>"
    "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content>"
    "<MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[" + SAMPLE_ENCRYPT + "]]></Encrypt></xml>"
)



def _app(config):  # noqa: ANN001, ANN202
    app = create_app(config)
    return app, get_db(config["storage.path"])


@pytest.fixture
def plain(tmp_path):  # noqa: ANN001, ANN201
    """A plaintext-mode app and a WeChat server posting to it."""
    app, db = _app(make_config(tmp_path))
    yield WeChatServer(flask_transport(app.test_client()), TOKEN), db
    close_all()


@pytest.fixture
def aes(tmp_path):  # noqa: ANN001, ANN201
    """A compatible-mode app (AES key, no mode) and a WeChat server with the same key."""
    app, db = _app(make_config(tmp_path, aes_key=AES_KEY))
    yield WeChatServer(flask_transport(app.test_client()), TOKEN, AES_KEY, APPID), db
    close_all()


@pytest.fixture
def safe(tmp_path):  # noqa: ANN001, ANN201
    app, db = _app(_safe_config(tmp_path))
    yield WeChatServer(flask_transport(app.test_client()), TOKEN, AES_KEY, APPID), db
    close_all()


def _safe_config(tmp_path):  # noqa: ANN001, ANN202
    text = f"""
[wechat]
token = "{TOKEN}"
appid = "{APPID}"
encoding_aes_key = "{AES_KEY}"
mode = "safe"
[storage]
path = "{tmp_path / 'safe.db'}"
[scheduler]
enabled = false
"""
    return parse_text(text, "safe-config")


@pytest.fixture
def parsed(monkeypatch) -> list[bytes]:
    """Every body that reaches wechatpy's message parser."""
    seen: list[bytes] = []
    real = wxprotocol.parse_message

    def spy(xml):  # noqa: ANN001, ANN202
        seen.append(xml)
        return real(xml)

    monkeypatch.setattr(wxprotocol, "parse_message", spy)
    return seen


def count(db, table: str) -> int:  # noqa: ANN001
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def message_row(db, key: str) -> dict:  # noqa: ANN001
    rows = list(db.query("SELECT * FROM messages WHERE key = ?", [key]))
    assert rows, f"message {key} was not kept"
    return rows[0]


# --- the independent client itself, against Tencent's published sample ----------------

def test_protocol_client_reproduces_tencents_published_sample():
    assert sha1_signature(SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE,
                          SAMPLE_ENCRYPT) == SAMPLE_MSG_SIGN
    xml, appid = AesCipher(SAMPLE_AES_KEY, SAMPLE_APPID).decrypt(SAMPLE_ENCRYPT)
    assert appid == SAMPLE_APPID
    assert "<Content><![CDATA[abcdteT]]></Content>" in xml


def test_webhook_decrypts_tencents_sample_and_answers_encrypted(tmp_path):
    config = parse_text(f"""
[wechat]
token = "{SAMPLE_TOKEN}"
appid = "{SAMPLE_APPID}"
encoding_aes_key = "{SAMPLE_AES_KEY}"
[storage]
path = "{tmp_path / 'sample.db'}"
[scheduler]
enabled = false
""", "sample-config")
    app, db = _app(config)
    server = WeChatServer(flask_transport(app.test_client()), SAMPLE_TOKEN, SAMPLE_AES_KEY,
                          SAMPLE_APPID)
    params = {"timestamp": SAMPLE_TIMESTAMP, "nonce": SAMPLE_NONCE, "encrypt_type": "aes",
              "msg_signature": SAMPLE_MSG_SIGN,
              "signature": sha1_signature(SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE)}
    result = server._read(server.post_raw(SAMPLE_BODY.encode(), params), params)
    assert result.status == 200 and result.encrypted
    assert result.fields["ToUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert result.text  # a polite answer to "abcdteT"
    assert message_row(db, "6054768590064713728")["status"] == "handled"
    close_all()


# --- URL verification and signatures --------------------------------------------------

def test_url_verification_echoes_only_with_the_right_signature(plain):
    server, _ = plain
    assert (server.verify("echo123").status, server.verify("echo123").body) == (200, "echo123")
    wrong = server.verify("echo123", token="not-the-token")
    assert wrong.status == 403 and "echo123" not in wrong.body


def test_forged_signature_is_refused_and_nothing_kept(plain):
    server, db = plain
    result = server.post_plain(text_xml(CITIZEN, "区人社局不理人"), token="forged")
    assert result.status == 403
    assert count(db, "messages") == 0


def test_wrong_msg_signature_is_refused(aes):
    server, db = aes
    body, params = server.encrypted_request(text_xml(CITIZEN, "区人社局不理人"))
    params["msg_signature"] = "0" * 40
    assert server.post_raw(body, params).status == 403
    assert count(db, "messages") == 0


def test_ciphertext_for_another_appid_is_refused(aes):
    server, db = aes
    server.cipher = AesCipher(AES_KEY, "wxsomeoneelse00000")
    assert server.post_aes(text_xml(CITIZEN, "你好")).status == 400
    assert count(db, "messages") == 0


# --- modes ----------------------------------------------------------------------------

def test_plaintext_mode_answers_in_plaintext(plain):
    server, _ = plain
    result = server.post_plain(message_xml(CITIZEN, "event", {"Event": "subscribe"}))
    assert result.status == 200 and not result.encrypted and "投诉" in result.text


def test_compatible_mode_answers_each_request_in_its_own_mode(aes):
    server, _ = aes
    encrypted = server.post_aes(message_xml(CITIZEN, "event", {"Event": "subscribe"}))
    assert encrypted.status == 200 and encrypted.encrypted and "投诉" in encrypted.text
    plaintext = server.post_plain(text_xml(CITIZEN, "帮助"))
    assert plaintext.status == 200 and not plaintext.encrypted and plaintext.text


def test_compatible_mode_uses_the_ciphertext_not_the_plain_copy(aes):
    """Compatible mode sends both; only the signed ciphertext may count."""
    server, db = aes
    body, params = server.encrypted_request(
        text_xml(CITIZEN, "帮助", msg_id="111"),
        with_plain_fields="<FromUserName><![CDATA[oForged]]></FromUserName>"
                          "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[x]]></Content>")
    result = server._read(server.post_raw(body, params), params)
    assert result.status == 200 and result.encrypted
    assert message_row(db, "111")["openid"] == CITIZEN


def test_safe_mode_refuses_plaintext(safe):
    server, db = safe
    assert server.post_plain(text_xml(CITIZEN, "帮助")).status == 400
    assert server.post_aes(text_xml(CITIZEN, "帮助")).status == 200
    assert count(db, "messages") == 1


def test_plaintext_mode_refuses_aes(plain):
    server, db = plain
    sender = WeChatServer(server.transport, TOKEN, AES_KEY, APPID)
    assert sender.post_aes(text_xml(CITIZEN, "帮助")).status == 400
    assert count(db, "messages") == 0


# --- timestamp window (plaintext bodies are not signed) --------------------------------

def test_plaintext_outside_the_time_window_is_refused(plain):
    server, db = plain
    stale = int(time.time()) - 11 * 60
    assert server.post_plain(text_xml(CITIZEN, "帮助"), timestamp=stale).status == 403
    future = int(time.time()) + 11 * 60
    assert server.post_plain(text_xml(CITIZEN, "帮助"), timestamp=future).status == 403
    recent = int(time.time()) - 9 * 60
    assert server.post_plain(text_xml(CITIZEN, "帮助"), timestamp=recent).status == 200
    assert count(db, "messages") == 1


def test_time_window_is_configurable(tmp_path):
    app, _ = _app(_window_config(tmp_path, 60))
    server = WeChatServer(flask_transport(app.test_client()), TOKEN)
    assert server.post_plain(text_xml(CITIZEN, "帮助"),
                             timestamp=int(time.time()) - 120).status == 403
    assert server.post_plain(text_xml(CITIZEN, "帮助"),
                             timestamp=int(time.time()) - 30).status == 200
    close_all()


def _window_config(tmp_path, seconds: int):  # noqa: ANN001, ANN202
    return parse_text(f"""
[wechat]
token = "{TOKEN}"
plaintext_max_age_seconds = {seconds}
[storage]
path = "{tmp_path / 'window.db'}"
[scheduler]
enabled = false
""", "window-config")


def test_non_numeric_timestamp_or_odd_nonce_is_refused(plain):
    server, _ = plain
    body = text_xml(CITIZEN, "帮助").encode()
    params = {"timestamp": "soon", "nonce": "1",
              "signature": sha1_signature(TOKEN, "soon", "1")}
    assert server.post_raw(body, params).status == 400
    stamp = str(int(time.time()))
    params = {"timestamp": stamp, "nonce": "]]><x>",
              "signature": sha1_signature(TOKEN, stamp, "]]><x>")}
    assert server.post_raw(body, params).status == 400


# --- bad bodies ------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b"", b"not xml at all", b"<xml><ToUserName>gh</ToUserName>", b"<xml>text only</xml>",
    b"<other><MsgType>text</MsgType></other>", b"<xml/>", "<xml>中文</xml>".encode("gbk"),
    b"\xff\xfe<\x00x\x00m\x00l\x00>\x00",
])
def test_unreadable_bodies_are_400(plain, body):
    server, db = plain
    assert server.post_raw(body).status == 400
    assert count(db, "messages") == 0


@pytest.mark.parametrize("body", [
    BILLION_LAUGHS, XXE,
    '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml><MsgType>text</MsgType></xml>',
    '<?pi <xml> ?><!DOCTYPE x [<!ENTITY a "b">]><xml></xml>',
    '<!-- <xml> --><!DOCTYPE x [<!ENTITY a "b">]><xml></xml>',
    "<xml><![CDATA[x]]><!DOCTYPE y></xml>",
])
def test_doctype_and_entity_declarations_are_400_without_expansion(plain, body, parsed):
    server, db = plain
    result = server.post_raw(body.encode())
    assert parsed == []  # refused before any XML parser saw it
    assert result.status == 400 and result.elapsed < 1
    assert "root:" not in result.body and "hahaha" not in result.body
    assert count(db, "messages") == 0


def test_entity_bomb_inside_the_ciphertext_is_400(aes, parsed):
    server, db = aes
    result = server.post_aes(BILLION_LAUGHS)
    assert parsed == []
    assert result.status == 400 and result.elapsed < 1
    assert count(db, "messages") == 0


def test_a_complaint_quoting_doctype_in_cdata_is_accepted(plain):
    server, db = plain
    result = server.post_plain(text_xml(CITIZEN, "网站报错 <!DOCTYPE html> 办不了事", "4242"))
    assert result.status == 200
    assert message_row(db, "4242")["status"] == "handled"


def test_oversized_body_is_413(plain):
    server, db = plain
    padding = "长" * (400 * 1024)  # 1.2 MB of UTF-8
    assert server.post_plain(text_xml(CITIZEN, padding)).status == 413
    assert count(db, "messages") == 0


@pytest.mark.parametrize("fields", [
    "<MsgType>text</MsgType><MsgType>event</MsgType>",
    "<MsgType>text</MsgType><Content>a</Content><Content>b</Content>",
    "<MsgType>text</MsgType><Content><b>nested</b></Content>",
    '<MsgType>text</MsgType><Content lang="zh">with attribute</Content>',
    "<MsgType>text</MsgType><Content>x</Content><MsgId>12ab</MsgId>",
    "<MsgType><x/></MsgType>",
])
def test_duplicated_nested_or_malformed_fields_are_400(plain, fields):
    server, db = plain
    xml = (f"<xml><ToUserName>gh_x</ToUserName><FromUserName>{CITIZEN}</FromUserName>"
           f"<CreateTime>{int(time.time())}</CreateTime>{fields}</xml>")
    assert server.post_plain(xml).status == 400
    assert count(db, "messages") == 0


@pytest.mark.parametrize("head", [
    "<ToUserName>gh_x</ToUserName><FromUserName>a</FromUserName><FromUserName>b</FromUserName>",
    "<ToUserName>gh_x</ToUserName><FromUserName>bad user/../</FromUserName>",
    "<ToUserName>gh_x</ToUserName>",
])
def test_bad_or_missing_sender_is_400(plain, head):
    server, _ = plain
    xml = f"<xml>{head}<CreateTime>1700000000</CreateTime><MsgType>text</MsgType></xml>"
    assert server.post_plain(xml).status == 400


def test_non_ascii_digits_in_create_time_are_400(plain):
    server, _ = plain
    xml = message_xml(CITIZEN, "text", {"Content": "帮助", "MsgId": next_msg_id()},
                      create_time=None).replace("<CreateTime>", "<CreateTime>١٢٣", 1)
    assert server.post_plain(xml).status == 400


@pytest.mark.parametrize("msg_type", ["video", "shortvideo", "link", "miniprogrampage", "zzz"])
def test_unknown_message_types_get_a_polite_reply(plain, msg_type):
    server, db = plain
    msg_id = next_msg_id()
    result = server.post_plain(message_xml(CITIZEN, msg_type, {"MediaId": "m", "MsgId": msg_id}))
    assert result.status == 200 and "暂不支持" in result.text
    assert message_row(db, msg_id)["status"] == "handled"


# --- replies ---------------------------------------------------------------------------

def test_cdata_terminator_in_a_reply_stays_well_formed(plain, aes, monkeypatch):
    monkeypatch.setattr(webhook, "handle", lambda ctx: "答复]]><x>含有 ]]> 两次")
    for server, _ in (plain, aes):
        result = server.post(text_xml(CITIZEN, "帮助"))
        assert result.status == 200 and result.text == "答复]]><x>含有 ]]> 两次"


def test_long_reply_is_split_first_part_passive_rest_in_outbox(plain, monkeypatch):
    server, db = plain
    lines = [f"第{i:03d}行：" + "办理进度说明" * 10 for i in range(60)]
    monkeypatch.setattr(webhook, "handle", lambda ctx: "\n".join(lines))
    msg_id = next_msg_id()
    result = server.post_plain(text_xml(CITIZEN, "帮助", msg_id))
    assert result.status == 200 and len(result.text.encode()) <= 2000
    assert "其余内容稍后发送" in result.text and result.text.startswith(lines[0])
    queued = [row["payload"] for row in db.query(
        "SELECT payload FROM outbox WHERE dedupe_key LIKE ? ORDER BY id", [f"reply:{msg_id}:%"])]
    assert queued and all(len(p.encode()) <= 2100 for p in queued)
    delivered = result.text + "".join(queued)
    assert all(line in delivered for line in lines)
    again = server.post_plain(text_xml(CITIZEN, "帮助", msg_id))
    assert again.text == result.text
    assert count(db, "outbox") == len(queued)


@pytest.mark.parametrize("limit", [1, 7, 50, 2000])
def test_split_reply_keeps_every_character_within_the_limit(limit):
    text = "短行\n" + "长" * 900 + "\nabc" * 30 + "\n🙂" * 20
    parts = wxprotocol.split_reply(text, max(limit, 4))
    assert all(len(p.encode()) <= max(limit, 4) for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")


# --- inbox: retries and crashes ----------------------------------------------------------

def test_sequential_retry_returns_the_first_reply_and_runs_the_handler_once(plain, monkeypatch):
    server, db = plain
    calls: list[str] = []

    def counting(ctx):  # noqa: ANN001, ANN202
        calls.append(ctx.incoming.key)
        return f"第{len(calls)}次处理"

    monkeypatch.setattr(webhook, "handle", counting)
    xml = text_xml(CITIZEN, "帮助", "9001")
    replies = {server.post_plain(xml).text for _ in range(3)}
    assert replies == {"第1次处理"} and calls == ["9001"]
    assert count(db, "messages") == 1


def test_event_retries_are_keyed_by_sender_time_and_event(plain, monkeypatch):
    server, db = plain
    calls: list[str] = []
    monkeypatch.setattr(webhook, "handle", lambda ctx: calls.append(ctx.incoming.key) or "ok")
    xml = message_xml(CITIZEN, "event", {"Event": "subscribe"}, create_time=1700000000)
    stamp = 1700000000
    assert server.post_plain(xml).text == server.post_plain(xml).text == "ok"
    assert calls == [f"{CITIZEN}:{stamp}:subscribe"]
    other = message_xml(CITIZEN, "event", {"Event": "CLICK", "EventKey": "HELP"},
                        create_time=stamp)
    server.post_plain(other)
    assert len(calls) == 2 and count(db, "messages") == 2


def test_concurrent_retries_wait_for_the_first_delivery(tmp_path, monkeypatch):
    """Three deliveries at once (threads, each with its own connection): one handling."""
    app, db = _app(make_config(tmp_path))
    calls: list[str] = []

    def slow(ctx):  # noqa: ANN001, ANN202
        calls.append(ctx.incoming.key)
        time.sleep(0.5)
        return "慢慢处理完毕"

    monkeypatch.setattr(webhook, "handle", slow)
    xml = text_xml(CITIZEN, "帮助", "9100")
    results: list[str] = []

    def deliver() -> None:
        server = WeChatServer(flask_transport(app.test_client()), TOKEN)
        results.append(server.post_plain(xml).text)
        close_all()

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ["慢慢处理完毕"] * 3 and calls == ["9100"]
    assert count(db, "messages") == 1
    close_all()


def test_a_reused_msg_id_from_another_sender_reveals_nothing(plain, monkeypatch):
    server, _ = plain
    monkeypatch.setattr(webhook, "handle", lambda ctx: f"您的工单属于 {ctx.openid}")
    assert CITIZEN in server.post_plain(text_xml(CITIZEN, "帮助", "9200")).text
    other = server.post_plain(message_xml("oSomeoneElse", "text",
                                          {"Content": "帮助", "MsgId": "9200"}))
    assert other.status == 200 and other.body == "success"


def test_handler_crash_keeps_the_message_apologises_and_logs_the_key(plain, monkeypatch,
                                                                     caplog):
    server, db = plain
    calls: list[str] = []

    def crash(ctx):  # noqa: ANN001, ANN202
        calls.append("x")
        ctx.db.execute("INSERT INTO kv (key, value) VALUES ('partial', 'work')")
        raise RuntimeError("handler bug")

    monkeypatch.setattr(webhook, "handle", crash)
    caplog.set_level(logging.ERROR, logger="bot.webhook")
    xml = text_xml(CITIZEN, "区人社局窗口的人不理人", "9300")
    result = server.post_plain(xml)
    assert result.status == 200 and "抱歉" in result.text and "已保存" in result.text
    row = message_row(db, "9300")
    assert row["status"] == "failed" and "RuntimeError: handler bug" in row["error"]
    assert "区人社局窗口的人不理人" in row["raw"]
    assert count(db, "kv") == 0  # the handler's partial writes were rolled back
    assert any("9300" in r.getMessage() and r.exc_info for r in caplog.records)
    assert server.post_plain(xml).text == result.text and calls == ["x"]


def test_the_message_and_the_handlers_writes_commit_together(plain, monkeypatch):
    """One write transaction per message: nothing of it is visible half-done.

    A worker killed before the commit has answered nothing, so WeChat retries
    and the retry starts clean (tests/test_chaos.py kills workers under load).
    """
    server, db = plain
    seen: list[tuple[int, int]] = []

    def look_from_outside(ctx):  # noqa: ANN001, ANN202
        import sqlite3

        ctx.db.execute("INSERT INTO kv (key, value) VALUES ('handler', 'work')")
        other = sqlite3.connect(ctx.config["storage.path"])
        seen.append((other.execute("SELECT count(*) FROM messages WHERE key='9400'").fetchone()[0],
                     other.execute("SELECT count(*) FROM kv").fetchone()[0]))
        other.close()
        return "ok"

    monkeypatch.setattr(webhook, "handle", look_from_outside)
    assert server.post_plain(text_xml(CITIZEN, "帮助", "9400")).text == "ok"
    assert seen == [(0, 0)]
    assert message_row(db, "9400")["status"] == "handled" and count(db, "kv") == 1


def test_storage_failure_while_handling_keeps_the_message_for_recovery(plain, monkeypatch,
                                                                       caplog):
    import sqlite3

    server, db = plain

    def disk_full(ctx):  # noqa: ANN001, ANN202
        ctx.db.execute("INSERT INTO kv (key, value) VALUES ('partial', 'work')")
        ctx.db.conn.execute("ROLLBACK")  # what SQLite does on SQLITE_FULL
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(webhook, "handle", disk_full)
    caplog.set_level(logging.ERROR, logger="bot.webhook")
    result = server.post_plain(text_xml(CITIZEN, "区人社局窗口的人不理人", "9450"))
    assert result.status == 200 and "抱歉" in result.text
    row = message_row(db, "9450")
    assert row["status"] == "new" and "区人社局窗口的人不理人" in row["raw"]
    assert count(db, "kv") == 0
    assert any("9450" in r.getMessage() and r.exc_info for r in caplog.records)


def test_replies_come_well_inside_five_seconds(aes):
    server, _ = aes
    server.post_aes(text_xml(CITIZEN, "区人社局窗口的人不理人，问了三遍都不搭理我"))  # warm up
    timings = []
    for i in range(5):
        result = server.post_aes(text_xml(f"oTiming{i:04d}", "社保局办事拖了两个月还没办好"))
        assert result.status == 200 and "GF" in result.text
        timings.append(result.elapsed)
    assert max(timings) < 1.0, timings


def test_healthz_counts_failed_messages(tmp_path, monkeypatch):
    app, _ = _app(make_config(tmp_path))
    client = app.test_client()
    assert client.get("/healthz").get_json()["messages_failed"] == 0
    monkeypatch.setattr(webhook, "handle", lambda ctx: 1 / 0)
    server = WeChatServer(flask_transport(client), TOKEN)
    assert "抱歉" in server.post_plain(text_xml(CITIZEN, "帮助")).text
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["messages_failed"] == 1
    close_all()


def test_duplicated_encrypt_tag_is_400(aes):
    server, db = aes
    body, params = server.encrypted_request(text_xml(CITIZEN, "帮助"))
    doubled = body.replace(b"</xml>", b"<Encrypt><![CDATA[QUJD]]></Encrypt></xml>")
    assert server.post_raw(doubled, params).status == 400
    assert count(db, "messages") == 0


def test_storage_failure_asks_the_citizen_to_resend(plain, monkeypatch, caplog):
    import sqlite3

    server, db = plain

    def locked(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(webhook.inbox, "keep", locked)
    caplog.set_level(logging.ERROR, logger="bot.webhook")
    result = server.post_plain(text_xml(CITIZEN, "区人社局窗口的人不理人", "9500"))
    assert result.status == 200 and "再发" in result.text
    assert any("9500" in r.getMessage() for r in caplog.records)
    assert count(db, "messages") == 0
