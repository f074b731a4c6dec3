"""Chinese labels for codes (kinds, sub-types, flags, actions), from the data files."""

from __future__ import annotations

import functools

from keywords import load_taxonomy, load_units

FLAG_LABELS = {"discipline": "移送区纪委", "repeat": "重复投诉", "urgent": "紧急"}
ACTION_LABELS = {
    "create": "受理", "dispatch": "派单", "accept": "签收", "return": "退回",
    "answer": "答复", "reject": "不予受理", "reclassify": "改类", "note": "内部备注",
    "request_extension": "申请延期", "approve_extension": "批准延期",
    "deny_extension": "不同意延期", "rate": "评价",
    "supplement": "补充", "close": "办结", "overdue": "超期", "escalate": "升级督办",
    "remind": "到期提醒", "refer": "移送",
}
ROLE_NAMES = {"citizen": "群众", "system": "系统", "office": "整治办", "unit": "责任单位",
              "leader": "领导小组", "admin": "管理员"}


@functools.cache
def _taxonomy():  # noqa: ANN202 - keywords.taxonomy.Taxonomy
    return load_taxonomy()


def kind_name(code: str | None) -> str:
    """The plan's Chinese name for a kind code (S1 → 拖延办理); D/P → their group name."""
    if not code:
        return ""
    try:
        kind = _taxonomy().kind(code)
    except KeyError:
        return code
    return kind.name or kind.group


def kind_label(code: str | None) -> str:
    """Code and name together, e.g. "S1 拖延办理"."""
    return f"{code} {kind_name(code)}".strip() if code else "未分类"


def subtype_label(code: str | None) -> str:
    if not code:
        return ""
    name = _taxonomy().subtypes.get(code)
    return f"{code} {name}" if name else code


def kind_choices() -> list[tuple[str, str]]:
    """(code, label) for every kind, in plan order (NONE last)."""
    return [(code, kind_label(code)) for code in _taxonomy().kinds]


def subtype_choices() -> list[tuple[str, str]]:
    return [(code, subtype_label(code)) for code in _taxonomy().subtypes]


@functools.cache
def unit_names() -> tuple[str, ...]:
    """Canonical unit names from keywords/data/units.toml, in file order."""
    return tuple(unit.name for unit in load_units().all())
