"""Hard cases for the keyword classifier, each with the reason it is here, and an accuracy floor."""

from __future__ import annotations

import json

import pytest

from keywords import Classification, classify, get_classifier
from tests.shared_data import DEV_SET

DEV = DEV_SET


def test_api_shape_and_to_dict():
    # the contract other modules code against: fields, JSON-serialisable dict
    c = classify("社保局窗口的人不理人")
    assert isinstance(c, Classification)
    d = c.to_dict()
    assert set(d) == {"kind", "subtype", "unit", "confidence", "matched", "also"}
    assert isinstance(d["matched"], list) and isinstance(d["also"], list)
    json.dumps(d, ensure_ascii=False)
    assert 0.0 <= c.confidence <= 1.0
    assert get_classifier() is get_classifier()


@pytest.mark.parametrize("text, kind", [
    # negation: praise of attitude is not rudeness; the delay is the complaint
    ("窗口工作人员态度挺好的，就是营业执照拖了二十多天还没下来", "S1"),
    # negation: 没有刁难 denies rudeness; the message is thanks
    ("工作人员没有刁难我，很耐心，谢谢", "NONE"),
    # praise then complaint (前面夸后面骂): the complaint wins
    ("社保中心以前服务还是不错的，但是这次失业金申请交了四十多天了一直不批", "S1"),
    # rhetorical 这不是…吗 is not a negation
    ("要我把几十年没联系的亲戚都叫来签字，这不是故意刁难人吗", "S3"),
    # colloquial/dialect delay
    ("俺家的高龄补贴报上去半年了冒得下文，问了好几道都话等一下", "S1"),
    # sarcasm
    ("真是高效啊，盖个章盖了一个月，长见识了", "S1"),
    # idiom family for ignoring
    ("门难进脸难看事难办，说的就是你们医保局", "S2"),
    # discipline at work: games / mahjong / stocks
    ("上班时间在办公室打麻将，洗牌声音走廊都听得到", "S4"),
    ("窗口那个小伙子上班时间玩王者荣耀，叫了三声都不理", "S4"),
    # parallel approval jargon
    ("说好的并联审批，结果还是一个部门一个部门串着跑，互相等对方的意见", "S5"),
    # buck-passing
    ("问住建说归城管，问城管说归街道，踢皮球踢了三个月", "S6"),
    # 吃拿卡要: asking for gifts
    ("办个证还要给经办人塞红包，不给就一直拖着，这不是吃拿卡要吗", "S6"),
    # disclosure: 一次性告知
    ("跑了四趟每次都说还差一样东西，就不能一次性告知吗", "D"),
    # arbitrary fees
    ("办居住证收了五十块工本费，网上写的是免费，这不是乱收费吗", "D"),
    # power-list: delegated item not taken over
    ("省里已经下放到区里的审批，区里说没接到通知，让我们去市里办", "P"),
    # said without the plan's words (probes 13-15): sarcasm about a small paper's delay, a
    # stock reply that closed nothing, a paid fast lane offered on the side, a plea for courtesy
    ("效率真高，开个证明开了一个月", "S1"),
    ("每次都是已记录，会反馈，反馈了个寂寞", "S6"),
    ("窗口有个人私下跟我讲，想加急可以，一本八百，当天出证", "S6"),
    ("说话能不能客气点，我又不是犯人", "S3"),
    # NONE: greeting, thanks, how-to, look-up, menu word, spam
    ("你好", "NONE"),
    ("好的谢谢", "NONE"),
    ("请问居住证在哪里办，周末上班吗", "NONE"),
    # 上不上班 asked is a question; 到底上不上班 with no one there is absence from post
    ("民政局周六上不上班", "NONE"),
    ("你们中午到底上不上班，去了三次都没人", "S4"),
    ("查询 GF20261125-0001", "NONE"),
    ("投诉", "NONE"),
    ("兼职刷单日结300加QQ123456", "NONE"),
    # NONE: complaints about non-government bodies (bank, courier, neighbour, property company)
    ("工商银行的柜员态度很差，排了两个小时", "NONE"),
    ("快递员把我的包裹弄丢了还骂人", "NONE"),
    ("楼上邻居天天半夜吵得睡不着", "NONE"),
    ("物业公司不作为，电梯坏了一个月不修", "NONE"),
])
def test_kind(text, kind):
    c = classify(text)
    assert c.kind == kind, c
    if kind != "NONE":
        assert c.matched  # every decision names its evidence


def test_traditional_input():
    # Traditional characters are converted to Simplified before matching
    c = classify("稅務局那個窗口的工作人員態度極其惡劣，對老人大呼小叫")
    assert (c.kind, c.unit) == ("S3", "区税务局")


