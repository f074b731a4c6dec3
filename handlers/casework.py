"""Case handling as one service: lifecycle transition plus the notices it causes.

The JSON API, the console, the sweep and the chat handlers all act on tickets
through ``act`` so every path writes the same events and sends the same notices.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from handlers.texts import say
from storage import clock, outbox
from storage.db import write_transaction
from storage.lifecycle import RATINGS, Actor, Outcome, deadline_days, transition
from storage.tickets import get_ticket

SYSTEM = Actor("system", "system")
ROUTABLE_KINDS = frozenset({"S1", "S2", "S3", "S4", "S5", "D", "P"})


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
        outcome = transition(db, number, action, actor, params, config=config, now=moment)
        queue_notices(db, config, outcome)
    return outcome


def route_new_ticket(db: Database, config: dict[str, Any], number: str,
                     now: datetime | None = None) -> dict[str, Any]:
    """Dispatch at once when the unit is known and the kind needs no triage."""
    ticket = get_ticket(db, number)
    if ticket["kind"] in ROUTABLE_KINDS and ticket["unit"] and "discipline" not in ticket["flags"]:
        act(db, config, number, "dispatch", SYSTEM, {"unit": ticket["unit"]}, now=now)
        ticket = get_ticket(db, number)
    return ticket


def queue_notices(db: Database, config: dict[str, Any], outcome: Outcome) -> None:
    """Citizen notices for the status changes that concern them; liaison notices on dispatch."""
    after = outcome.after
    text = _citizen_notice(outcome, config)
    if text:
        outbox.enqueue_text(
            db, after["openid"], text, ticket_number=after["number"],
            dedupe_key=f"citizen:{after['number']}:{outcome.action}:{after['updated_at']}",
        )
    if outcome.action == "dispatch" or (outcome.action == "rate" and after["status"] == "reopened"):
        notify_unit(db, config, after, outcome.action)


def _citizen_notice(outcome: Outcome, config: dict[str, Any]) -> str | None:
    after, action = outcome.after, outcome.action
    values = {"number": after["number"], "unit": after["unit"] or "承办单位",
              "note": outcome.note or "", "due": (after["due_at"] or "")[:10]}
    if action == "dispatch" and outcome.before["unit"] != after["unit"]:
        return say("notice_dispatched", **values)
    if action == "accept":
        return say("notice_accepted", **values)
    if action == "answer":
        return say("rate_request", answer=after["answer"], **values)
    if action == "reject":
        return say("notice_rejected", **values)
    if action == "close" and outcome.before["status"] != "closed":
        return say("notice_closed", **values)
    if action == "approve_extension":
        return say("notice_extended", **values)
    return None


def unit_liaisons(db: Database, config: dict[str, Any], unit: str) -> list[str]:
    """OpenIDs of a unit's liaisons: the config's list plus those kept in the database."""
    openids = list(config.get("units.liaisons", {}).get(unit, []))
    for row in db.query("SELECT liaison_openids FROM units WHERE name = ?", [unit]):
        openids += [o for o in json.loads(row["liaison_openids"]) if o not in openids]
    return openids


def notify_unit(db: Database, config: dict[str, Any], ticket: dict[str, Any],
                action: str) -> None:
    """Tell a unit's liaisons a ticket needs them (template message when configured)."""
    if not ticket["unit"]:
        return
    sign_days, answer_days = deadline_days(config, ticket["kind"])
    headline = (f"新派工单 {ticket['number']}，请于{sign_days}个工作日内签收、"
                f"{answer_days}个工作日内答复" if action == "dispatch"
                else f"工单 {ticket['number']} 群众不满意，已重新交办")
    template_id = config.get("wechat.template_notice", "")
    for openid in unit_liaisons(db, config, ticket["unit"]):
        key = f"unit:{ticket['number']}:{action}:{ticket['updated_at']}:{openid}"
        if template_id:
            data = {"first": {"value": headline}, "keyword1": {"value": ticket["number"]},
                    "keyword2": {"value": (ticket["due_at"] or "")[:16]},
                    "remark": {"value": "请登录整治办工作台处理"}}
            outbox.enqueue_template(db, openid, template_id, data, audience="unit",
                                    ticket_number=ticket["number"], dedupe_key=key)
        else:
            outbox.enqueue_text(db, openid, headline, audience="unit",
                                ticket_number=ticket["number"], dedupe_key=key)


def rating_from_text(text: str) -> str | None:
    """满意 / 基本满意 / 不满意 or 1 / 2 / 3 → a rating code."""
    words = {"1": "satisfied", "2": "basically", "3": "unsatisfied"}
    words.update({label: code for code, label in RATINGS.items()})
    words.update({"非常满意": "satisfied", "很满意": "satisfied", "一般": "basically"})
    return words.get(text.strip().strip("。.!！ "))
