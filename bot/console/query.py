"""The queue's query: the API's visibility, overdue rule and masking, plus console filters.

Role rules come from ``bot.api`` (``visibility_sql``, ``overdue_sql``,
``serialize``, ``parse_filters``), so a unit account sees here exactly the
rows and the masked fields the JSON API gives it. The console adds what a
person at a desk needs on top: text search (SQLite FTS5 trigram, LIKE below
3 characters), flagged tickets, a date range, sorting, and a capped count so
a page stays fast on a million tickets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from bot import api
from storage import clock, search_index, tickets
from storage.lifecycle import IN_HAND, Actor

PER_PAGE = 50
COUNT_CAP = 2_000  # "2000+": counting every match of a common word costs more than it tells
EXPORT_CAP = 50_000
SORTS = {
    "new": ("created_at DESC, tickets.id DESC", "最新受理"),
    "old": ("created_at ASC, tickets.id ASC", "最早受理"),
    "due": ("due_at ASC, tickets.id ASC", "办理中·答复期限最近"),
}
FTS_ROWID = "tickets_fts.rowid"
FTS_ORDER = {"new": f"{FTS_ROWID} DESC", "old": f"{FTS_ROWID} ASC"}
ID_ORDER = {"new": "tickets.id DESC", "old": "tickets.id ASC"}
NUMBER = re.compile(r"^[A-Z]{1,8}\d{8}-\d{4}$")
TRIGRAM = 3


class FilterError(ValueError):
    """A filter value that makes no sense (bad date, unknown status); shown to the user."""


@dataclass
class Query:
    """Everything the queue page asks for, already checked."""

    base: api.Filters = field(default_factory=api.Filters)
    text: str = ""
    flagged: bool = False
    date_from: date | None = None
    date_to: date | None = None
    sort: str = "new"
    page: int = 1


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name} 日期格式应为 2026-01-31") from None


def parse(args: dict[str, str]) -> Query:
    """Console query arguments → Query; the API parses the filters it shares with us."""
    shared = {k: args[k] for k in ("status", "kind", "unit", "overdue", "page") if args.get(k)}
    try:
        base, page, _ = api.parse_filters(shared)
    except api.ApiError as error:
        raise FilterError(error.reason) from None
    sort = args.get("sort") or "new"
    if sort not in SORTS:
        raise FilterError(f"排序方式无效：{sort}")
    return Query(base=base, text=(args.get("q") or "").strip()[:100],
                 flagged=args.get("flagged") in ("1", "on", "true"),
                 date_from=_day(args.get("from"), "起始"), date_to=_day(args.get("to"), "截止"),
                 sort=sort, page=page)


@dataclass
class Plan:
    """FROM, WHERE, arguments and ORDER BY of one queue query."""

    source: str
    where: str
    args: list[Any]
    order: str


def plan(actor: Actor, query: Query, now: datetime) -> Plan:
    """The API's visibility and filters first, then the console's own filters."""
    # The API's own WHERE (visibility + status/kind/unit/overdue): shared, not copied.
    clause, args = api._where(actor, query.base, now)
    parts, args = [f"({clause})"], list(args)
    if query.flagged:
        parts.append("flags != '[]'")  # the exact term of the partial index tickets_flagged
    _dates(query, parts, args)
    if query.sort == "due":  # deadlines only matter while a unit has the ticket in hand
        parts.append(f"status IN ({', '.join('?' for _ in IN_HAND)})")
        args += sorted(IN_HAND)
    source, order = "tickets", SORTS[query.sort][0]
    if _uses_fts(query.text) and query.sort != "due":
        # Join from the FTS table and walk its rowids in order: a common word then needs
        # only the first 50 matches, not all of them sorted. Ids grow with arrival time,
        # so rowid order is newest (or oldest) first.
        # CROSS JOIN keeps the FTS table as the outer loop whatever the planner guesses.
        source = "tickets_fts CROSS JOIN tickets ON tickets.id = tickets_fts.rowid"
        parts.append("tickets_fts MATCH ?")
        args.append('"' + query.text.replace('"', '""') + '"')
        order = FTS_ORDER.get(query.sort, order)
    else:  # short words; and the deadline sort, whose in-hand set is small enough to scan
        _text(query.text, parts, args)
        if query.text and not NUMBER.match(query.text.upper()):
            # LIKE reads each row's text: walk the table itself (rowid = arrival order),
            # not the created_at index, whose random row look-ups cost 20× on a cold cache.
            order = ID_ORDER.get(query.sort, order)
    return Plan(source, " AND ".join(parts), args, order)


def _uses_fts(text: str) -> bool:
    return len(text) >= TRIGRAM and not NUMBER.match(text.upper())


def _index_if_searching(db: Database, query: Query) -> None:
    """A text search reads the FTS index: bring it up to the newest ticket first."""
    if _uses_fts(query.text) and query.sort != "due":
        search_index.catch_up(db)


def _dates(query: Query, parts: list[str], args: list[Any]) -> None:
    if query.date_from:
        parts.append("created_at >= ?")
        args.append(clock.iso(datetime.combine(query.date_from, datetime.min.time())))
    if query.date_to:
        parts.append("created_at < ?")
        end = query.date_to + timedelta(days=1)
        args.append(clock.iso(datetime.combine(end, datetime.min.time())))


def _text(text: str, parts: list[str], args: list[Any]) -> None:
    """A ticket number finds that ticket; under 3 characters (no trigram) use LIKE."""
    if not text:
        return
    if NUMBER.match(text.upper()):
        parts.append("number = ?")
        args.append(text.upper())
    else:
        parts.append("tickets.text LIKE ? ESCAPE '\\'")
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args.append(f"%{escaped}%")


def page(db: Database, actor: Actor, query: Query, now: datetime | None = None,
         per_page: int = PER_PAGE) -> dict[str, Any]:
    """One page of the queue, serialised by the API's rules, with a capped total."""
    now = now or clock.now()
    _index_if_searching(db, query)
    p = plan(actor, query, now)
    # Pick the page's ids first and fetch whole rows after: a sort (overdue, deadline)
    # then moves small (key, id) pairs instead of rows with their complaint text.
    rows = list(db.query(
        f"SELECT * FROM tickets WHERE id IN (SELECT tickets.id FROM {p.source} WHERE {p.where}"
        f" ORDER BY {p.order} LIMIT ? OFFSET ?) ORDER BY {p.order.replace(FTS_ROWID, 'id')}",
        [*p.args, per_page, (query.page - 1) * per_page]))
    if query.page == 1 and len(rows) < per_page:
        total = len(rows)  # the whole result is on this page: no second scan to count it
    else:
        total = db.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {p.source} WHERE {p.where} LIMIT ?)",
            [*p.args, COUNT_CAP + 1]).fetchone()[0]
    items = [api.serialize(tickets.decode(row), actor, now) for row in rows]
    return {"tickets": items, "page": query.page, "per_page": per_page,
            "total": min(total, COUNT_CAP), "more": total > COUNT_CAP,
            "has_next": len(items) == per_page and query.page * per_page < total,
            "pages": max(1, -(-min(total, COUNT_CAP) // per_page))}


def export_rows(db: Database, actor: Actor, query: Query,
                now: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Every matching ticket (up to EXPORT_CAP), serialised by the API's rules."""
    now = now or clock.now()
    _index_if_searching(db, query)
    p = plan(actor, query, now)
    rows = db.query(f"SELECT tickets.* FROM {p.source} WHERE {p.where} ORDER BY {p.order}"
                    " LIMIT ?", [*p.args, EXPORT_CAP])
    for row in rows:
        yield api.serialize(tickets.decode(row), actor, now)