def test_full_width_input():
    # full-width letters/digits/punctuation are folded to half-width
    c = classify("ＧＦ２０２６１１２５－０００７ 进度")
    assert c.kind == "NONE"
    assert classify("派出所户籍窗口的人上班玩手机！！！").kind == "S4"


def test_voice_run_on_without_punctuation():
    # voice-to-text: one long line, no punctuation, fillers
    text = ("就是那个我去派出所办身份证然后那个窗口的人一直在玩手机我喊了好几声都不理我"
            "后来还说我吵")
    c = classify(text)
    assert c.kind in ("S4", "S2") and c.unit == "区公安分局"


def test_multiple_problems_reported_in_also():
    # several problems in one message: one primary kind, the others in `also`
    c = classify("窗口的人上班时间玩手机，我问了一句就吼我，态度恶劣，还骂人")
    assert c.kind == "S3"
    assert "S4" in c.also


def test_subtype_for_d_and_p():
    # D/P carry a sub-type when the text supports one
    assert classify("办事大厅的流程图早就过时了").subtype == "D1"
    assert classify("施工图审查必须找他们指定的中介公司，别家的报告不认").subtype == "P5"


def test_bank_is_not_market_regulator():
    # 工商银行 contains 工商 but is a bank, not 工商局 (区市场监管局)
    assert classify("我在工商银行办卡被刁难").unit is None
    assert classify("工商局的人故意刁难我").unit == "区市场监管局"


def test_old_unit_names():
    # 2015-era names still in people's mouths
    assert classify("国税局的窗口一直不开票").unit == "区税务局"
    assert classify("国土局批个宅基地拖了半年").unit == "区自然资源局"
    assert classify("卫计委的人态度很差").unit == "区卫健委"


def test_alias_inside_longer_alias_is_one_unit():
    # 国税 inside 国税局 is one mention of one unit
    c = classify("国税局办事拖拉")
    assert c.unit == "区税务局" and c.matched.count("国税") == 0


def test_person_named_is_no_unit():
    # a person instead of a unit: no unit
    assert classify("那个姓王的科长态度太差了").unit is None


def test_township_service_centre():
    # 洋口镇便民服务中心 is the township government
    assert classify("洋口镇便民服务中心上午一个人都没有").unit == "洋口镇人民政府"


def test_service_implies_unit():
    # no unit named: the service implies it
    assert classify("房产证办了两个月还没下来").unit == "区不动产登记中心"
    assert classify("营业执照变更拖了半个月").unit == "区市场监管局"
    assert classify("残疾证申请三个月了还没批").unit == "区残联"


def test_sent_to_unit_is_not_the_one_at_fault():
    # several units: the one complained about, not the one the citizen was sent to
    c = classify("在洋口镇便民服务中心问医保报销，说要去区医保局，折腾了两天什么都没办成")
    assert c.unit == "洋口镇人民政府"


def test_hand_off_chain_names_the_unit_that_speaks_first():
    # A说归B，B说归A: the dev set labels the first unit to speak (dev 0134, 0278); counting
    # mentions alone gave the unit named most often, which in a chain is the later one
    c = classify("办残疾人补贴，永丰街道说要残联先审，残联说街道没报上来，残联又说等通知")
    assert (c.kind, c.unit) == ("S6", "永丰街道办事处")


@pytest.mark.parametrize("text, unit", [
    # letters open with where the writer lives or works (我是洋口镇的村民, 我在横山镇开了一家
    # 农资店); the bureau the letter is about is the unit (probe5: 9 letters, probe7: 4) ...
    ("我是洋口镇的村民，去年向区自然资源局申请宅基地审批，跑了五趟还没批下来", "区自然资源局"),
    ("我在横山镇开了一家小超市，到市场监管局办执照，窗口让我先去开证明", "区市场监管局"),
    # ... but a township named only so is still the unit when no bureau is named
    ("我是五都镇的村民，低保申请交上去半年没人理", "五都镇人民政府"),
    # a village after the township marks the writer's home; the bureau's station is the unit
    # (probe11-123) ...
    ("我是横山镇枫林村的，宅基地申请交到国土所半年了，每次去问都说再等等", "区自然资源局"),
    # ... and 农村 after the township is no village name
    ("五都镇说农村低保的网上系统没开通，让我们自己去区民政局交材料", "五都镇人民政府"),
    # the township's 便民服务中心 houses windows for the bureaus' services; its staff are the
    # township's (the dev set's convention; probe7-033, probe11-155)
    ("横山镇便民服务中心社保窗口的人一上午都在刷手机，排队的人她看都不看", "横山镇人民政府"),
    # 永丰街道旁边那个派出所: the street office only says where the police station is ...
    ("晚上有人砸车，打电话给永丰街道旁边那个派出所，值班的说明天再来报", "区公安分局"),
    # ... while a lone landmark still wins (probe3-098)
    ("残疾人补贴要哪些材料，民政局门口公告栏上什么都没有", "区民政局"),
    # 去街道反映: a short name after 去/找/到 is used as a unit, not as a common noun
    ("巷子里的污水漫到路上半个月了，去街道反映，接待的人说记下了，后面再没下文", "永丰街道办事处"),
])
def test_where_a_place_name_is_the_unit_and_where_it_is_only_a_place(text, unit):
    assert classify(text).unit == unit


