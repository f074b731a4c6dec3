"""A complaint becomes a ticket at once; then the questions for what is missing."""

from __future__ import annotations

import re
from datetime import timedelta

from handlers.casework import act, route_new_ticket
from handlers.context import Context, Reply, State
from handlers.texts import say
from keywords import classify, load_taxonomy, load_units
from storage import clock, tickets
from storage.lifecycle import Actor, deadline_days

MIN_COMPLAINT_CHARS = 6
CONFIRM_MIN_CHARS = 20
CONFIRM_WORDS = frozenset({"投诉", "是", "是的", "确认", "对", "要投诉", "我要投诉"})
SKIP_WORDS = frozenset({"跳过", "不知道", "不清楚", "没有", "无", "不记得", "算了", "不留", "skip"})
TIME_HINT = re.compile(r"昨天|今天|前天|上周|上个?月|本月|这个月|\d+月|\d+号|\d+日|早上|上午|中午|"
                       r"下午|晚上|周[一二三四五六日天末]|星期|礼拜|年初|年底|去年|今年|\d{1,2}[:：点]")
PHONE = re.compile(r"(?<!\d)(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")
FOLLOW_UPS = (State.ASK_UNIT, State.ASK_TIME, State.ASK_PHONE)


def citizen(ctx: Context) -> Actor:
    """The sender as an actor: citizens act only on their own tickets."""
    return Actor(ctx.openid, "citizen")


def take_complaint(ctx: Context, text: str, *, insist: bool = False) -> Reply:
    """Classify, link a repeat or open a ticket, route it, and ask what is missing."""
    result = classify(text)
    if result.kind == "NONE" and not insist:
        if len(text) >= CONFIRM_MIN_CHARS:
            # a long message the keywords do not see as a complaint: ask, never drop it
            return Reply(say("confirm_complaint"), State.AWAIT_CONFIRM, {"text": text})
        return Reply(say("not_complaint"))
    if result.kind == "NONE" and len(text) < MIN_COMPLAINT_CHARS:
        return Reply(say("too_short"), State.AWAIT_COMPLAINT)
    repeat = find_repeat(ctx, text, result.kind, result.unit)
    if repeat:
        act(ctx.db, ctx.config, repeat, "supplement", citizen(ctx), {"note": f"并单：{text}"},
            now=ctx.now)
        ctx.ticket_number = repeat
        return Reply(say("merged", number=repeat))
    taxonomy = load_taxonomy()
    ticket = tickets.create_ticket(
        ctx.db, prefix=ctx.config["tickets.prefix"], openid=ctx.openid, text=text,
        classification=result.to_dict(), lead_units=taxonomy.kind(result.kind).lead_units,
        flags=["discipline"] if result.kind == "S6" else [], source_key=ctx.incoming.key,
        now=ctx.now,
    )
    ticket = route_new_ticket(ctx.db, ctx.config, ticket["number"], now=ctx.now, ticket=ticket)
    ctx.ticket_number = ticket["number"]
    _keep_phone(ctx, ticket, text)
    pending = missing_details(ticket, text)
    first = say("ticket_created", number=ticket["number"],
                kind_name=taxonomy.kind(ticket["kind"]).name,
                kind_explain=taxonomy.kind(ticket["kind"]).explain,
                next_step=next_step(ctx, ticket))
    return ask_next(first, ticket["number"], pending)


def confirm(ctx: Context, text: str) -> Reply:
    """The citizen confirms that the message kept in AWAIT_CONFIRM is a complaint."""
    return take_complaint(ctx, ctx.data["text"], insist=True)


def next_step(ctx: Context, ticket: dict) -> str:
    if "discipline" in ticket["flags"]:
        return say("next_discipline")
    if ticket["status"] == "dispatched":
        sign_days, answer_days = deadline_days(ctx.config, ticket["kind"])
        return say("next_dispatched", unit=ticket["unit"], sign_days=sign_days,
                   answer_days=answer_days)
    return say("next_office" if ticket["kind"] != "NONE" else "next_none")


def missing_details(ticket: dict, text: str) -> list[State]:
    pending = []
    if not ticket["unit"]:
        pending.append(State.ASK_UNIT)
    if not TIME_HINT.search(text):
        pending.append(State.ASK_TIME)
    if not ticket["phone"]:
        pending.append(State.ASK_PHONE)
    return pending


