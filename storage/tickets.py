"""Ticket records: numbering, creation, look-ups, events and attachments.

Functions take ``db`` first and return plain dicts. Status changes go
through ``storage.lifecycle``; this module only stores.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from storage import clock
from storage.db import read_rows, write_transaction

JSON_COLUMNS = ("matched", "also", "lead_units", "flags")
OPEN_STATUSES = ("received", "dispatched", "accepted", "returned", "answered", "reopened")


def next_number(db: Database, prefix: str, moment: datetime) -> str:
    """Next number of the day, e.g. GF20261125-0007; call inside a write transaction."""
    day = moment.strftime("%Y%m%d")
    row = db.execute(
        "INSERT INTO day_counters (day, n) VALUES (?, 1)"
        " ON CONFLICT(day) DO UPDATE SET n = n + 1 RETURNING n",
        [day],
    ).fetchone()
    return f"{prefix}{day}-{row[0]:04d}"


def decode(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """Turn a raw row into plain data (JSON columns as lists, overdue as bool)."""
    if row is None:
        return None
    ticket = dict(row)
    for column in JSON_COLUMNS:
        if column in ticket and isinstance(ticket[column], str):
            ticket[column] = json.loads(ticket[column])
    if "overdue" in ticket:
        ticket["overdue"] = bool(ticket["overdue"])
    return ticket


def create_ticket(
    db: Database,
    *,
    prefix: str,
    openid: str,
    text: str,
    classification: dict[str, Any],
    lead_units: Iterable[str],
    flags: Iterable[str] = (),
    source_key: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Keep a new complaint as a ``received`` ticket with its first event."""
    moment = now or clock.now()
    stamp = clock.iso(moment)
    with write_transaction(db):
        number = next_number(db, prefix, moment)
        ticket = _one_row(db.conn.execute(
            "INSERT INTO tickets (number, openid, text, kind, subtype, unit, classified_unit,"
            " confidence, matched, also, lead_units, flags, status, source_key,"
            " created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
            [
                number, openid, text, classification["kind"], classification.get("subtype"),
                classification.get("unit"), classification.get("unit"),
                float(classification.get("confidence") or 0),
                json.dumps(list(classification.get("matched") or []), ensure_ascii=False),
                json.dumps(list(classification.get("also") or []), ensure_ascii=False),
                json.dumps(list(lead_units), ensure_ascii=False),
                json.dumps(sorted(set(flags))), "received", source_key, stamp, stamp,
            ],
        ))
        add_event(db, ticket["id"], "citizen", "citizen", "create", None, "received",
                  None, now=moment)
    return ticket


def _one_row(cursor: sqlite3.Cursor) -> dict[str, Any]:
    """The decoded row of an ``INSERT/UPDATE … RETURNING *`` (fetched in full, so the
    statement is finished before the next one)."""
    keys = [column[0] for column in cursor.description]
    return decode(dict(zip(keys, cursor.fetchall()[0], strict=True)))


def get_ticket(db: Database, number: str) -> dict[str, Any] | None:
    rows = read_rows(db, "SELECT * FROM tickets WHERE number = ?", [number])
    return decode(rows[0]) if rows else None


def update_ticket(db: Database, ticket_id: int, **fields: Any) -> None:
    """Write columns of one ticket; JSON columns accept lists."""
    db.execute(*_update_sql(ticket_id, fields))


def update_and_get(db: Database, ticket_id: int, **fields: Any) -> dict[str, Any]:
    """``update_ticket`` that returns the ticket as written, in the same statement."""
    sql, params = _update_sql(ticket_id, fields)
    return _one_row(db.conn.execute(f"{sql} RETURNING *", params))


def _update_sql(ticket_id: int, fields: dict[str, Any]) -> tuple[str, list[Any]]:
    for column in JSON_COLUMNS:
        if column in fields and not isinstance(fields[column], str):
            fields[column] = json.dumps(fields[column], ensure_ascii=False)
    fields.setdefault("updated_at", clock.iso(clock.now()))
    assignments = ", ".join(f"{column} = ?" for column in fields)
    return f"UPDATE tickets SET {assignments} WHERE id = ?", [*fields.values(), ticket_id]


def add_event(
    db: Database,
    ticket_id: int,
    actor: str,
    role: str,
    action: str,
    from_status: str | None,
    to_status: str | None,
    note: str | None,
    *,
    internal: bool = False,
    now: datetime | None = None,
) -> None:
    """Append one row to the audit trail (nothing is ever deleted)."""
    db.execute(
        "INSERT INTO events (ticket_id, at, actor, role, action, from_status, to_status,"
        " note, internal) VALUES (?,?,?,?,?,?,?,?,?)",
        [ticket_id, clock.iso(now or clock.now()), actor, role, action, from_status,
         to_status, note, int(internal)],
    )


def events_of(db: Database, ticket_id: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM events WHERE ticket_id = ? ORDER BY id", [ticket_id]))


def attachments_of(db: Database, ticket_id: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM attachments WHERE ticket_id = ? ORDER BY id", [ticket_id]))


def add_attachment(db: Database, ticket_id: int, kind: str, **fields: Any) -> None:
    """Keep an image, location or voice note sent for a ticket."""
    row = {"ticket_id": ticket_id, "at": clock.iso(clock.now()), "kind": kind, **fields}
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"INSERT INTO attachments ({columns}) VALUES ({marks})", list(row.values()))


def open_tickets_of(db: Database, openid: str) -> list[dict[str, Any]]:
    """The citizen's open tickets, newest first."""
    marks = ", ".join("?" for _ in OPEN_STATUSES)
    rows = read_rows(
        db, f"SELECT * FROM tickets WHERE openid = ? AND status IN ({marks}) ORDER BY id DESC",
        [openid, *OPEN_STATUSES],
    )
    return [decode(row) for row in rows]


def recent_tickets_of(db: Database, openid: str, limit: int = 5) -> list[dict[str, Any]]:
    rows = db.query(
        "SELECT * FROM tickets WHERE openid = ? ORDER BY id DESC LIMIT ?", [openid, limit]
    )
    return [decode(row) for row in rows]
