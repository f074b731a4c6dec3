"""Case handling as one service: lifecycle transition plus the notices it causes.

The JSON API, the console, the sweep and the chat handlers all act on tickets
through ``act`` so every path writes the same events and sends the same notices.
Notices are only queued (storage.outbox); the outbox sender delivers them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from handlers.texts import say
from storage import clock, outbox, tickets, units
from storage.db import write_transaction
from storage.lifecycle import (
    IN_HAND,
    RATINGS,
    Actor,
    Outcome,
    TransitionError,
    can_see,
    deadline_days,
    is_discipline,
    transition,
)
from storage.tickets import get_ticket

SYSTEM = Actor("system", "system")
ROUTABLE_KINDS = frozenset({"S1", "S2", "S3", "S4", "S5", "D", "P"})
MAX_NOTE_CHARS = 2000
REFERRAL_NOTE = "吃拿卡要问题线索，移送区纪委处理；不派给被反映单位，投诉人身份保密"


def act(
    db: Database,
    config: dict[str, Any],
    number: str,
    action: str,
    actor: Actor,
    params: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> Outcome:
    """Take an action on a ticket and queue every notice it causes (same transaction)."""
    moment = now or clock.now()
    with write_transaction(db):
        outcome = transition(db, number, action, actor, params, config=config, now=moment,
                             prepare=lambda ticket, given: prepare_params(action, ticket, given))
        queue_notices(db, config, outcome)
        if action == "reclassify" and is_discipline(outcome.after) \
                and not is_discipline(outcome.before):
            refer_to_discipline(db, config, outcome.after, moment)
    return outcome


def prepare_params(action: str, ticket: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """Check names against the classifier's data: known unit, known kind and sub-type."""
    from keywords import load_taxonomy, load_units

    params = dict(params)
    if len(str(params.get("note") or "")) > MAX_NOTE_CHARS:
        raise TransitionError(400, f"note 不能超过 {MAX_NOTE_CHARS} 字")
    if action == "dispatch":
        unit = load_units().canonical(str(params["unit"]))
        if unit is None:
            raise TransitionError(400, f"未知单位：{params['unit']}")
        params["unit"] = unit
    if action == "reclassify":
        params.update(_checked_kind(load_taxonomy(), ticket, params))
    return params


def _checked_kind(taxonomy: Any, ticket: dict[str, Any], params: dict[str, Any]) -> dict:
    kind, subtype = str(params["kind"]).strip().upper(), params.get("subtype") or None
    if kind not in taxonomy.kinds:
        raise TransitionError(400, f"未知类型：{kind}（可选 {'/'.join(taxonomy.kinds)}）")
    if subtype is not None and str(subtype) not in taxonomy.subtypes_of(kind):
        raise TransitionError(400, f"类型 {kind} 没有子类 {subtype}")
    if (kind, subtype) == (ticket["kind"], ticket["subtype"]):
        raise TransitionError(400, "分类没有变化")
    return {"kind": kind, "subtype": subtype,
            "lead_units": list(taxonomy.kind(kind).lead_units)}


def route_new_ticket(db: Database, config: dict[str, Any], number: str,
                     now: datetime | None = None, *,
                     ticket: dict[str, Any] | None = None) -> dict[str, Any]:
    """Dispatch at once when the unit is known and the kind needs no triage.

    An S6 report is never dispatched: it is referred to 区纪委 through the office.
    ``ticket`` is the row as just written, when the caller has it (saves a read).
    """
    ticket = ticket or get_ticket(db, number)
    if is_discipline(ticket):
        refer_to_discipline(db, config, ticket, now or clock.now())  # events only
    elif ticket["kind"] in ROUTABLE_KINDS and ticket["unit"]:
        return act(db, config, number, "dispatch", SYSTEM, {"unit": ticket["unit"]},
                   now=now).after
    return ticket


def refer_to_discipline(db: Database, config: dict[str, Any], ticket: dict[str, Any],
                        now: datetime) -> None:
    """Record the referral (an event) and tell the office, once per ticket."""
    with write_transaction(db):
        done = db.execute("SELECT 1 FROM events WHERE ticket_id = ? AND action = 'refer'",
                          [ticket["id"]]).fetchone()
        if done:
            return
        tickets.add_event(db, ticket["id"], "system", "system", "refer", ticket["status"],
                          ticket["status"], REFERRAL_NOTE, internal=True, now=now)
        notify_office(db, config, ticket, f"吃拿卡要线索 {ticket['number']}，请移送区纪委",
                      "refer")


def queue_notices(db: Database, config: dict[str, Any], outcome: Outcome) -> None:
    """Every notice one action causes: the citizen, the unit's liaisons, the office."""
    after, action = outcome.after, outcome.action
    text = _citizen_notice(outcome)
    if text:
        outbox.enqueue_text(
            db, after["openid"], text, ticket_number=after["number"],
            dedupe_key=f"citizen:{after['number']}:{action}:{after['updated_at']}",
        )
    if action == "dispatch" or (action == "rate" and after["status"] == "reopened"):
        notify_unit(db, config, after, action)
    elif action == "supplement":
        _forward_supplement(db, config, after, outcome.note or "")
    elif action == "return":
        notify_office(db, config, after, f"工单 {after['number']} 被{after['unit']}退回："
                      f"{outcome.note}", action)
    elif action == "request_extension":
        notify_office(db, config, after, f"{after['unit']}申请延期办理工单 {after['number']}："
                      f"{outcome.note}", action)
    elif action in ("approve_extension", "deny_extension"):
        notify_unit(db, config, after, action, _decision_headline(outcome))


