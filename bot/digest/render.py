"""Digest as Chinese text: the full Markdown, and the headline for the WeChat message.

The same Markdown is printed by the CLI, kept as a file, and shown in the
console archive, so every reader sees the same figures.
"""

from __future__ import annotations

from typing import Any

from keywords import load_taxonomy
from storage.lifecycle import STATUS_LABELS
from storage.stats import KINDS

NO_UNIT = "（待分派/未确定单位）"
TITLE = "群众办事难专项整治"


def headline(digest: dict[str, Any]) -> str:
    """One line with the key figures, for the template message and the first line."""
    return (f"新增投诉{digest['new']['total']}件，办结{digest['closed']}件，"
            f"当前逾期{digest['overdue']['total']}件，"
            f"移送区纪委线索{digest['discipline_referrals']}件")


def title(digest: dict[str, Any]) -> str:
    period = digest["period"]
    return f"{TITLE}{period['name']}（{period['label']}）"


def markdown(digest: dict[str, Any]) -> str:
    """The full digest in Markdown."""
    parts = [f"# {title(digest)}", "", f"**{headline(digest)}。**", "",
             f"统计区间：{digest['period']['start'][:16]} 至 {digest['period']['end'][:16]}"
             f"（不含终点）；生成时间：{digest['built_at'][:16]}", ""]
    for section in (_new, _closed, _overdue, _units, _discipline, _campaign):
        parts += section(digest) + [""]
    return "\n".join(parts).rstrip() + "\n"


def kind_name(code: str) -> str:
    return load_taxonomy().kind(code).name


def _new(digest: dict[str, Any]) -> list[str]:
    new = digest["new"]
    lines = [f"## 一、新增投诉 {new['total']} 件", "", "| 类别 | 件数 |", "|---|---:|"]
    lines += [f"| {code} {kind_name(code)} | {new['by_kind'][code]} |" for code in KINDS]
    lines += ["", "按被反映单位：", ""]
    if not new["by_unit"]:
        return lines + ["- 无"]
    return lines + [f"- {unit or NO_UNIT}：{n} 件" for unit, n in new["by_unit"]]


def _closed(digest: dict[str, Any]) -> list[str]:
    status = "，".join(f"{STATUS_LABELS[s]} {n}" for s, n in digest["by_status"].items())
    repeats = digest["repeats"]
    return ["## 二、办结与重复投诉", "",
            f"- 本期办结：{digest['closed']} 件；不予受理：{digest['rejected']} 件",
            f"- 重复投诉（并单）：{repeats['messages']} 次，涉及 {repeats['tickets']} 件工单",
            f"- 全部投诉当前状态：{status}"]


def _overdue(digest: dict[str, Any]) -> list[str]:
    overdue = digest["overdue"]
    lines = [f"## 三、逾期未办 {overdue['total']} 件", ""]
    if not overdue["top"]:
        return lines + ["- 无逾期工单"]
    if overdue["total"] > len(overdue["top"]):
        lines += [f"（列出逾期最久的 {len(overdue['top'])} 件）", ""]
    lines += ["| 工单 | 单位 | 类别 | 逾期 |", "|---|---|---|---:|"]
    for item in overdue["top"]:
        unit = "（纪委线索）" if item["discipline"] else (item["unit"] or NO_UNIT)
        lines.append(f"| {item['number']} | {unit} | {item['kind']} | "
                     f"{item['days_over']} 天（{item['working_days_over']} 个工作日） |")
    return lines


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def change(item: dict[str, Any]) -> str:
    if item["change"] is None:
        return "新上榜" if item["rank"] is not None else "—"
    if item["change"] == 0:
        return "持平"
    return f"↑{item['change']}" if item["change"] > 0 else f"↓{-item['change']}"


def _units(digest: dict[str, Any]) -> list[str]:
    units = digest["units"]
    lines = ["## 四、责任单位办理情况与排名", "",
             f"（近 {units['window_days']} 天派单，截至 {units['end'][:10]}；"
             "未到期的工单不计入签收率、办结率）", ""]
    if not units["rows"]:
        return lines + ["- 无派单"]
    lines += ["| 排名 | 单位 | 派单 | 按时签收率 | 办结率 | 满意率 | 得分 | 较上期 |",
              "|---:|---|---:|---:|---:|---:|---:|---|"]
    for u in units["rows"]:
        score = "—" if u["score"] is None else f"{u['score']:.1f}"
        lines.append(
            f"| {u['rank'] or '—'} | {u['unit']} | {u['dispatched']} | "
            f"{percent(u['response_rate'])}（{u['signed_on_time']}/{u['sign_due']}） | "
            f"{percent(u['resolution_rate'])}（{u['resolved']}/{u['answer_due']}） | "
            f"{percent(u['satisfaction_rate'])}（{u['satisfied']}/{u['rated']}） | "
            f"{score} | {change(u)} |")
    return lines


def _discipline(digest: dict[str, Any]) -> list[str]:
    return ["## 五、移送区纪委", "",
            f"- 本期涉嫌“吃拿卡要”线索 {digest['discipline_referrals']} 件，"
            "已按规定移送区纪委（内容与反映人信息不在简报中出现）"]


def _campaign(digest: dict[str, Any]) -> list[str]:
    section = digest["campaign"]
    lines = ["## 六、整治进度", ""]
    if section["phase"]:
        lines.append(f"- 当前阶段：{section['phase']}（至 {section['phase_end']}，"
                     f"剩余 {section['days_left']} 天）")
    else:
        lines.append("- 当前不在整治活动各阶段时间内")
    for item in section["overdue_targets"]:
        lines.append(f"- 【已逾期】{item['id']} {item['text']}：期限 {item['deadline']}，"
                     f"逾期 {-item['days_left']} 天，{item['status']}；"
                     f"牵头：{'、'.join(item['lead_units'])}")
    for item in section["due_targets"]:
        lines.append(f"- 【30天内到期】{item['id']} {item['text']}：期限 {item['deadline']}，"
                     f"剩余 {item['days_left']} 天，{item['status']}；"
                     f"牵头：{'、'.join(item['lead_units'])}")
    if not section["overdue_targets"] and not section["due_targets"]:
        lines.append("- 近 30 天内无到期目标，亦无逾期目标")
    return lines
