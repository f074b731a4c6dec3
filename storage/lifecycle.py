"""The ticket lifecycle: one table of allowed transitions per role.

``TRANSITIONS[action]`` maps each role allowed to take the action to the
statuses it may be taken from, and the status it leads to (``None`` = the
status stays). A role missing from an action's table gets 403; a status
missing from it gets 409, and so does a decision on an extension when no
request is waiting for one. Every change is an event row. The full table is
written out for people in docs/api.md.
"""

from __future__ import annotations

from collections.abc import Callable
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
STAFF_ROLES = ("office", "unit", "leader", "admin")
IN_HAND = frozenset({"dispatched", "accepted", "reopened"})  # a unit's clock is running
RATINGS = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}
MAX_EXTENSION_DAYS = 30
INTERNAL_ACTIONS = frozenset({"note", "request_extension", "deny_extension", "overdue",
                              "escalate", "remind", "refer"})


@dataclass(frozen=True)
class Rule:
    """Who may take an action, from which statuses, and where it leads."""

    roles: tuple[str, ...]
    from_statuses: frozenset[str]
    to_status: str | None
    needs: tuple[str, ...] = field(default=())
    on_request: bool = False  # only while a unit's extension request awaits a decision


TRANSITIONS: dict[str, Rule] = {
    "dispatch": Rule((*OFFICE_ROLES, "system"),
                     frozenset({"received", "returned"}) | IN_HAND, "dispatched", ("unit",)),
    "accept": Rule(("unit",), frozenset({"dispatched", "reopened"}), "accepted"),
    "return": Rule(("unit",), IN_HAND, "returned", ("note",)),
    "answer": Rule(("unit", *OFFICE_ROLES), frozenset({"accepted", "reopened"}), "answered",
                   ("note",)),
    "reject": Rule(OFFICE_ROLES, frozenset({"received", "returned", "dispatched"}), "rejected",
                   ("note",)),
    "reclassify": Rule(OFFICE_ROLES, OPEN, None, ("kind",)),
    "note": Rule(("unit", *OFFICE_ROLES), OPEN | {"closed", "rejected"}, None, ("note",)),
    "request_extension": Rule(("unit",), IN_HAND, None, ("note",)),
    "approve_extension": Rule(OFFICE_ROLES, IN_HAND, None),
    "deny_extension": Rule(OFFICE_ROLES, IN_HAND, None, ("note",), on_request=True),
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
    """Who acts: a username (or 'citizen'/'system'), a role, and a unit for unit accounts."""

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


def is_discipline(ticket: dict[str, Any]) -> bool:
    """An S6 corruption report: referred to 区纪委, never shown to any unit."""
    return ticket["kind"] == "S6" or "discipline" in (ticket.get("flags") or [])


def can_see(actor: Actor, ticket: dict[str, Any]) -> bool:
    """The visibility rule shared by API, console and chat.

    A unit sees a ticket once it was dispatched to it (a ticket still waiting
    for the office is not the unit's yet), never a discipline referral. The
    chat handlers act as ``citizen`` only on the sender's own tickets.
    """
    if actor.role in ("office", "admin", "leader", "system", "citizen"):
        return True
    if actor.role == "unit":
        return (bool(actor.unit) and ticket["unit"] == actor.unit
                and bool(ticket.get("dispatched_at")) and not is_discipline(ticket))
    return False


def check(actor: Actor, ticket: dict[str, Any], action: str, params: dict[str, Any],
          pending: dict[str, Any] | None = None) -> Rule:
    """Raise TransitionError unless ``actor`` may take ``action`` on ``ticket`` now.

    ``pending`` is the extension request awaiting a decision (``pending_extension``).
    """
    rule = TRANSITIONS.get(action)
    if rule is None:
        raise TransitionError(400, f"未知操作：{action}")
    if actor.role not in rule.roles:
        raise TransitionError(403, f"角色 {actor.role} 无权执行 {action}")
    if ticket["status"] not in rule.from_statuses:
        label = STATUS_LABELS[ticket["status"]]
        raise TransitionError(409, f"工单状态为“{label}”，不能执行 {action}")
    if rule.on_request and pending is None:
        raise TransitionError(409, f"没有待审批的延期申请，不能执行 {action}")
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
    prepare: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
) -> Outcome:
    """Apply one action atomically: check the rule, change the ticket, write the event.

    ``prepare(ticket, params)`` may check and complete the parameters once the
    role and status are known to be allowed (so a forbidden role gets 403, not 400).
    """
    params = params or {}
    config = config or {}
    moment = now or clock.now()
    with write_transaction(db):
        before = tickets.get_ticket(db, number)
        if before is None or not can_see(actor, before):
            raise TransitionError(404, f"工单 {number} 不存在")
        rule = check(actor, before, action, params, _pending(db, before, action))
        if prepare is not None:
            params = prepare(before, params)
        fields, to_status = _effects(before, action, rule, params, config, moment)
        if to_status != before["status"]:
            fields["status"] = to_status
        fields["updated_at"] = clock.iso(moment)
        after = tickets.update_and_get(db, before["id"], **fields)
        note = _event_note(action, params)
        tickets.add_event(db, before["id"], actor.name, actor.role, action, before["status"],
                          to_status, note, internal=action in INTERNAL_ACTIONS, now=moment)
        if action == "reclassify":
            _record_correction(db, before, params, actor, moment)
    return Outcome(action, before, after, note)


def _pending(db: Database, ticket: dict[str, Any], action: str) -> dict[str, Any] | None:
    """The waiting extension request, read only for actions that decide on one."""
    rule = TRANSITIONS.get(action)
    if rule is None or not rule.on_request:
        return None
    return pending_extension(tickets.events_of(db, ticket["id"]))


