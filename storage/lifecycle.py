"""The ticket lifecycle: one table of allowed transitions per role.

``TRANSITIONS[action]`` maps each role allowed to take the action to the
statuses it may be taken from, and the status it leads to (``None`` = the
status stays). A role missing from an action's table gets 403; a status
missing from it gets 409. Every change is an event row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage import clock, tickets
from storage.db import write_transaction
from storage.workdays import add_working_days

OPEN = frozenset(tickets.OPEN_STATUSES)
STATUSES = ("received", "dispatched", "accepted", "returned", "answered", "reopened",
            "closed", "rejected")
STATUS_LABELS = {
    "received": "已受理", "dispatched": "已派单", "accepted": "已签收", "returned": "已退回",
    "answered": "已答复", "reopened": "重新办理", "closed": "已办结", "rejected": "不予受理",
}
ROLES = ("office", "unit", "leader", "admin", "citizen", "system")
OFFICE_ROLES = ("office", "admin")
RATINGS = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}


@dataclass(frozen=True)
class Rule:
    """Who may take an action, from which statuses, and where it leads."""

    roles: tuple[str, ...]
    from_statuses: frozenset[str]
    to_status: str | None
    needs: tuple[str, ...] = field(default=())


TRANSITIONS: dict[str, Rule] = {
    "dispatch": Rule((*OFFICE_ROLES, "system"), frozenset({"received", "returned", "dispatched",
                                              "accepted", "reopened"}), "dispatched", ("unit",)),
    "accept": Rule(("unit",), frozenset({"dispatched", "reopened"}), "accepted"),
    "return": Rule(("unit",), frozenset({"dispatched", "accepted", "reopened"}), "returned",
                   ("note",)),
    "answer": Rule(("unit", *OFFICE_ROLES), frozenset({"accepted", "reopened"}), "answered",
                   ("note",)),
    "reject": Rule(OFFICE_ROLES, frozenset({"received", "returned", "dispatched"}), "rejected",
                   ("note",)),
    "reclassify": Rule(OFFICE_ROLES, OPEN, None, ("kind",)),
    "note": Rule(("unit", *OFFICE_ROLES), OPEN | {"closed", "rejected"}, None, ("note",)),
    "request_extension": Rule(("unit",), frozenset({"dispatched", "accepted", "reopened"}), None,
                              ("note",)),
    "approve_extension": Rule(OFFICE_ROLES, frozenset({"dispatched", "accepted", "reopened"}),
                              None),
    "rate": Rule(("citizen",), frozenset({"answered"}), None, ("rating",)),
    "supplement": Rule(("citizen",), OPEN, None, ("note",)),
    "close": Rule(("system", *OFFICE_ROLES), frozenset({"answered"}), "closed"),
}


class TransitionError(Exception):
    """A refused action; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Actor:
    """Who acts: a username (a citizen's OpenID, or 'system'), a role, a unit for unit accounts."""

    name: str
    role: str
    unit: str | None = None


@dataclass
class Outcome:
    """What a transition did, for notices: the ticket before and after, and the action."""

    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    note: str | None


def can_see(actor: Actor, ticket: dict[str, Any]) -> bool:
    """The visibility rule shared by API and console: units see only their own, never S6."""
    if actor.role in ("office", "admin", "leader", "system"):
        return True
    if actor.role == "unit":
        return (ticket["unit"] == actor.unit and ticket["kind"] != "S6"
                and "discipline" not in ticket["flags"])
    if actor.role == "citizen":
        return ticket["openid"] == actor.name
    return False


def check(actor: Actor, ticket: dict[str, Any], action: str, params: dict[str, Any]) -> Rule:
    """Raise TransitionError unless ``actor`` may take ``action`` on ``ticket`` now."""
    rule = TRANSITIONS.get(action)
    if rule is None:
        raise TransitionError(400, f"未知操作：{action}")
    if actor.role not in rule.roles:
        raise TransitionError(403, f"角色 {actor.role} 无权执行 {action}")
    if ticket["status"] not in rule.from_statuses:
        label = STATUS_LABELS[ticket["status"]]
        raise TransitionError(409, f"工单状态为“{label}”，不能执行 {action}")
    for needed in rule.needs:
        if not str(params.get(needed) or "").strip():
            raise TransitionError(400, f"操作 {action} 需要填写 {needed}")
    return rule


def deadline_days(config: dict[str, Any], kind: str) -> tuple[int, int]:
    """(sign, answer) working days for a kind, with per-kind overrides from config."""
    override = config.get("deadlines.kinds", {}).get(kind, {})
    sign = int(override.get("sign_working_days", config.get("deadlines.sign_working_days", 1)))
    answer = int(override.get("answer_working_days",
                              config.get("deadlines.answer_working_days", 5)))
    return sign, answer


