"""Figures for the leading group's digest and the console dashboard.

Plain functions of ``db`` and a period; they only read. A period is the
half-open interval ``[start, end)`` of two ISO strings or datetimes in the
district's time zone (stored timestamps compare correctly as text).

Exact definitions (every function follows these):

- **complaint**: a ticket whose ``kind`` is not ``NONE`` (greetings, thanks and
  plain questions are never complaints, even when kept as a ticket).
- **new complaints** in a period: complaints with ``created_at`` in the period,
  whatever their status now (rejected ones included). A repeat complaint linked
  to an open ticket (并单) is not a new ticket, see ``repeat_complaints``.
- **by kind**: keys ``S1``..``S6``, ``D``, ``P``, always all eight (zeros included).
- **by unit**: the ticket's ``unit`` column; ``None`` for "no unit determined yet".
- **closed** in a period: tickets with ``status = 'closed'`` (已办结) and
  ``closed_at`` in the period. Rejected tickets (不予受理) are counted apart.
- **discipline referrals** (区纪委): complaints with kind ``S6`` or the
  ``discipline`` flag created in the period. Counts only, never text or who.
- **repeat complaints** (并单): events with action ``supplement`` whose note starts
  with "并单", dated in the period; ``tickets`` = how many distinct tickets they hit.
- **overdue**: an open ticket flagged ``overdue`` by the sweep, or past a deadline
  by ``storage.lifecycle.is_overdue`` at ``now``. Its missed deadline is the
  signing deadline while it is unsigned and that has passed, else the answer
  deadline. ``days_over`` = calendar days since that deadline, rounded up;
  ``working_days_over`` = Chinese working days after it up to ``now``'s date.
- **unit rates** (``unit_rates``): the cohort is the complaints dispatched to a
  unit with ``dispatched_at`` in the period (a re-dispatch moves a ticket to the
  new unit and date), in their state at ``now``:
  - ``dispatched``: size of the cohort;
  - ``sign_due``: those signed, or whose signing deadline is before ``now``;
    ``signed_on_time``: signed with ``signed_at <= sign_due_at``;
    ``response_rate`` = signed_on_time / sign_due;
  - ``answer_due``: those resolved, or whose answer deadline is before ``now``;
    ``resolved``: status ``answered`` or ``closed``;
    ``resolution_rate`` = resolved / answer_due;
  - ``rated``: with a rating; ``satisfied``: rating 满意 or 基本满意;
    ``satisfaction_rate`` = satisfied / rated.
  Tickets not yet due are left out of a rate's denominator, so a unit is not
  marked down for a ticket it still has time for. A rate with a zero
  denominator is ``None`` (shown as "—").
  - ``score`` = 100 × weighted mean of the available rates, weights 0.3
    (response), 0.3 (resolution), 0.4 (satisfaction), renormalised over the
    rates that are not ``None``; ``None`` when none is available.
  - ``rank``: by score (high first), then dispatched (more first), then unit
    name; equal scores share a rank ("1, 2, 2, 4"). Units without a score have
    rank ``None`` and come last.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from storage import clock
from storage.lifecycle import STATUSES, is_overdue
from storage.tickets import decode
from storage.workdays import working_days_between

KINDS = ("S1", "S2", "S3", "S4", "S5", "S6", "D", "P")
COMPLAINT = "kind != 'NONE'"
OVERDUE_STATUSES = ("received", "dispatched", "accepted", "returned", "reopened")
WEIGHTS = {"response_rate": 0.3, "resolution_rate": 0.3, "satisfaction_rate": 0.4}

Moment = str | datetime


def _iso(moment: Moment) -> str:
    return moment if isinstance(moment, str) else clock.iso(moment)


def _scalar(db: Database, sql: str, params: list[Any]) -> int:
    return int(db.execute(sql, params).fetchone()[0] or 0)


def new_complaints(db: Database, start: Moment, end: Moment) -> int:
    """How many complaints arrived in the period."""
    return _scalar(db, f"SELECT COUNT(*) FROM tickets WHERE {COMPLAINT}"
                   " AND created_at >= ? AND created_at < ?", [_iso(start), _iso(end)])


def counts_by_kind(db: Database, start: Moment, end: Moment) -> dict[str, int]:
    """New complaints per kind, all eight kinds present."""
    counts = dict.fromkeys(KINDS, 0)
    rows = db.execute(f"SELECT kind, COUNT(*) FROM tickets WHERE {COMPLAINT}"
                      " AND created_at >= ? AND created_at < ? GROUP BY kind",
                      [_iso(start), _iso(end)]).fetchall()
    for kind, count in rows:
        counts[kind] = counts.get(kind, 0) + count
    return counts


def counts_by_unit(db: Database, start: Moment, end: Moment) -> dict[str | None, int]:
    """New complaints per unit (None = no unit yet), most first, then by name."""
    rows = db.execute(f"SELECT unit, COUNT(*) AS n FROM tickets WHERE {COMPLAINT}"
                      " AND created_at >= ? AND created_at < ? GROUP BY unit",
                      [_iso(start), _iso(end)]).fetchall()
    rows.sort(key=lambda row: (-row[1], row[0] is None, row[0] or ""))
    return {unit: count for unit, count in rows}


def counts_by_status(db: Database) -> dict[str, int]:
    """All complaints now, per status (every status present)."""
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in db.execute(
            f"SELECT status, COUNT(*) FROM tickets WHERE {COMPLAINT} GROUP BY status"):
        counts[status] = count
    return counts


def closed_count(db: Database, start: Moment, end: Moment) -> int:
    """Complaints closed (已办结) in the period."""
    return _scalar(db, f"SELECT COUNT(*) FROM tickets WHERE {COMPLAINT} AND status = 'closed'"
                   " AND closed_at >= ? AND closed_at < ?", [_iso(start), _iso(end)])


def rejected_count(db: Database, start: Moment, end: Moment) -> int:
    """Complaints not accepted (不予受理) in the period."""
    return _scalar(db, f"SELECT COUNT(*) FROM tickets WHERE {COMPLAINT}"
                   " AND status = 'rejected' AND closed_at >= ? AND closed_at < ?",
                   [_iso(start), _iso(end)])


def discipline_referrals(db: Database, start: Moment, end: Moment) -> int:
    """S6 / discipline-flagged complaints created in the period: a count, nothing else."""
    return _scalar(db, "SELECT COUNT(*) FROM tickets WHERE (kind = 'S6' OR EXISTS"
                   " (SELECT 1 FROM json_each(tickets.flags) WHERE value = 'discipline'))"
                   " AND created_at >= ? AND created_at < ?", [_iso(start), _iso(end)])


def repeat_complaints(db: Database, start: Moment, end: Moment) -> dict[str, int]:
    """并单 in the period: messages linked to an open ticket, and tickets they hit."""
    row = db.execute("SELECT COUNT(*), COUNT(DISTINCT ticket_id) FROM events"
                     " WHERE action = 'supplement' AND note LIKE '并单%'"
                     " AND at >= ? AND at < ?", [_iso(start), _iso(end)]).fetchone()
    return {"messages": int(row[0]), "tickets": int(row[1])}


def daily_trend(db: Database, start: Moment, end: Moment) -> list[dict[str, Any]]:
    """New complaints per calendar day of the period, days without any included."""
    first = clock.parse(_iso(start)).date()
    last = (clock.parse(_iso(end)) - timedelta(seconds=1)).date()
    rows = db.execute(f"SELECT substr(created_at, 1, 10), COUNT(*) FROM tickets"
                      f" WHERE {COMPLAINT} AND created_at >= ? AND created_at < ?"
                      " GROUP BY 1", [_iso(start), _iso(end)]).fetchall()
    found = dict(rows)
    days: list[dict[str, Any]] = []
    day = first
    while day <= last:
        days.append({"day": day.isoformat(), "count": found.get(day.isoformat(), 0)})
        day += timedelta(days=1)
    return days


def missed_deadline(ticket: dict[str, Any], now: datetime) -> str | None:
    """The deadline an overdue ticket missed first (signing while unsigned, else answer)."""
    stamp = clock.iso(now)
    sign_due = ticket.get("sign_due_at")
    if ticket["status"] == "dispatched" and not ticket.get("signed_at") and sign_due:
        if sign_due < stamp:
            return sign_due
    due = ticket.get("due_at")
    return due if due and due < stamp else None


def overdue_tickets(db: Database, now: datetime, limit: int | None = None) -> list[dict[str, Any]]:
    """Open overdue complaints, longest over first, with unit and days over."""
    rows = _overdue_rows(db, clock.iso(now))
    working: dict[date, int] = {}
    found = []
    for row in rows:
        ticket = decode(row)
        if not (ticket["overdue"] or is_overdue(ticket, now)):
            continue
        found.append(_overdue_item(ticket, missed_deadline(ticket, now), now, working))
    found.sort(key=lambda item: (-item["days_over"], item["deadline"] or "", item["number"]))
    return found[:limit] if limit is not None else found


def _overdue_rows(db: Database, stamp: str) -> Any:
    """Candidates in SQL (flagged, or past a deadline); ``is_overdue`` has the last word."""
    marks = ", ".join("?" for _ in OVERDUE_STATUSES)
    return db.query(
        "SELECT id, number, kind, unit, status, flags, overdue, sign_due_at, signed_at, due_at"
        f" FROM tickets WHERE {COMPLAINT} AND status IN ({marks}) AND (overdue = 1"
        " OR (status = 'dispatched' AND sign_due_at < ?)"
        " OR (status IN ('dispatched', 'accepted', 'reopened') AND due_at < ?))",
        [*OVERDUE_STATUSES, stamp, stamp],
    )


def _overdue_item(ticket: dict[str, Any], deadline: str | None, now: datetime,
                  working: dict[date, int]) -> dict[str, Any]:
    days = work = 0
    if deadline:
        missed = clock.parse(deadline)
        days = math.ceil((now - missed).total_seconds() / 86400)
        if missed.date() not in working:  # one calendar walk per deadline day, not per ticket
            working[missed.date()] = working_days_between(missed, now)
        work = working[missed.date()]
    return {"number": ticket["number"], "kind": ticket["kind"], "unit": ticket["unit"],
            "status": ticket["status"], "deadline": deadline, "days_over": days,
            "working_days_over": work,
            "discipline": _is_discipline(ticket)}


def _is_discipline(ticket: dict[str, Any]) -> bool:
    return ticket["kind"] == "S6" or "discipline" in ticket["flags"]


def unit_rates(db: Database, start: Moment, end: Moment, now: datetime) -> list[dict[str, Any]]:
    """Per unit: the three rates, a score and a rank, ranked best first."""
    stamp = clock.iso(now)
    rows = db.execute(
        f"""SELECT unit, COUNT(*),
            SUM(signed_at IS NOT NULL OR sign_due_at < :now),
            SUM(signed_at IS NOT NULL AND signed_at <= sign_due_at),
            SUM(status IN ('answered', 'closed') OR due_at < :now),
            SUM(status IN ('answered', 'closed')),
            SUM(rating IS NOT NULL),
            SUM(rating IN ('satisfied', 'basically'))
        FROM tickets WHERE {COMPLAINT} AND unit IS NOT NULL AND dispatched_at IS NOT NULL
            AND dispatched_at >= :start AND dispatched_at < :end
        GROUP BY unit""",
        {"now": stamp, "start": _iso(start), "end": _iso(end)},
    ).fetchall()
    units = [_unit_row(row) for row in rows]
    return rank(units)


def _unit_row(row: tuple) -> dict[str, Any]:
    unit, dispatched, sign_due, on_time, answer_due, resolved, rated, satisfied = (
        value or 0 for value in row)
    item = {"unit": unit, "dispatched": dispatched, "sign_due": sign_due,
            "signed_on_time": on_time, "response_rate": _rate(on_time, sign_due),
            "answer_due": answer_due, "resolved": resolved,
            "resolution_rate": _rate(resolved, answer_due), "rated": rated,
            "satisfied": satisfied, "satisfaction_rate": _rate(satisfied, rated)}
    item["score"] = score(item)
    return item


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def score(item: dict[str, Any]) -> float | None:
    """Weighted mean of the available rates, 0–100, rounded to one decimal."""
    weights = {name: w for name, w in WEIGHTS.items() if item[name] is not None}
    if not weights:
        return None
    total = sum(item[name] * w for name, w in weights.items()) / sum(weights.values())
    return round(100 * total, 1)


def rank(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort best first and give competition ranks (equal scores share one)."""
    units.sort(key=lambda u: (u["score"] is None, -(u["score"] or 0), -u["dispatched"],
                              u["unit"]))
    previous: float | None = None
    position = 0
    for index, item in enumerate(units, start=1):
        if item["score"] is None:
            item["rank"] = None
            continue
        if item["score"] != previous:
            position, previous = index, item["score"]
        item["rank"] = position
    return units


def with_rank_change(current: list[dict[str, Any]],
                     previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``previous_rank`` and ``change`` (positive = moved up) to each unit."""
    before = {item["unit"]: item["rank"] for item in previous}
    for item in current:
        item["previous_rank"] = before.get(item["unit"])
        has_both = item["rank"] is not None and item["previous_rank"] is not None
        item["change"] = item["previous_rank"] - item["rank"] if has_both else None
    return current


def day_bounds(day: date) -> tuple[str, str]:
    """[00:00, next 00:00) of a calendar day in the district's zone, as ISO strings."""
    start = datetime.combine(day, datetime.min.time(), clock.TZ)
    return clock.iso(start), clock.iso(start + timedelta(days=1))