def _citizen_notice(outcome: Outcome) -> str | None:
    after, action = outcome.after, outcome.action
    values = {"number": after["number"], "unit": after["unit"] or "承办单位",
              "note": outcome.note or "", "due": (after["due_at"] or "")[:10]}
    if action == "dispatch" and outcome.before["unit"] != after["unit"]:
        return say("notice_dispatched", **values)
    if action == "dispatch" and outcome.before["status"] == "returned":
        return say("notice_reopened", **values)
    if action == "accept":
        return say("notice_accepted", **values)
    if action == "answer":
        return say("rate_request", answer=after["answer"], **values)
    if action == "reject":
        return say("notice_rejected", **values)
    if action == "close":
        return say("notice_closed", **values)
    if action == "approve_extension":
        return say("notice_extended", **values)
    return None


def _decision_headline(outcome: Outcome) -> str:
    """The office's answer to a unit's extension request, for its liaisons.

    The texts are ``unit_approve_extension`` and ``unit_deny_extension`` in replies.toml.
    """
    after = outcome.after
    due = (after["due_at"] or "")[:16].replace("T", " ") or "以工作台为准"
    note = (outcome.note or "").strip().rstrip("。.！!；;")
    return say(f"unit_{outcome.action}", number=after["number"], note=note, due=due)


def _forward_supplement(db: Database, config: dict[str, Any], ticket: dict[str, Any],
                        text: str) -> None:
    """补充 reaches the unit handling the ticket, else the office that holds it."""
    headline = f"工单 {ticket['number']} 群众补充：{text}"
    unit_actor = Actor("liaison", "unit", ticket["unit"])
    if ticket["status"] in IN_HAND | {"answered"} and can_see(unit_actor, ticket):
        notify_unit(db, config, ticket, "supplement", headline)
    else:
        notify_office(db, config, ticket, headline, "supplement")


def unit_liaisons(db: Database, config: dict[str, Any], unit: str) -> list[str]:
    """OpenIDs of a unit's liaisons: the config's list plus those kept in the database."""
    return units.liaisons(db, config, unit)


def notify_unit(db: Database, config: dict[str, Any], ticket: dict[str, Any],
                action: str, headline: str | None = None) -> int:
    """Tell a unit's liaisons a ticket needs them (template message when configured)."""
    if not ticket["unit"] or is_discipline(ticket):
        return 0
    headline = headline or _unit_headline(config, ticket, action)
    queued = 0
    for openid in unit_liaisons(db, config, ticket["unit"]):
        key = f"unit:{ticket['number']}:{action}:{ticket['updated_at']}:{openid}"
        queued += _notice(db, config, openid, "unit", ticket, headline, key)
    return queued


def _unit_headline(config: dict[str, Any], ticket: dict[str, Any], action: str) -> str:
    sign_days, answer_days = deadline_days(config, ticket["kind"])
    if action == "dispatch":
        return (f"新派工单 {ticket['number']}，请于{sign_days}个工作日内签收、"
                f"{answer_days}个工作日内答复")
    return f"工单 {ticket['number']} 群众不满意，已重新交办"


def notify_office(db: Database, config: dict[str, Any], ticket: dict[str, Any],
                  headline: str, action: str) -> int:
    """Tell the office (``office.openids``) about a ticket that needs it."""
    queued = 0
    for openid in config.get("office.openids", []):
        key = f"office:{ticket['number']}:{action}:{ticket['updated_at']}:{openid}"
        queued += _notice(db, config, openid, "office", ticket, headline, key)
    return queued


def _notice(db: Database, config: dict[str, Any], openid: str, audience: str,
            ticket: dict[str, Any], headline: str, key: str) -> int:
    """Queue one staff notice; 1 if it is new, 0 if it was queued before."""
    template_id = config.get("wechat.template_notice", "")
    if template_id:
        data = {"first": {"value": headline}, "keyword1": {"value": ticket["number"]},
                "keyword2": {"value": (ticket["due_at"] or "")[:16]},
                "remark": {"value": "请登录整治办工作台处理"}}
        row = outbox.enqueue_template(db, openid, template_id, data, audience=audience,
                                      ticket_number=ticket["number"], dedupe_key=key)
    else:
        row = outbox.enqueue_text(db, openid, headline, audience=audience,
                                  ticket_number=ticket["number"], dedupe_key=key)
    return int(row is not None)


def rating_from_text(text: str) -> str | None:
    """满意 / 基本满意 / 不满意 or 1 / 2 / 3 → a rating code."""
    words = {"1": "satisfied", "2": "basically", "3": "unsatisfied"}
    words.update({label: code for code, label in RATINGS.items()})
    words.update({"非常满意": "satisfied", "很满意": "satisfied", "一般": "basically"})
    return words.get(text.strip().strip("。.!！ "))
