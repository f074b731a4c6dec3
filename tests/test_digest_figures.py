"""Every figure of one digest on the seeded database (tests/test_stats.py's ``seed``).

The campaign section uses config.example.toml's [campaign] as it is, so the example
is checked too. Figures worked out by hand are in the comments.
"""

from __future__ import annotations

import pytest

from bot import campaign
from bot.digest import render
from bot.digest.build import build
from bot.digest.periods import Period, period_before
from tests.conftest import campaign_example, make_config
from tests.test_stats import NOW, seed

A, B, C = "区人社局", "区市场监管局", "区不动产登记中心"


@pytest.fixture
def config(tmp_path):  # noqa: ANN001, ANN201
    return make_config(tmp_path, campaign_example() + "\n[digest]\ntop_n = 1\n")


@pytest.fixture
def digest(db, config):  # noqa: ANN001, ANN201
    seed(db)
    plan = campaign.from_config(config)
    campaign.set_status(db, plan, "T1", "done", "7月10日已公布", "office1")
    campaign.set_status(db, plan, "T3", "in_progress", "", "office1")
    return build(db, config, period_before("daily", NOW), NOW)


def test_period_and_counts(digest) -> None:  # noqa: ANN001
    assert digest["period"]["slug"] == "daily-2026-11-24"
    assert (digest["period"]["start"], digest["period"]["end"]) == (
        "2026-11-24T00:00:00+08:00", "2026-11-25T00:00:00+08:00")
    assert digest["new"]["total"] == 5  # the greeting (kind NONE) is not a complaint
    assert digest["new"]["by_kind"] == {"S1": 1, "S2": 1, "S3": 0, "S4": 0, "S5": 0,
                                        "S6": 1, "D": 1, "P": 1}
    assert digest["new"]["by_unit"] == [[A, 2], [B, 2], [None, 1]]
    assert (digest["closed"], digest["rejected"]) == (1, 1)
    assert digest["discipline_referrals"] == 1
    assert digest["repeats"] == {"messages": 2, "tickets": 1}
    assert sum(digest["by_status"].values()) == 10


def test_overdue_top_n(digest) -> None:  # noqa: ANN001
    assert digest["overdue"]["total"] == 2
    assert [(o["number"], o["unit"], o["days_over"]) for o in digest["overdue"]["top"]] == [
        ("GF20261110-0002", B, 14)]  # top_n = 1


def test_unit_ranking_with_change(digest) -> None:  # noqa: ANN001
    units = digest["units"]
    assert (units["start"], units["end"]) == ("2026-10-26T00:00:00+08:00",
                                              "2026-11-25T00:00:00+08:00")
    rows = [(u["unit"], u["dispatched"], u["score"], u["rank"], u["previous_rank"], u["change"])
            for u in units["rows"]]
    # the previous window (to 11-24 00:00) lacks the three tickets dispatched on 11-24
    assert rows == [(C, 1, 100.0, 1, 1, 0), (A, 4, 80.0, 2, 2, 0), (B, 3, 0.0, 3, 3, 0)]


def test_campaign_phase_and_targets(digest) -> None:  # noqa: ANN001
    section = digest["campaign"]
    assert (section["phase"], section["phase_end"], section["days_left"]) == (
        "整改落实", "2026-12-15", 21)
    # T1 is done; T2 (10-15), T7 (10-30), T3 (10-31) are past; T8 (12-15) is within 30 days;
    # T4-T6 (12-31) are 36 days away
    assert [(t["id"], t["days_left"], t["status"]) for t in section["overdue_targets"]] == [
        ("T2", -41, "未开始"), ("T7", -26, "未开始"), ("T3", -25, "推进中")]
    assert [(t["id"], t["days_left"]) for t in section["due_targets"]] == [("T8", 20)]


def test_markdown_states_the_figures_and_no_referral_details(digest) -> None:  # noqa: ANN001
    text = render.markdown(digest)
    for line in (
        "# 群众办事难专项整治日报（2026年11月24日）",
        "**新增投诉5件，办结1件，当前逾期2件，移送区纪委线索1件。**",
        "| S1 拖延办理 | 1 |", "| S3 刁难粗暴 | 0 |", "| S6 推诿索要 | 1 |",
        "| D 政务不公开 | 1 |", "| P 行政权力清理落实不到位 | 1 |",
        f"- {A}：2 件", f"- {B}：2 件", "- （待分派/未确定单位）：1 件",
        "- 本期办结：1 件；不予受理：1 件",
        "- 重复投诉（并单）：2 次，涉及 1 件工单",
        "## 三、逾期未办 2 件", "（列出逾期最久的 1 件）",
        f"| GF20261110-0002 | {B} | S4 | 14 天（10 个工作日） |",
        f"| 1 | {C} | 1 | 100.0%（1/1） | 100.0%（1/1） | 100.0%（1/1） | 100.0 | 持平 |",
        f"| 2 | {A} | 4 | 100.0%（3/3） | 100.0%（1/1） | 50.0%（1/2） | 80.0 | 持平 |",
        f"| 3 | {B} | 3 | 0.0%（0/2） | 0.0%（0/2） | —（0/0） | 0.0 | 持平 |",
        "- 本期涉嫌“吃拿卡要”线索 1 件",
        "- 当前阶段：整改落实（至 2026-12-15，剩余 21 天）",
        "- 【已逾期】T2 公布区级部门责任清单：期限 2026-10-15，逾期 41 天，未开始；"
        "牵头：区委编办、区法制办",
        "- 【30天内到期】T8",
    ):
        assert line in text, line
    assert "GF20261124-0003" not in text  # the S6 ticket: not even its number
    assert "投诉正文" not in text and "o-GF" not in text


def test_weekly_period_is_previous_monday_to_sunday(db, config) -> None:  # noqa: ANN001
    seed(db)
    period = period_before("weekly", NOW)  # Wednesday 11-25 → week of 11-16
    assert period == Period("weekly", period.first, period.last)
    assert (period.first.isoformat(), period.last.isoformat()) == ("2026-11-16", "2026-11-22")
    digest = build(db, config, period, NOW)
    assert digest["new"]["total"] == 0 and digest["closed"] == 1  # GF20261110-0003 on 11-20
    assert "群众办事难专项整治周报（2026年11月16日—11月22日）" in render.markdown(digest)
