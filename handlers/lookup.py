"""Progress look-ups: a citizen sees only their own tickets."""

from __future__ import annotations

import re

from handlers.context import Context, Reply, State
from handlers.texts import say
from keywords import load_taxonomy
from storage import tickets
from storage.lifecycle import STATUS_LABELS

NUMBER_PATTERN = re.compile(r"([A-Za-z]{1,8}\d{8}-\d{1,6})")


def find_number(text: str) -> str | None:
    match = NUMBER_PATTERN.search(text)
    return match.group(1).upper() if match else None


def query(ctx: Context, text: str) -> Reply:
    """``查询 NUMBER`` → status and latest step; without a number, the recent list."""
    number = find_number(text)
    if number is None:
        return recent_list(ctx)
    rows = list(ctx.db.query("SELECT number FROM tickets WHERE number = ? AND openid = ?",
                             [number, ctx.openid]))
    if not rows:
        return Reply(say("query_not_found", number=number))
    return Reply(describe(ctx, number))


def describe(ctx: Context, number: str) -> str:
    ticket = tickets.get_ticket(ctx.db, number)
    public = [e for e in tickets.events_of(ctx.db, ticket["id"]) if not e["internal"]]
    latest = public[-1]
    step = f"{latest['at'][:16].replace('T', ' ')} {STATUS_LABELS.get(latest['to_status'], '')}"
    if latest["action"] == "answer" and ticket["answer"]:
        step += f"：{ticket['answer']}"
    return say("query_result", number=number, status=STATUS_LABELS[ticket["status"]],
               kind_name=kind_name(ticket["kind"]), unit=ticket["unit"] or "待确定",
               latest=step.strip())


def recent_list(ctx: Context) -> Reply:
    recent = tickets.recent_tickets_of(ctx.db, ctx.openid)
    if not recent:
        return Reply(say("query_none"))
    lines = [say("query_list_header")]
    lines += [say("query_list_item", number=t["number"], status=STATUS_LABELS[t["status"]])
              for t in recent]
    lines.append(say("query_usage"))
    return Reply("\n".join(lines), State.AWAIT_QUERY)


def kind_name(code: str) -> str:
    """A kind's plain name, e.g. S1 → 拖延办理."""
    return load_taxonomy().kind(code).name
