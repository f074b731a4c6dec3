"""Unit recognition in the wording of real citizen letters (bench/real_units.py).

Each case is a made-up sentence in the voice of the message-board letters, not text from
them (the real letters must not be shipped). Why each case is here: the letters describe
the matter instead of naming the unit, name other units in passing, and talk about village
affairs that belong to a township we cannot identify; the rules below were added for that.
The structural rules are also checked against a copy of the data with the rule switched
off, so a test fails if the rule stops being what decides the case.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from keywords import classify, get_classifier

DATA = Path(__file__).resolve().parent.parent / "keywords" / "data"


def _without(tmp_path: Path, section: str) -> object:
    """A classifier over a copy of the data whose cue list [section] matches nothing."""
    d = tmp_path / "data"
    shutil.copytree(DATA, d)
    cues = d / "cues.toml"
    lines = cues.read_text(encoding="utf-8").splitlines()
    start = lines.index(f"[{section}]")
    out, i = lines[:start + 1], start + 1
    while not lines[i].startswith("words"):
        out.append(lines[i])
        i += 1
    while not lines[i].rstrip().endswith("]"):
        i += 1  # skip a list that continues over several lines
    out.append('words = ["不会出现的词语甲乙丙"]')
    out += lines[i + 1:]
    cues.write_text("\n".join(out) + "\n", encoding="utf-8")
    return get_classifier(d)


@pytest.mark.parametrize("text, unit", [
    # buses, stops and route changes are the transport bureau's (no 交通局 named)
    ("小区门口的公交站撤了以后，老人要走两公里才能坐上车", "区交通运输局"),
    # lights, cameras and road markings are the traffic police's
    ("这个路口没有红绿灯也没有摄像头，每天都有电动车被刮倒", "区公安分局"),
    ("科目二考场的考试车方向盘都是松的，考不过还得再交钱", "区公安分局"),
    # schools described by what happens in them
    ("班主任周末组织有偿补课，不去的孩子上课就不点名", "区教育局"),
    # a new flat not handed over on time: the developer is blamed, the matter is 住建's
    ("合同写的去年六月交房，到现在一拖再拖，售楼部电话也不接", "区住建局"),
    # city-management matters described by the problem
    ("楼下夜宵摊油烟熏得窗户都不敢开，天天闹到凌晨两点", "区城管局"),
    ("工地天天扬尘，也不洒水，路过的人一身灰", "区城管局"),
])
def test_matter_words_imply_the_unit(text, unit):
    assert classify(text).unit == unit


def test_a_unit_named_as_a_landmark_does_not_outvote_the_matter(tmp_path):
    # 税务局门口 is where the traffic light is, not whose matter it is: the landmark weighs
    # ×0.3 (keeping the first-mention bonus) and no longer halves the traffic words
    text = "税务局门口新装的红绿灯绿灯只有十秒，斑马线上老人走一半就变灯，摄像头还专拍行人"
    assert _without(tmp_path, "landmark").classify(text).unit == "区税务局"
    assert classify(text).unit == "区公安分局"


def test_a_lone_unit_at_its_own_door_is_still_that_unit():
    # the landmark weight keeps the first-mention bonus: a unit's own noticeboard or guard
    # (民政局门口的公告栏) stays that unit's matter even next to another unit's service
    assert classify("残疾人补贴要交什么材料，民政局门口的公告栏上什么都没有").unit == "区民政局"


def test_the_addressee_of_a_letter_is_not_the_matter(tmp_path):
    # 请纪委领导关注: the discipline body is asked to look, the bus route is 交通运输局's
    text = "公交线路改了以后我们这边一趟公交车都没有了，非法营运的黑车到处拉客，请纪委领导关注"
    assert _without(tmp_path, "addressed").classify(text).unit == "区纪委"
    assert classify(text).unit == "区交通运输局"


def test_a_village_matter_names_no_bureau(tmp_path):
    # village roads are the township's business; which of our townships cannot be told,
    # so the bureau behind a service word (公路 → 交通运输局) is not named either
    text = "我们村级公路修了一半就停了，组民出门一脚泥，盼着早点硬化"
    assert _without(tmp_path, "village").classify(text).unit == "区交通运输局"
    assert classify(text).unit is None
    # the township is a government body: blaming a quarry boss as well does not make the
    # complaint "only about a non-government body" (NONE) once the bureau is dropped
    c = classify("我们村级公路被采石场老板的大车压烂了，组民出门一脚泥，反映了半年没人管")
    assert c.unit is None and c.kind == "S2"
    # a township of ours named in the letter is still named
    assert classify("五都镇长岭村的村级道路三年了还没硬化，组民出门一脚泥").unit == "五都镇人民政府"


def test_incidental_words_are_not_units():
    # a weekday before 都 is not 五都镇
    assert classify("每周五都要去社保局排队，排了三次还没办好").unit == "区人社局"
    # 计委 is also the old name people use for the family-planning commission: only weak
    assert classify("当年计委把我分配到乡政府，后来社保一直没人给交").unit == "区人社局"
    # a transit card is the card company's business
    assert classify("公交卡充值机老是坏，充不进去钱").unit is None


def test_one_spam_word_in_a_long_letter_is_not_spam():
    # letters cite links (政策原文 http://…); a single spam cue in a long letter is in passing
    letter = ("尊敬的领导：我们小区一百多户去年买的商品房，合同约定今年五月交房，开发商一拖再拖，"
              "现在又说要等竣工验收，问什么时候能办下来谁也说不清。楼盘的预售公示在网上能查到，"
              "地址是 http://example.gov/presale ，上面写的交付日期早就过了。我们每个月还着房贷，"
              "还要另外租房住，一家老小挤在出租屋里，孩子上学也远。恳请有关部门督促开发商按合同交房，"
              "给业主一个明确的时间。谢谢！")
    assert len(letter) > 160
    assert classify(letter).unit == "区住建局"
    # a short advertisement with the same link is still spam
    c = classify("专业办证，当天拿证 http://example.top")
    assert c.kind == "NONE" and c.unit is None
