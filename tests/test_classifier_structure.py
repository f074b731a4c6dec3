"""Structural rules of the classifier (not vocabulary), each with the reason it is here.

Compared against a copy of the data with the rule switched off, so a test fails if the rule
stops being what decides the case (and not just because a keyword happens to cover it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from keywords import classify, get_classifier
from keywords.rules import load_rules

DATA = Path(__file__).resolve().parent.parent / "keywords" / "data"


def _data_copy(tmp_path: Path, edit) -> Path:
    d = tmp_path / "data"
    shutil.copytree(DATA, d)
    cues = d / "cues.toml"
    cues.write_text(edit(cues.read_text(encoding="utf-8")), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def no_shape(tmp_path_factory):
    # the same data without the [shape] lists (the pre-probe3 behaviour) and without the
    # fitted weights, which would otherwise catch some of these lines on their own
    def strip(text: str) -> str:
        return text[:text.index("\n# Complaint shape.")] + "\n"
    d = _data_copy(tmp_path_factory.mktemp("noshape"), strip)
    (d / "fitted.toml").unlink()
    return get_classifier(d)


@pytest.mark.parametrize("text, kind", [
    ("民政局下午三点就没人了", "S4"),  # empty office, no listed keyword
    ("国土所白天门锁着", "S4"),
    ("乡镇便民中心说镇里没开通网上审批", "P"),  # system not reaching the township
])
def test_complaint_shape_keeps_weak_complaints_out_of_none(no_shape, text, kind):
    # Probes 1–3 lost most complaints to NONE because no keyword fired (NONE precision
    # 0.45–0.53). A unit/service or official actor plus a negative cue is a complaint.
    assert no_shape.classify(text).kind == "NONE"
    assert classify(text).kind == kind


@pytest.mark.parametrize("text", [
    "请问社保断了两个月了有影响吗",  # a NONE cue (请问) wins over the shape
    "快递员说包裹丢了，问了十几天了没回音",  # only a non-government body
    "小区门口卖菜的吵了两个月了",  # no official actor at all
    "政府这个做法太过分了吗",  # generic outrage alone gives no kind
])
def test_complaint_shape_does_not_pull_in_off_scope_messages(text):
    # the rule must not cost the NONE lines: how-to questions, couriers, neighbours stay NONE
    assert classify(text).kind == "NONE"


def test_complaint_shape_is_not_used_on_long_letters():
    # real message-board letters collect dates and questions in passing; above 160
    # characters only keywords decide (a first draft without this cap, with looser cues,
    # moved 92 of the 2,769 real letters to a complaint kind)
    background = "我家住在城东老街，祖辈三代都在这里生活，街坊邻里相处和睦，" * 6
    text = background + "民政局下午三点就没人了"
    assert len(text) > 160
    assert classify(text).kind == "NONE"


def test_a_units_own_window_in_the_service_centre_names_that_unit():
    # 政务服务中心里自然资源局的窗口: the centre is only where the window is (probe2/3)
    c = classify("在政务服务中心排队，市场监管局的窗口说材料不对，让我重新填了三遍")
    assert c.unit == "区市场监管局"
    # the centre's own staff and windows still give the centre
    assert classify("政务服务中心的窗口人员上班时间玩手机").unit == "区行政服务中心"


def test_multi_unit_hand_off_rule_is_off_by_default(tmp_path):
    # S5/S6 stories naming several units with none at fault: the dev set labels the
    # first-named (lead) unit (25 dev lines, 22 right), probe2/probe3 label none. Off by default;
    # `[shape] multi_unit_none = true` switches to "no unit".
    text = "排水沟堵了，街道说归城管，城管说归住建，住建说是街道的事，踢皮球踢了一个月"
    assert classify(text).kind == "S6"
    assert classify(text).unit is not None
    on = _data_copy(tmp_path, lambda t: t.replace("multi_unit_none = false",
                                                  "multi_unit_none = true"))
    assert get_classifier(on).classify(text).unit is None
    # a unit marked at fault (卡在) still names that unit
    s5 = "施工许可并联审批，卡在住建局两个月，环保和消防早就签了"
    assert get_classifier(on).classify(s5).unit == "区住建局"


def test_keywords_check_rejects_unknown_shape_lists(tmp_path):
    d = _data_copy(tmp_path, lambda t: t + '\n[shape.S9]\nwords = ["x"]\n')
    with pytest.raises(Exception, match="unknown shape list"):
        load_rules(d)
