"""Conversations read like chat: a citizen sends a message and reads the reply."""

from __future__ import annotations

import re
from datetime import timedelta

from handlers.normalize import simplify
from storage import clock, tickets

NUMBER = re.compile(r"GF\d{8}-\d{4}")


def number_in(reply: str) -> str:
    match = NUMBER.search(reply)
    assert match, reply
    return match.group(0)


def test_subscribe_gets_a_welcome_that_explains_the_desk(wechat):
    reply = wechat.event("subscribe")
    assert "投诉" in reply and "查询" in reply


def test_complaint_naming_a_unit_is_dispatched_and_numbered(wechat, db):
    reply = wechat.send("区人社局窗口的人不理人，问了三遍都不搭理我")
    number = number_in(reply)
    assert "区人社局" in reply
    ticket = tickets.get_ticket(db, number)
    assert ticket["status"] == "dispatched" and ticket["unit"] == "区人社局"
    assert ticket["due_at"] and ticket["sign_due_at"]


def test_numbers_are_consecutive_within_a_day(wechat):
    first = number_in(wechat.send("社保局办事拖了两个月还没办好，天天让我等"))
    second = number_in(wechat.send("不动产登记中心的工作人员上班时间玩手机，不理人", "oOther0002"))
    assert int(second[-4:]) == int(first[-4:]) + 1


def test_missing_unit_time_and_phone_are_asked_and_recorded(wechat, db):
    reply = wechat.send("窗口的人态度太恶劣了，冲我吼，还把材料扔出来")
    number = number_in(reply)
    assert "哪个单位" in reply
    reply = wechat.send("市场监管局")
    assert "区市场监管局" in reply and "什么时候" in reply
    reply = wechat.send("跳过")
    assert "电话" in reply
    assert "格式" in wechat.send("123")
    reply = wechat.send("13800138000")
    assert "完整" in reply
    ticket = tickets.get_ticket(db, number)
    assert ticket["unit"] == "区市场监管局" and ticket["status"] == "dispatched"
    assert ticket["phone"] == "13800138000"


def test_cancel_and_help_work_in_any_state(wechat):
    wechat.send("窗口的人态度太恶劣了，冲我吼")
    assert "结束" in wechat.send("取消")
    assert "使用说明" in wechat.send("帮助")


def test_query_shows_own_ticket_and_nothing_to_others(wechat):
    number = number_in(wechat.send("税务局办税大厅的人上班打游戏，半天没人办"))
    wechat.send("取消")
    mine = wechat.send(f"查询 {number}")
    assert "已派单" in mine and "区税务局" in mine
    other = wechat.send(f"查询 {number}", openid="oStranger999")
    assert "没有查到" in other and "区税务局" not in other


def test_query_menu_lists_recent_tickets(wechat):
    number = number_in(wechat.send("公安分局户籍窗口办户口迁移拖了一个多月"))
    reply = wechat.event("CLICK", "QUERY")
    assert number in reply


def test_complain_menu_then_text_becomes_a_ticket(wechat):
    assert "描述" in wechat.event("CLICK", "COMPLAIN")
    assert NUMBER.search(wechat.send("我去办事被人来回踢皮球，跑了五趟"))


def test_greeting_is_not_a_ticket(wechat, db):
    reply = wechat.send("你好")
    assert not NUMBER.search(reply)
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 0


def test_traditional_chinese_complaint_and_command(wechat):
    number = number_in(wechat.send("區人社局窗口的人不理人，態度很差"))
    assert number in wechat.send(f"查詢 {number}")


def test_voice_uses_recognition_text(wechat):
    assert NUMBER.search(wechat.voice("我在不动产登记中心办房产证等了三个月还没办好"))
    assert "语音" in wechat.voice("")


def test_image_and_location_attach_to_the_open_ticket(wechat, db):
    number = number_in(wechat.send("城管局的人态度粗暴，骂人"))
    assert number in wechat.image()
    assert number in wechat.location("永丰街道某路口")
    ticket = tickets.get_ticket(db, number)
    kinds = [a["kind"] for a in tickets.attachments_of(db, ticket["id"])]
    assert kinds == ["image", "location"]


def test_image_without_ticket_asks_for_a_description(wechat):
    assert "先用文字" in wechat.image()


def test_unknown_message_type_gets_a_polite_reply(wechat):
    reply = wechat.message("video", {"MediaId": "v", "ThumbMediaId": "t", "MsgId": "77"})
    assert "暂不支持" in reply


def test_s6_report_is_flagged_and_not_dispatched(wechat, db):
    reply = wechat.send("区市场监管局办营业执照的人暗示要请吃饭送烟才给办，不送就卡着")
    number = number_in(reply)
    assert "区纪委" in reply and "保密" in reply
    ticket = tickets.get_ticket(db, number)
    assert ticket["kind"] == "S6" and "discipline" in ticket["flags"]
    assert ticket["status"] == "received"


def test_repeat_complaint_is_linked_not_duplicated(wechat, db):
    first = number_in(wechat.send("区人社局窗口的人不理人，问了三遍都不搭理"))
    wechat.send("取消")
    reply = wechat.send("区人社局窗口的人不理人，问了三遍都不搭理我，太过分了")
    assert first in reply and "合并" in reply
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1


def test_supplement_reaches_the_ticket(wechat, db):
    number = number_in(wechat.send("医保局报销材料交了两个月没消息"))
    wechat.send("取消")
    assert number in wechat.send("补充 当时是3号窗口")
    ticket = tickets.get_ticket(db, number)
    notes = [e["note"] for e in tickets.events_of(db, ticket["id"])]
    assert "当时是3号窗口" in notes


def test_conversation_times_out(wechat, db):
    wechat.send("窗口的人态度太恶劣了，冲我吼")
    past = clock.iso(clock.now() - timedelta(hours=2))
    db.execute("UPDATE conversations SET updated_at = ?", [past])
    reply = wechat.send("市场监管局")
    # after the timeout the answer is a new message, not the answer to "which unit?"
    assert "已记录单位" not in reply and "这里是" in reply


def test_retry_returns_the_same_reply_and_no_new_ticket(wechat, db):
    first = wechat.send("区住建局施工许可拖了半年", msg_id=42)
    again = wechat.send("区住建局施工许可拖了半年", msg_id=42)
    assert first == again
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 1


def test_rating_words_rate_the_answered_ticket_in_any_state(wechat, db):
    from handlers.casework import act
    from storage.lifecycle import Actor

    number = number_in(wechat.send("区人社局窗口的人不理人，问了三遍都不搭理我"))
    unit = Actor("rs", "unit", "区人社局")
    act(db, {}, number, "accept", unit)
    act(db, {}, number, "answer", unit, {"note": "已约谈窗口人员并致歉"})
    assert "已办结" in wechat.send("1")
    assert tickets.get_ticket(db, number)["rating"] == "satisfied"


def test_a_long_message_the_keywords_miss_is_kept_until_the_citizen_decides(wechat, db):
    # a complaint worded unlike any keyword must not be dropped: the bot asks first
    text = "楼下邻居天天半夜装修，吵得人睡不着觉，物业也不管"  # NONE: not a government body
    reply = wechat.send(text)
    assert "回复“投诉”" in reply and not NUMBER.search(reply)
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == 0
    number = number_in(wechat.send("投诉"))
    ticket = tickets.get_ticket(db, number)
    # kept for the office to triage (as normalised text: half-width punctuation, Simplified)
    assert ticket["text"] == simplify(text) and ticket["status"] == "received"


def test_a_short_greeting_gets_no_confirmation_question(wechat):
    assert "回复“投诉”" not in wechat.send("你好，在吗")
