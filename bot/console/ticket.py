"""One ticket (工单详情) and the actions taken on it from the console.

The ticket comes from the JSON API's ``ticket_view`` (role rules and masking
in one place); every action goes through ``handlers.casework.act``, the same
service the API, the sweep and the chat use. After a POST the page redirects
back (no double submission on reload) with a polite message.
"""

from __future__ import annotations

import re
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot import api
from bot.access import current_actor, db
from bot.console import answers, labels
from bot.console.auth import login_required
from handlers import casework
from storage.lifecycle import STATUS_LABELS, TRANSITIONS, Actor, TransitionError

# Actions offered on the page, in the order shown; citizen and system actions are not here.
CONSOLE_ACTIONS = ("accept", "dispatch", "answer", "return", "request_extension",
                   "approve_extension", "deny_extension", "reclassify", "close", "reject",
                   "note")
# Form fields each action reads; anything else posted is ignored.
FIELDS = {
    "dispatch": ("unit", "note"), "accept": (), "return": ("note",), "answer": ("note",),
    "reject": ("note",), "reclassify": ("kind", "subtype"), "note": ("note",),
    "request_extension": ("days", "note"), "approve_extension": ("days", "note"),
    "deny_extension": ("note",), "close": (),
}
DONE = {
    "dispatch": "已派单", "accept": "已签收", "return": "已退回整治办",
    "answer": "已答复，等待群众评价",
    "reject": "已作不予受理处理", "reclassify": "已改类", "note": "已添加内部备注",
    "request_extension": "延期申请已提交", "approve_extension": "已批准延期",
    "deny_extension": "已不同意延期，并告知承办单位", "close": "已办结",
}


FIELD_LABELS = {"note": "说明或理由", "unit": "责任单位", "kind": "问题类型", "subtype": "具体情形",
                "days": "延期天数"}
CODE = re.compile(r"\b[a-z_]+\b")
NEEDS = re.compile(r"需要填写\s*([a-z_]+)")


def polite(reason: str) -> str:
    """The lifecycle's reason with field and action codes in Chinese, for the page."""
    reason = NEEDS.sub(lambda m: f"需要填写{FIELD_LABELS.get(m.group(1), m.group(1))}", reason)
    return CODE.sub(lambda m: labels.ACTION_LABELS.get(m.group(0), m.group(0)), reason)


def available_actions(actor: Actor, ticket: dict[str, Any]) -> list[str]:
    """Actions this role may take on the ticket now (lifecycle table; ``ticket_view`` data)."""
    return [name for name in CONSOLE_ACTIONS
            if actor.role in TRANSITIONS[name].roles
            and ticket["status"] in TRANSITIONS[name].from_statuses
            and (ticket.get("pending_extension") or not TRANSITIONS[name].on_request)]


def load_ticket(actor: Actor, number: str) -> dict[str, Any]:
    """The ticket as the API shows it to this account; 404 when it may not see it."""
    try:
        ticket = api.ticket_view(db(), actor, number)
    except TransitionError as error:
        abort(error.status, description=error.reason)
    if ticket is None:
        abort(404, description=f"工单 {number} 不存在")
    return ticket


@login_required("office", "unit", "leader", "admin")
def ticket(number: str) -> ResponseReturnValue:
    """The ticket page: text, classification, deadlines, attachments, timeline, actions."""
    actor = current_actor()
    item = load_ticket(actor, number)
    return render_template(
        "console/ticket.html", t=item, actions=available_actions(actor, item),
        status_labels=STATUS_LABELS, labels=labels, templates=answers.load_templates(),
        units=labels.unit_names(), kinds=labels.kind_choices(),
        subtypes=labels.subtype_choices())


def params_from_form(action: str, number: str) -> dict[str, Any]:
    """The action's fields from the form; a chosen canned answer fills an empty text."""
    params = {name: request.form.get(name, "").strip() for name in FIELDS.get(action, ())}
    if action == "answer" and not params.get("note"):
        choice = request.form.get("template", type=int)
        params["note"] = answers.filled(choice, number) if choice is not None else ""
    if "subtype" in params and not params["subtype"]:
        params.pop("subtype")
    if "days" in params and not params["days"]:
        params.pop("days")
    return params


@login_required("office", "unit", "admin")
def ticket_act(number: str) -> ResponseReturnValue:
    """Take one action via ``casework.act``; refused ones come back as a polite message."""
    actor = current_actor()
    action = request.form.get("action", "")
    if action not in CONSOLE_ACTIONS:
        abort(400, description="未知操作")
    load_ticket(actor, number)  # 404 before anything else for a ticket it may not see
    try:
        casework.act(db(), current_app.config["BOT"], number, action, actor,
                     params_from_form(action, number))
    except TransitionError as error:
        if error.status == 404:
            abort(404, description=error.reason)
        flash(f"操作未完成：{polite(error.reason)}", "error")
        return redirect(url_for("console.ticket", number=number), 303)
    flash(DONE.get(action, "操作已完成"), "success")
    return redirect(url_for("console.ticket", number=number), 303)