def test_power_delegated_to_a_township_names_the_township():
    # P2: the township that has the power and does not use it is at fault, though the bureau
    # that delegated it is named first (dev-0136's convention)
    c = classify("区民政局说低保审批已经下放到镇里，可是横山镇的人说他们只能收材料，还是要区里批")
    assert (c.kind, c.subtype, c.unit) == ("P", "P2", "横山镇人民政府")


def test_the_unit_everyone_is_waiting_for_is_the_one_at_fault():
    # S5: 就等X的意见, 转到X一压就是两个月, X开会研究了三次还没结论 (probes 13 and 15): the
    # dev set labels the unit holding the file up (dev 0010, 0152), not the first one named
    c = classify("设施农用地备案，农业农村局一个礼拜就签了意见，转到国土局一压就是两个多月")
    assert c.unit == "区自然资源局"
    c = classify("驾校扩建训练场，交通局审完了就等自然资源局的用地意见，自然资源局开会研究了三次")
    assert c.unit == "区自然资源局"
    # a short name after 卡在 is the unit holding it up (probe19-001)
    c = classify("厂房装光伏，发改备案一天就好了，结构安全意见拖了四十天，全卡在住建")
    assert c.unit == "区住建局"


def test_an_invoice_question_is_no_advert_and_an_advert_with_a_wechat_id_is():
    # 代开发票 is the tax office's service (how do I get one?) as well as the classic fake-invoice
    # advert; only the advert's own words (代开各类发票, 包下证, 价格美丽) make it spam
    c = classify("代开发票要带什么材料")
    assert (c.kind, c.unit) == ("NONE", "区税务局")
    c = classify("代办各类建筑资质、安许证，包下证，价格美丽，微信 zz66889")
    assert (c.kind, c.unit) == ("NONE", None)


def test_township_named_only_as_a_place_in_a_non_complaint_gives_no_unit():
    # 狗在永丰街道附近走丢了 is not about the street office; thanks to its staff are
    c = classify("我家猫在永丰街道附近走丢了，橘色的，看到的麻烦联系我")
    assert (c.kind, c.unit) == ("NONE", None)
    c = classify("谢谢横山镇的小王，帮我把医保的事办好了")
    assert (c.kind, c.unit) == ("NONE", "横山镇人民政府")


def test_a_bureaus_window_in_the_centre_by_its_short_name():
    # 住建窗口 / 税务的窗口 in the centre: the short (weak) name with its window names the
    # bureau, as 住建局的窗口 does (probe8-024, probe10-031)
    assert classify("行政服务中心的住建窗口只收件不办事，还要我自己拿去局里审").unit == "区住建局"


def test_online_hall_is_not_the_service_centre():
    # 网上政务大厅 is the website, not the building: the unit written to is the one
    assert classify("在网上政务大厅给人社局留言，二十天了还显示待回复").unit == "区人社局"


def test_queue_ticket_screen_means_the_service_centre():
    # the dev set labels bare windows with a queue-number screen as the centre (dev 0182, 0322)
    assert classify("叫号屏一个小时没动过，窗口的人都在看手机").unit == "区行政服务中心"


def test_bare_list_of_units_gives_no_unit():
    # several units blamed equally: no single unit
    c = classify("我们项目同时找了住建、自然资源、发改，每个都说等另外两家的结论")
    assert c.kind == "S5" and c.unit is None


def test_spam_has_no_unit():
    # an advert mentioning a service is not about the unit
    c = classify("专业代办营业执照、代理记账，价格优惠，加V：abc123")
    assert (c.kind, c.unit) == ("NONE", None)


def test_dev_set_accuracy_floor():
    # regression floor on the whole labelled dev set
    rows = [json.loads(x) for x in DEV.read_text(encoding="utf-8").splitlines() if x]
    preds = [classify(r["text"]) for r in rows]
    pairs = list(zip(rows, preds, strict=True))
    kind_ok = sum(p.kind == r["kind"] or p.kind in r["also"] for r, p in pairs)
    unit_ok = sum(p.unit == r["unit"] for r, p in pairs)
    assert kind_ok / len(rows) >= 0.92
    assert unit_ok / len(rows) >= 0.95  # the target; reached 0.979
