"""The conversation: one ordered table of entry points, states and fallbacks.

``handle`` loads the citizen's state, picks the first matching route and
saves the next state. Routes are plain functions of a ``Context``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from handlers import intake, lookup
from handlers.casework import act, rating_from_text
from handlers.context import Context, Incoming, Reply, State
from handlers.normalize import simplify
from handlers.texts import say
from keywords import classify
from storage import clock, conversations, tickets
from storage.lifecycle import RATINGS, TransitionError

Route = tuple[Callable[[Context, str], bool], Callable[[Context, str], Reply]]
HELP_WORDS = frozenset({"帮助", "help", "?", "？", "菜单", "使用说明"})
CANCEL_WORDS = frozenset({"取消", "退出", "cancel"})


def _command(word: str) -> Callable[[Context, str], bool]:
    return lambda ctx, text: text.startswith(word)


def _answered_tickets(ctx: Context) -> list[dict]:
    return [t for t in tickets.open_tickets_of(ctx.db, ctx.openid) if t["status"] == "answered"]


def _is_rating(ctx: Context, text: str) -> bool:
    """A rating word while the citizen has an answered ticket (in any state: the
    answer arrives as a notice, often long after the conversation timed out)."""
    return rating_from_text(text) is not None and bool(_answered_tickets(ctx))


def rate(ctx: Context, text: str) -> Reply:
    """满意 / 基本满意 / 不满意 for the citizen's most recently answered ticket."""
    number = _answered_tickets(ctx)[0]["number"]
    rating = rating_from_text(text)
    try:
        outcome = act(ctx.db, ctx.config, number, "rate", intake.citizen(ctx), {"rating": rating},
                      now=ctx.now)
    except TransitionError:
        return Reply(say("rate_nothing"))
    ctx.ticket_number = number
    if outcome.after["status"] == "reopened":
        return Reply(say("rate_reopened", number=number))
    return Reply(say("rate_thanks", rating=RATINGS[rating], number=number))


def _in_follow_up(ctx: Context, text: str) -> bool:
    """A short answer to the pending question (a long complaint-like text starts anew)."""
    return ctx.state in intake.FOLLOW_UPS and len(text) <= 40


TEXT_ROUTES: tuple[Route, ...] = (
    (lambda ctx, text: text.lower() in HELP_WORDS, lambda ctx, text: Reply(say("help"))),
    (lambda ctx, text: text.lower() in CANCEL_WORDS, lambda ctx, text: Reply(say("cancel"))),
    (_command("查询"), lambda ctx, text: lookup.query(ctx, text[2:])),
    (lambda ctx, text: lookup.find_number(text) is not None and len(text) <= 30,
     lookup.query),
    (_command("补充"), lambda ctx, text: intake.supplement(ctx, text[2:].strip(" ：:"))),
    (_is_rating, rate),
    (lambda ctx, text: ctx.state == State.AWAIT_CONFIRM and text in intake.CONFIRM_WORDS,
     intake.confirm),
    (_in_follow_up, intake.answer_follow_up),
    (lambda ctx, text: ctx.state == State.AWAIT_QUERY, lookup.query),
    (lambda ctx, text: True,
     lambda ctx, text: intake.take_complaint(ctx, text,
                                             insist=ctx.state == State.AWAIT_COMPLAINT)),
)

EVENT_ROUTES: dict[str, Callable[[Context], Reply]] = {
    "subscribe": lambda ctx: Reply(say("welcome")),
    "subscribe_scan": lambda ctx: Reply(say("welcome")),
    "click:COMPLAIN": lambda ctx: Reply(say("ask_complaint"), State.AWAIT_COMPLAINT),
    "click:QUERY": lambda ctx: lookup.recent_list(ctx),
    "click:HELP": lambda ctx: Reply(say("help")),
}


def route_text(ctx: Context, text: str) -> Reply:
    text = simplify(text)
    for matches, handler in TEXT_ROUTES:
        if matches(ctx, text):
            return handler(ctx, text)
    raise AssertionError("the last route matches everything")


def route_event(ctx: Context) -> Reply | None:
    event = ctx.incoming.event.lower()
    name = f"click:{ctx.incoming.event_key.upper()}" if event == "click" else event
    handler = EVENT_ROUTES.get(name)
    return handler(ctx) if handler else None


def attach(ctx: Context) -> Reply:
    """An image or location goes to the citizen's latest open ticket."""
    open_tickets = tickets.open_tickets_of(ctx.db, ctx.openid)
    if not open_tickets:
        return Reply(say("attach_no_ticket"))
    ticket = open_tickets[0]
    message = ctx.incoming
    if message.msg_type == "image":
        tickets.add_attachment(ctx.db, ticket["id"], "image", media_id=message.media_id,
                               url=message.pic_url)
        text = say("attached_image", number=ticket["number"])
    else:
        tickets.add_attachment(ctx.db, ticket["id"], "location", latitude=message.latitude,
                               longitude=message.longitude, label=message.label)
        text = say("attached_location", number=ticket["number"], label=message.label or "位置")
    ctx.ticket_number = ticket["number"]
    return Reply(text, ctx.state, ctx.data)


def respond(ctx: Context) -> Reply | None:
    """The reply for one message (None: nothing to say, e.g. an unsubscribe)."""
    message = ctx.incoming
    if message.msg_type == "event":
        return route_event(ctx)
    if message.msg_type in ("image", "location"):
        return attach(ctx)
    if message.msg_type == "voice" and not message.text.strip():
        return Reply(say("voice_unrecognised"), ctx.state, ctx.data)
    if message.msg_type in ("text", "voice"):
        if not message.text.strip():
            return Reply(say("not_complaint"))
        return route_text(ctx, message.text)
    return Reply(say("unsupported"), ctx.state, ctx.data)


def handle(ctx: Context) -> str:
    """Run one message through the conversation and keep the next state."""
    saved = conversations.load(ctx.db, ctx.openid)
    timeout = timedelta(minutes=ctx.config.get("conversation.timeout_minutes", 30))
    if saved and clock.parse(saved["updated_at"]) + timeout >= ctx.now:
        ctx.state, ctx.data = State(saved["state"]), saved["data"]
    reply = respond(ctx)
    if reply is None:
        conversations.touch(ctx.db, ctx.openid, ctx.state, ctx.data, ctx.now)
        return ""
    conversations.touch(ctx.db, ctx.openid, reply.state, reply.data, ctx.now)
    return reply.text


def warm(incoming: Incoming) -> None:
    """Classify a text before the write lock is taken; the handler's own call is then free.

    Classification is most of a complaint's CPU: under the lock it would serialise
    every worker. A failure here is left for the handler to meet and report.
    """
    if incoming.msg_type not in ("text", "voice") or not incoming.text.strip():
        return
    try:
        classify(simplify(incoming.text))
    except Exception:  # noqa: BLE001 - the handler hits it again and logs it
        return


def new_context(incoming: Incoming, db, config, now=None) -> Context:  # noqa: ANN001
    return Context(incoming=incoming, db=db, config=config, now=now or clock.now())
