"""Property-based fuzzing of the classifier and the conversation.

``classify`` on any text returns a known kind and never raises; any sequence
of commands, texts, events and attachments from one citizen is answered,
and every ticket a reply names is in the database, once.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bench.chaos import ticket_of
from bot import create_app
from keywords import classify, load_units
from keywords.taxonomy import KIND_CODES, SUBTYPE_CODES
from storage.db import close_all, get_db
from tests.chat import Chat
from tests.conftest import TOKEN, make_config

BOUNDED = settings(max_examples=200, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])
COMPLAINTS = ("区人社局窗口的人不理人，办社保卡跑了三趟", "办营业执照拖了一个月还没办好",
              "镇政府的人吃拿卡要，不给好处不办", "区城管局执法人员态度粗暴骂人",
              "不动产登记中心说材料不全让我来回跑了五趟")
WORDS = ("帮助", "help", "？", "菜单", "取消", "退出", "查询", "补充", "满意", "基本满意", "不满意",
         "1", "2", "3", "跳过", "不知道", "13800138000", "昨天下午", "区人社局", "GF20261125-0001",
         "查询GF20261125-0001", "补充：还有一件事", "投诉", "")


EXAMPLE = "GF20261125-0001"  # the help text's example, and a number citizens type in queries
HAN = sorted(set("".join(COMPLAINTS + WORDS)) | set("不没吃拿卡要局委办镇政府窗口，。！？"))


@BOUNDED
@given(text=st.text(max_size=3000) | st.text(st.sampled_from(HAN), max_size=300))
def test_classify_never_raises_and_returns_a_known_kind(text: str) -> None:
    result = classify(text)
    assert result.kind in KIND_CODES
    assert result.subtype is None or result.subtype in SUBTYPE_CODES
    assert result.unit is None or load_units().get(result.unit) is not None
    assert 0.0 <= result.confidence <= 1.0
    assert all(isinstance(word, str) for word in result.matched)
    event(result.kind)


@BOUNDED
@given(head=st.sampled_from(COMPLAINTS), tail=st.text(max_size=200),
       wrap=st.sampled_from(["{}", "{}！！！", "【{}】", "{}\n\n\t", "　{}　", "{0}{0}{0}"]))
def test_classify_survives_noise_around_a_complaint(head: str, tail: str, wrap: str) -> None:
    result = classify(wrap.format(head + tail))
    assert result.kind in KIND_CODES


@pytest.fixture
def citizen(tmp_path):  # noqa: ANN001, ANN201
    app = create_app(make_config(tmp_path))
    yield app, Chat(app.test_client(), TOKEN)
    close_all()


steps = st.one_of(
    st.tuples(st.just("text"), st.sampled_from(WORDS)),
    st.tuples(st.just("text"), st.sampled_from(COMPLAINTS)),
    st.tuples(st.just("text"), st.text(max_size=120)),
    st.tuples(st.just("text"), st.builds(lambda a, b: a + b, st.sampled_from(WORDS),
                                         st.text(max_size=40))),
    st.tuples(st.just("event"), st.sampled_from(["subscribe", "unsubscribe", "CLICK:COMPLAIN",
                                                 "CLICK:QUERY", "CLICK:HELP", "CLICK:NOPE",
                                                 "VIEW", "SCAN"])),
    st.tuples(st.just("voice"), st.text(max_size=60)),
    st.tuples(st.just("image"), st.just("")),
    st.tuples(st.just("location"), st.text(max_size=60)),
)


def _step(chat: Chat, kind: str, value: str) -> str:
    if kind == "event":
        name, _, key = value.partition(":")
        return chat.event(name, key)
    if kind == "voice":
        return chat.voice(value)
    if kind == "image":
        return chat.image()
    if kind == "location":
        return chat.location(value)
    return chat.send(value)


def _xml_safe(value: str) -> bool:
    return all(ch in "\t\n\r" or ord(ch) >= 0x20 for ch in value) and "\ufffe" not in value \
        and "\uffff" not in value and not any(0xD800 <= ord(ch) <= 0xDFFF for ch in value)


@settings(BOUNDED, max_examples=60)
@given(script=st.lists(steps, min_size=1, max_size=10))
def test_any_conversation_is_answered_and_tickets_are_kept(citizen, script) -> None:  # noqa: ANN001
    app, chat = citizen
    chat.openid = f"oConv{abs(hash(tuple(script))) % 10**9}"
    db = get_db(app.config["BOT"]["storage.path"])
    for kind, value in script:
        if not _xml_safe(value):
            continue  # XML cannot carry it; the webhook fuzz covers the 400
        reply = _step(chat, kind, value)  # asserts a 200
        number = ticket_of(reply)
        if number and number not in value and number != EXAMPLE:
            rows = db.execute("SELECT openid FROM tickets WHERE number = ?", [number]).fetchall()
            assert len(rows) == 1, (value, reply)
    event(f"{db.execute('SELECT count(*) FROM tickets').fetchone()[0] > 0} tickets")