def transition(
    db: Database,
    number: str,
    action: str,
    actor: Actor,
    params: dict[str, Any] | None = None,
    *,
    config: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Apply one action atomically: check the rule, change the ticket, write the event."""
    params = params or {}
    config = config or {}
    moment = now or clock.now()
    with write_transaction(db):
        before = tickets.get_ticket(db, number)
        if before is None or not can_see(actor, before):
            raise TransitionError(404, f"工单 {number} 不存在")
        rule = check(actor, before, action, params)
        fields, to_status = _effects(before, action, rule, params, config, moment)
        if to_status != before["status"]:
            fields["status"] = to_status
        fields["updated_at"] = clock.iso(moment)
        tickets.update_ticket(db, before["id"], **fields)
        note = _event_note(action, params)
        tickets.add_event(db, before["id"], actor.name, actor.role, action, before["status"],
                          to_status, note, internal=action == "note", now=moment)
        after = tickets.get_ticket(db, number)
    return Outcome(action, before, after, note)


def _event_note(action: str, params: dict[str, Any]) -> str | None:
    if action == "dispatch":
        return f"派往 {params['unit']}" + (f"：{params['note']}" if params.get("note") else "")
    if action == "reclassify":
        return f"改为 {params['kind']}" + (f"/{params['subtype']}" if params.get("subtype") else "")
    if action == "rate":
        return RATINGS.get(params["rating"], params["rating"])
    return params.get("note")


def _effects(
    ticket: dict[str, Any],
    action: str,
    rule: Rule,
    params: dict[str, Any],
    config: dict[str, Any],
    moment: datetime,
) -> tuple[dict[str, Any], str]:
    """Column changes and the new status for one allowed action."""
    stamp = clock.iso(moment)
    to_status = rule.to_status or ticket["status"]
    fields: dict[str, Any] = {}
    if action == "dispatch":
        if ticket["kind"] == "S6" or "discipline" in ticket["flags"]:
            raise TransitionError(409, "吃拿卡要线索移送区纪委，不派给被反映单位")
        sign_days, answer_days = deadline_days(config, ticket["kind"])
        fields.update(unit=params["unit"], dispatched_at=stamp, signed_at=None, overdue=0,
                      sign_due_at=clock.iso(add_working_days(moment, sign_days)),
                      due_at=clock.iso(add_working_days(moment, answer_days)),
                      escalated_at=None, alerted_at=None, reminded_at=None)
    elif action == "accept":
        fields["signed_at"] = stamp
    elif action == "answer":
        fields.update(answer=params["note"], answered_at=stamp, overdue=0)
    elif action in ("reject", "close"):
        fields["closed_at"] = stamp
    elif action == "reclassify":
        fields.update(kind=params["kind"], subtype=params.get("subtype"))
        if params["kind"] == "S6":
            fields["flags"] = sorted(set(ticket["flags"]) | {"discipline"})
    elif action == "approve_extension":
        days = int(params.get("days") or 5)
        base = clock.parse(ticket["due_at"]) if ticket["due_at"] else moment
        fields.update(due_at=clock.iso(add_working_days(base, days)), overdue=0)
    elif action == "rate":
        to_status = _rate(ticket, params, config, moment, fields)
    return fields, to_status


def _rate(ticket: dict[str, Any], params: dict[str, Any], config: dict[str, Any],
          moment: datetime, fields: dict[str, Any]) -> str:
    rating = params["rating"]
    if rating not in RATINGS:
        raise TransitionError(400, f"评价只能是 {'/'.join(RATINGS)}")
    fields["rating"] = rating
    if rating == "unsatisfied":
        _, answer_days = deadline_days(config, ticket["kind"])
        fields.update(due_at=clock.iso(add_working_days(moment, answer_days)), overdue=0,
                      answered_at=None)
        return "reopened"
    fields["closed_at"] = clock.iso(moment)
    return "closed"


def is_overdue(ticket: dict[str, Any], now: datetime) -> bool:
    """Past its signing deadline unsigned, or past its answer deadline unanswered."""
    stamp = clock.iso(now)
    if ticket["status"] == "dispatched" and ticket.get("sign_due_at"):
        if ticket["sign_due_at"] < stamp:
            return True
    if ticket["status"] in ("dispatched", "accepted", "reopened") and ticket.get("due_at"):
        return ticket["due_at"] < stamp
    return False
