"""Property-based fuzzing of POST /wechat: never a 500, never a ticket named but not kept.

Bodies are random bytes, random XML and random field types and sizes, in
plaintext and AES mode; some are signed properly so they reach the parser
and the handlers, some are not and must stop at the signature check.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto

from bench.chaos import decrypt_reply
from bot import create_app
from bot.webhook import handle_queued
from bot.wxprotocol import parse, to_incoming
from handlers.texts import replies, say
from storage import intake
from storage.db import close_all, get_db
from tests.chat import reply_content, sign
from tests.conftest import TOKEN, make_config

AES_KEY = base64.b64encode(b"fuzz-key-0123456789abcdefghijklm").decode()[:43]
APPID = "wx1234567890abcdef"
FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
ALLOWED = {200, 400, 403, 413}
FIELDS = ("ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event",
          "EventKey", "MediaId", "PicUrl", "Recognition", "Location_X", "Location_Y", "Label",
          "Format", "Scale")
MSG_TYPES = ("text", "image", "voice", "location", "event", "link", "video", "shortvideo")
TICKET = re.compile(r"GF\d{8}-\d{4}")
# The help texts show an example number ("查询 GF20261125-0001"): not a ticket named.
EXAMPLE_NUMBERS = frozenset(TICKET.findall("\n".join(replies().values())))


@pytest.fixture
def fuzz_app(tmp_path):  # noqa: ANN001, ANN201
    """Compatible mode: plaintext and AES both accepted."""
    application = create_app(make_config(tmp_path, aes_key=AES_KEY))
    yield application
    close_all()


def _query(token: str = TOKEN, **extra: str) -> dict[str, str]:
    stamp, nonce = str(int(time.time())), "4242"
    return {"timestamp": stamp, "nonce": nonce, "signature": sign(token, stamp, nonce), **extra}


def _check_reply(app, status: int, body: str, encrypted: bool) -> None:  # noqa: ANN001
    """The contract every answer obeys, whatever came in."""
    assert status in ALLOWED, (status, body[:300])
    event(f"status {status}")
    if status != 200:
        return
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    text = decrypt_reply(crypto, body) if encrypted else reply_content(body)
    numbers = set(TICKET.findall(text)) - EXAMPLE_NUMBERS
    event("reply names a ticket" if numbers else "reply without a ticket")
    db = get_db(app.config["BOT"]["storage.path"])
    for number in numbers:
        found = db.execute("SELECT count(*) FROM tickets WHERE number = ?", [number]).fetchone()
        assert found[0] == 1, f"reply names {number}, which is not in the database"


def _post_plain(app, body: bytes, query: dict[str, str]):  # noqa: ANN001, ANN202
    response = app.test_client().post("/wechat", query_string=query, data=body)
    return response.status_code, response.get_data(as_text=True)


def _post_aes(app, xml: str):  # noqa: ANN001, ANN202
    query = _query()
    crypto = WeChatCrypto(TOKEN, AES_KEY, APPID)
    encrypted = crypto.encrypt_message(xml, query["nonce"], query["timestamp"])
    signature = encrypted.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
    query.update(encrypt_type="aes", msg_signature=signature)
    return _post_plain(app, encrypted.encode(), query)


raw_texts = st.text(st.characters(codec="utf-8"), max_size=600)  # control characters too
texts = st.one_of(st.text(st.characters(codec="utf-8", exclude_categories=("Cc",)),
                          max_size=600), raw_texts)
COMPLAINTS = ("区人社局窗口的人不理人，办社保卡跑了三趟",
              "区市场监管局办营业执照拖了一个月还没办好",
              "区税务局办税大厅的人上班打游戏，没人办事",
              "镇政府的人吃拿卡要，不给好处不办")
complaints = st.builds(lambda head, tail: head + tail, st.sampled_from(COMPLAINTS), texts)
values = st.one_of(texts, complaints, st.integers().map(str), st.floats(allow_nan=True).map(str),
                   st.sampled_from(["", " ", "oCitizen0001", "GF20261125-0001", "subscribe",
                                    "CLICK", "COMPLAIN", "999999999999999999999"]))
field_map = st.dictionaries(st.sampled_from(FIELDS), values, max_size=12)


def _xml(fields: dict[str, str], raw_tail: str = "") -> str:
    return "<xml>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in fields.items()) + raw_tail \
        + "</xml>"


@st.composite
def messages(draw: st.DrawFn) -> str:
    """Mostly well-formed messages with random content, types and sizes."""
    valid = draw(st.booleans())  # half of them pass every structural check
    fields = {"ToUserName": "gh_fuzz", "FromUserName": draw(
        st.sampled_from(["oFuzz0001", "oFuzz0002"]) if valid else st.text(max_size=80)),
        "CreateTime": str(int(time.time())) if valid else draw(
            st.sampled_from(["abc", "-1", "", "1.5"])),
        "MsgType": draw(st.sampled_from(MSG_TYPES) | st.text(max_size=20)),
        "MsgId": str(draw(st.integers(min_value=-10, max_value=10**20)))}
    extra = draw(field_map)
    fields.update({k: v for k, v in extra.items() if not valid or k not in fields})
    tail = "" if valid else draw(st.sampled_from(
        ["<Content>twice</Content>", "<Extra><a>nested</a></Extra>", "<![CDATA[x]]>",
         "<!-- c -->"]))
    return _xml(fields, tail)


@FUZZ
@given(body=st.binary(max_size=3000), signed=st.booleans(), aes=st.booleans())
def test_random_bytes(fuzz_app, body: bytes, signed: bool, aes: bool) -> None:  # noqa: ANN001
    query = _query() if signed else _query(token="wrong-token")
    if aes:
        query.update(encrypt_type="aes", msg_signature="0" * 40)
    status, text = _post_plain(fuzz_app, body, query)
    _check_reply(fuzz_app, status, text, encrypted=aes)
    if not signed:
        assert status == 403


@FUZZ
@given(xml=messages())
def test_random_xml_signed_plaintext(fuzz_app, xml: str) -> None:  # noqa: ANN001
    status, text = _post_plain(fuzz_app, xml.encode("utf-8", "surrogatepass"), _query())
    _check_reply(fuzz_app, status, text, encrypted=False)


@FUZZ
@given(xml=messages())
def test_random_xml_signed_aes(fuzz_app, xml: str) -> None:  # noqa: ANN001
    status, text = _post_aes(fuzz_app, xml)
    _check_reply(fuzz_app, status, text, encrypted=True)


@pytest.fixture
def surge_app(tmp_path):  # noqa: ANN001, ANN201
    """Every message acknowledged first: kept in an intake journal, handled by the drain."""
    application = create_app(make_config(tmp_path, aes_key=AES_KEY, surge="always"))
    yield application
    close_all()


@FUZZ
@given(xml=messages())
def test_random_xml_in_a_surge_is_acknowledged_then_handled_once(surge_app, xml: str) -> None:  # noqa: ANN001
    """What the drain takes from the journals never crashes it; an acknowledged message is
    kept and handled, nothing stays waiting, and every ticket a message names exists."""
    status, body = _post_aes(surge_app, xml)
    assert status in ALLOWED, (status, body[:300])
    config = surge_app.config["BOT"]
    db = get_db(config["storage.path"])
    intake.take(db, config["storage.path"], settle_seconds=0)
    with surge_app.app_context():
        while handle_queued(db, config):
            pass
    text = decrypt_reply(WeChatCrypto(TOKEN, AES_KEY, APPID), body) if status == 200 else ""
    event("acknowledged" if text == say("queued") else f"status {status}")
    if text == say("queued"):
        key = to_incoming(parse(xml.encode("utf-8", "surrogatepass"))).key
        kept = db.execute("SELECT status FROM messages WHERE key = ?", [key]).fetchone()
        assert kept is not None and kept[0] in ("handled", "failed"), (key, kept)
    assert intake.unread_count(db, config["storage.path"]) == 0
    assert db.execute("SELECT count(*) FROM messages WHERE status IN ('queued', 'new')"
                      ).fetchone()[0] == 0
    orphans = db.execute(
        "SELECT count(*) FROM messages m WHERE m.ticket_number IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM tickets t WHERE t.number = m.ticket_number)").fetchone()[0]
    assert orphans == 0


@FUZZ
@given(content=st.one_of(texts, complaints), msg_id=st.integers(min_value=1, max_value=10**18),
       fresh=st.booleans())
def test_random_unicode_complaints(fuzz_app, content: str, msg_id: int,  # noqa: ANN001
                                   fresh: bool) -> None:
    """A new citizen each time, or one citizen in the middle of a conversation."""
    openid = f"oF{msg_id}" if fresh else "oFuzzA"
    xml = _xml({"ToUserName": "gh_fuzz", "FromUserName": openid,
                "CreateTime": str(int(time.time())), "MsgType": "text", "Content": content,
                "MsgId": str(msg_id)})
    status, text = _post_aes(fuzz_app, xml)
    _check_reply(fuzz_app, status, text, encrypted=True)
    assert status in (200, 400)


@FUZZ
@given(xml=messages(), field=st.sampled_from(["timestamp", "nonce", "signature"]),
       value=st.text(max_size=50))
def test_tampered_signatures_are_refused(fuzz_app, xml: str, field: str,  # noqa: ANN001
                                         value: str) -> None:
    query = _query()
    if query[field] == value:
        return
    query[field] = value
    status, _ = _post_plain(fuzz_app, xml.encode("utf-8", "surrogatepass"), query)
    assert status == 403


def test_a_signed_oversized_body_gets_413(fuzz_app) -> None:  # noqa: ANN001
    body = _xml({"Content": "长" * 400_000}).encode()
    status, _ = _post_plain(fuzz_app, body, _query())
    assert status == 413


def test_sha1_helper_matches_wechat_rule() -> None:
    """The tests' signer is WeChat's rule: sha1 of the sorted token, timestamp and nonce."""
    expected = hashlib.sha1("".join(sorted([TOKEN, "1", "2"])).encode()).hexdigest()
    assert sign(TOKEN, "1", "2") == expected