def ask_next(prefix: str, number: str, pending: list[State]) -> Reply:
    """Reply with ``prefix`` and the next question, or the closing line."""
    questions = {State.ASK_UNIT: "ask_unit", State.ASK_TIME: "ask_time",
                 State.ASK_PHONE: "ask_phone"}
    if not pending:
        return Reply(f"{prefix}\n{say('followup_done', number=number)}".strip())
    text = f"{prefix}\n{say(questions[pending[0]])}".strip()
    return Reply(text, pending[0], {"ticket": number, "pending": [s.value for s in pending[1:]]})


def answer_follow_up(ctx: Context, text: str) -> Reply:
    """Record the citizen's answer to the current question, then ask the next one."""
    number = ctx.data.get("ticket")
    ticket = tickets.get_ticket(ctx.db, number) if number else None
    pending = [State(s) for s in ctx.data.get("pending", [])]
    if ticket is None:
        return Reply(say("cancel"))
    ctx.ticket_number = number
    if text.strip().lower() in SKIP_WORDS:
        return ask_next(say("skipped"), number, pending)
    if ctx.state == State.ASK_UNIT:
        prefix = _record_unit(ctx, ticket, text)
    elif ctx.state == State.ASK_TIME:
        tickets.update_ticket(ctx.db, ticket["id"], incident_time=text[:100])
        tickets.add_event(ctx.db, ticket["id"], "citizen", "citizen", "detail",
                          ticket["status"], ticket["status"], f"发生时间：{text[:100]}",
                          now=ctx.now)
        prefix = say("time_recorded")
    else:
        if not PHONE.search(text):
            return Reply(say("phone_invalid"), ctx.state, ctx.data)
        _keep_phone(ctx, ticket, text)
        prefix = say("phone_recorded")
    return ask_next(prefix, number, pending)


def _record_unit(ctx: Context, ticket: dict, text: str) -> str:
    unit = load_units().canonical(text.strip()) or classify(text).unit
    note = f"群众补充单位：{text[:100]}"
    tickets.add_event(ctx.db, ticket["id"], "citizen", "citizen", "detail", ticket["status"],
                      ticket["status"], note, now=ctx.now)
    if unit is None:
        return say("unit_unknown")
    if ticket["status"] == "received" and not ticket["unit"]:
        tickets.update_ticket(ctx.db, ticket["id"], unit=unit, classified_unit=unit)
        updated = route_new_ticket(ctx.db, ctx.config, ticket["number"], now=ctx.now)
        if updated["status"] == "dispatched":
            return f"{say('unit_recorded', unit=unit)}{next_step(ctx, updated)}"
    return say("unit_recorded", unit=unit)


def _keep_phone(ctx: Context, ticket: dict, text: str) -> None:
    match = PHONE.search(text)
    if match:
        tickets.update_ticket(ctx.db, ticket["id"], phone=match.group(1))


def find_repeat(ctx: Context, text: str, kind: str, unit: str | None) -> str | None:
    """An open ticket of the same citizen about the same matter (并单), if any."""
    window = ctx.config.get("tickets.repeat_window_days", 30)
    since = clock.iso(ctx.now - timedelta(days=window))
    for ticket in tickets.open_tickets_of(ctx.db, ctx.openid):
        if ticket["created_at"] < since or ticket["status"] == "answered":
            continue
        same_subject = unit is not None and ticket["unit"] == unit and ticket["kind"] == kind
        if same_subject or similarity(ticket["text"], text) >= 0.6:
            return ticket["number"]
    return None


def similarity(first: str, second: str) -> float:
    """Jaccard overlap of character bigrams: cheap and enough for resent complaints."""
    def grams(text: str) -> set[str]:
        return {text[i:i + 2] for i in range(len(text) - 1)}
    a, b = grams(first), grams(second)
    return len(a & b) / len(a | b) if a and b else 0.0


def supplement(ctx: Context, text: str) -> Reply:
    """``补充 …``: add information to the citizen's latest open ticket; it reaches the unit."""
    open_tickets = tickets.open_tickets_of(ctx.db, ctx.openid)
    if not text:
        return Reply(say("supplement_usage"))
    if not open_tickets:
        return Reply(say("supplement_no_ticket"))
    number = open_tickets[0]["number"]
    act(ctx.db, ctx.config, number, "supplement", citizen(ctx), {"note": text[:2000]}, now=ctx.now)
    ctx.ticket_number = number
    return Reply(say("supplement_added", number=number))