def _record_correction(db: Database, ticket: dict[str, Any], params: dict[str, Any],
                       actor: Actor, moment: datetime) -> None:
    """Keep the office's correction so ``keywords suggest`` can learn from it."""
    db.execute(
        "INSERT INTO corrections (number, text, old_kind, new_kind, old_subtype, new_subtype,"
        " actor, at) VALUES (?,?,?,?,?,?,?,?)",
        [ticket["number"], ticket["text"], ticket["kind"], params["kind"], ticket["subtype"],
         params.get("subtype"), actor.name, clock.iso(moment)],
    )


def _event_note(action: str, params: dict[str, Any]) -> str | None:
    if action == "dispatch":
        return f"派往 {params['unit']}" + (f"：{params['note']}" if params.get("note") else "")
    if action == "reclassify":
        return f"改为 {params['kind']}" + (f"/{params['subtype']}" if params.get("subtype") else "")
    if action == "rate":
        return RATINGS.get(params["rating"], params["rating"])
    if action in ("request_extension", "approve_extension") and params.get("days"):
        days = f"{params['days']}个工作日"
        return f"{days}：{params['note']}" if params.get("note") else days
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
        fields = _dispatch(ticket, params, config, moment)
    elif action == "accept":
        late = bool(ticket["due_at"]) and ticket["due_at"] < stamp
        fields.update(signed_at=stamp, overdue=int(late))
    elif action == "answer":
        fields.update(answer=params["note"], answered_at=stamp, overdue=0)
    elif action in ("reject", "close"):
        fields["closed_at"] = stamp
    elif action == "reclassify":
        to_status = _reclassify(ticket, params, fields)
    elif action in ("request_extension", "approve_extension"):
        days = extension_days(params)
        if action == "approve_extension":
            base = max(clock.parse(ticket["due_at"]), moment) if ticket["due_at"] else moment
            fields.update(due_at=clock.iso(add_working_days(base, days)), **_fresh_clock())
    elif action == "rate":
        to_status = _rate(ticket, params, config, moment, fields)
    return fields, to_status


def _fresh_clock() -> dict[str, Any]:
    """A new deadline: not overdue, and reminders and escalations may happen again."""
    return {"overdue": 0, "reminded_at": None, "escalated_at": None, "alerted_at": None}


def _dispatch(ticket: dict[str, Any], params: dict[str, Any], config: dict[str, Any],
              moment: datetime) -> dict[str, Any]:
    """Send to a unit; the clock starts now (sign and answer deadlines in working days)."""
    if is_discipline(ticket):
        raise TransitionError(409, "吃拿卡要线索移送区纪委，不派给被反映单位")
    sign_days, answer_days = deadline_days(config, ticket["kind"])
    return {"unit": params["unit"], "dispatched_at": clock.iso(moment), "signed_at": None,
            "sign_due_at": clock.iso(add_working_days(moment, sign_days)),
            "due_at": clock.iso(add_working_days(moment, answer_days)), **_fresh_clock()}


def _reclassify(ticket: dict[str, Any], params: dict[str, Any], fields: dict[str, Any]) -> str:
    """New kind; becoming S6 pulls the ticket back from any unit for referral to 区纪委."""
    kind = params["kind"]
    flags = set(ticket["flags"]) - {"discipline"}
    if kind == "S6":
        flags.add("discipline")
    fields.update(kind=kind, subtype=params.get("subtype"), flags=sorted(flags))
    if "lead_units" in params:
        fields["lead_units"] = list(params["lead_units"])
    if kind == "S6" and ticket["status"] != "received":
        fields.update(sign_due_at=None, due_at=None, **_fresh_clock())
        return "received"
    return ticket["status"]


def extension_days(params: dict[str, Any]) -> int:
    """Working days asked for or granted: a whole number from 1 to 30 (default 5)."""
    days = params.get("days")
    if days in (None, ""):
        return 5
    if isinstance(days, bool) or not str(days).isdigit():
        raise TransitionError(400, "days 必须是 1 到 30 的整数")
    if not 1 <= int(days) <= MAX_EXTENSION_DAYS:
        raise TransitionError(400, "days 必须是 1 到 30 的整数")
    return int(days)


def _rate(ticket: dict[str, Any], params: dict[str, Any], config: dict[str, Any],
          moment: datetime, fields: dict[str, Any]) -> str:
    rating = params["rating"]
    if rating not in RATINGS:
        raise TransitionError(400, f"评价只能是 {'/'.join(RATINGS)}")
    fields["rating"] = rating
    if rating == "unsatisfied":
        _, answer_days = deadline_days(config, ticket["kind"])
        fields.update(due_at=clock.iso(add_working_days(moment, answer_days)),
                      answered_at=None, **_fresh_clock())
        return "reopened"
    fields["closed_at"] = clock.iso(moment)
    return "closed"


def is_overdue(ticket: dict[str, Any], now: datetime) -> bool:
    """Past its signing deadline unsigned, or past its answer deadline unanswered."""
    stamp = clock.iso(now)
    if ticket["status"] == "dispatched" and ticket.get("sign_due_at"):
        if ticket["sign_due_at"] < stamp:
            return True
    if ticket["status"] in IN_HAND and ticket.get("due_at"):
        return ticket["due_at"] < stamp
    return False


def pending_extension(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The unit's latest extension request not yet followed by a decision or new dispatch."""
    for event in reversed(events):
        if event["action"] in ("approve_extension", "deny_extension", "dispatch"):
            return None
        if event["action"] == "request_extension":
            return event
    return None
