"""Schema as numbered migration steps (sqlite-utils ``Migrations``).

Steps are append-only: a released step is never edited, a change is a new
step at the end with the next number.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("complaint_desk")


@MIGRATIONS(name="0001_inbox_tickets_events")
def m0001(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE messages (
            key TEXT PRIMARY KEY,          -- MsgId, or FromUserName:CreateTime:Event
            openid TEXT NOT NULL,
            msg_type TEXT NOT NULL,
            received_at TEXT NOT NULL,
            raw TEXT NOT NULL,             -- the decrypted XML as received
            status TEXT NOT NULL DEFAULT 'new',   -- new | handled | failed
            reply TEXT,                    -- the reply text given (returned on retries)
            ticket_number TEXT,
            error TEXT
        )"""
    )
    db.execute("CREATE INDEX messages_openid ON messages(openid, received_at)")
    db.execute(
        """
        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,
            openid TEXT NOT NULL,
            text TEXT NOT NULL,
            kind TEXT NOT NULL,            -- S1..S6, D, P, NONE
            subtype TEXT,
            unit TEXT,                     -- unit the ticket is dispatched to / about
            classified_unit TEXT,          -- unit the classifier recognised
            confidence REAL NOT NULL DEFAULT 0,
            matched TEXT NOT NULL DEFAULT '[]',     -- JSON list of matched words
            also TEXT NOT NULL DEFAULT '[]',        -- JSON list of secondary kinds
            lead_units TEXT NOT NULL DEFAULT '[]',  -- JSON list (from the plan)
            flags TEXT NOT NULL DEFAULT '[]',       -- JSON list, e.g. ["discipline"]
            status TEXT NOT NULL,
            phone TEXT,
            incident_time TEXT,            -- when it happened, as the citizen said
            source_key TEXT,               -- messages.key that opened it
            merged_into TEXT,              -- number of the open ticket it was linked to
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            dispatched_at TEXT,
            sign_due_at TEXT,
            due_at TEXT,
            signed_at TEXT,
            answered_at TEXT,
            closed_at TEXT,
            answer TEXT,
            rating TEXT,                   -- satisfied | basically | unsatisfied
            overdue INTEGER NOT NULL DEFAULT 0,
            escalated_at TEXT,
            alerted_at TEXT,
            reminded_at TEXT
        )"""
    )
    for column in ("status", "kind", "unit", "created_at", "openid", "due_at"):
        db.execute(f"CREATE INDEX tickets_{column} ON tickets({column})")
    db.execute("CREATE INDEX tickets_status_created ON tickets(status, created_at)")
    db.execute("CREATE INDEX tickets_unit_created ON tickets(unit, created_at)")
    db.execute("CREATE INDEX tickets_overdue ON tickets(overdue, created_at)")
    db.execute(
        """
        CREATE TABLE day_counters (
            day TEXT PRIMARY KEY,          -- YYYYMMDD
            n INTEGER NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            at TEXT NOT NULL,
            actor TEXT NOT NULL,           -- citizen | system | username
            role TEXT NOT NULL,            -- citizen | system | office | unit | leader | admin
            action TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT,
            note TEXT,
            internal INTEGER NOT NULL DEFAULT 0   -- 1: never shown to the citizen
        )"""
    )
    db.execute("CREATE INDEX events_ticket ON events(ticket_id, id)")
    db.execute(
        """
        CREATE TABLE attachments (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            at TEXT NOT NULL,
            kind TEXT NOT NULL,            -- image | location | voice | link
            media_id TEXT,
            url TEXT,
            latitude REAL,
            longitude REAL,
            label TEXT
        )"""
    )
    db.execute("CREATE INDEX attachments_ticket ON attachments(ticket_id)")
    db.execute(
        """
        CREATE TABLE conversations (
            openid TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}',
            updated_at TEXT NOT NULL,
            last_message_at TEXT NOT NULL
        )"""
    )


@MIGRATIONS(name="0002_outbox_users_units")
def m0002(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            dedupe_key TEXT UNIQUE,        -- same notice queued twice = one row
            recipient TEXT NOT NULL,       -- OpenID
            audience TEXT NOT NULL,        -- citizen | unit | leader | office
            kind TEXT NOT NULL,            -- text | template
            payload TEXT NOT NULL,         -- JSON: {"text"} or {"template_id","data","url"}
            fallback TEXT,                 -- JSON template payload when the 48 h window is closed
            ticket_number TEXT,
            status TEXT NOT NULL DEFAULT 'pending',  -- pending | sending | sent | failed
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT
        )"""
    )
    db.execute("CREATE INDEX outbox_due ON outbox(status, next_attempt_at)")
    db.execute(
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,            -- office | unit | leader | admin
            unit TEXT,
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id),
            token_hash TEXT NOT NULL UNIQUE,   -- sha256 hex of the token
            created_at TEXT NOT NULL,
            revoked INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute(
        """
        CREATE TABLE units (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            liaison_openids TEXT NOT NULL DEFAULT '[]'
        )"""
    )
    db.execute(
        """
        CREATE TABLE corrections (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL,
            text TEXT NOT NULL,
            old_kind TEXT, new_kind TEXT,
            old_subtype TEXT, new_subtype TEXT,
            actor TEXT NOT NULL,
            at TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE kv (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            expires_at REAL
        )"""
    )
    db.execute(
        """
        CREATE TABLE job_runs (
            key TEXT PRIMARY KEY,          -- e.g. digest:daily:2026-11-25
            started_at TEXT NOT NULL,
            finished_at TEXT,
            result TEXT
        )"""
    )


@MIGRATIONS(name="0003_ticket_search")
def m0003(db: Database) -> None:
    db.execute(
        "CREATE VIRTUAL TABLE tickets_fts USING fts5("
        "text, content='tickets', content_rowid='id', tokenize='trigram')"
    )
    db.execute(
        "CREATE TRIGGER tickets_fts_ai AFTER INSERT ON tickets BEGIN "
        "INSERT INTO tickets_fts(rowid, text) VALUES (new.id, new.text); END"
    )
    db.execute(
        "CREATE TRIGGER tickets_fts_au AFTER UPDATE OF text ON tickets BEGIN "
        "INSERT INTO tickets_fts(tickets_fts, rowid, text) VALUES('delete', old.id, old.text); "
        "INSERT INTO tickets_fts(rowid, text) VALUES (new.id, new.text); END"
    )


@MIGRATIONS(name="0004_digests_campaign_targets")
def m0004(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE digests (
            slug TEXT PRIMARY KEY,         -- e.g. daily-2026-11-24, weekly-2026-11-16
            period TEXT NOT NULL,          -- daily | weekly
            start TEXT NOT NULL,           -- [start, end) covered, ISO +08:00
            end TEXT NOT NULL,
            built_at TEXT NOT NULL,
            data TEXT NOT NULL,            -- JSON: every figure
            markdown TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE campaign_targets (
            id TEXT PRIMARY KEY,           -- the target id from [[campaign.targets]]
            status TEXT NOT NULL,          -- not_started | in_progress | done
            note TEXT,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL
        )"""
    )


@MIGRATIONS(name="0005_queue_indexes")
def m0005(db: Database) -> None:
    """Indexes for the console queue and the API's filters on a million tickets."""
    db.execute("CREATE INDEX tickets_kind_created ON tickets(kind, created_at)")
    # the live overdue rule (lifecycle.is_overdue as SQL) can use an index per OR branch
    db.execute("CREATE INDEX tickets_status_due ON tickets(status, due_at)")
    db.execute("CREATE INDEX tickets_status_sign_due ON tickets(status, sign_due_at)")
    # "flagged only": few tickets carry flags; the queue's term is exactly flags != '[]'
    db.execute("CREATE INDEX tickets_flagged ON tickets(created_at) WHERE flags != '[]'")


@MIGRATIONS(name="0006_dispatched_index")
def m0006(db: Database) -> None:
    """The per-unit rates read the tickets dispatched in a window."""
    db.execute("CREATE INDEX tickets_dispatched ON tickets(dispatched_at)")


@MIGRATIONS(name="0007_lighter_intake")
def m0007(db: Database) -> None:
    """Less work per complaint under the write lock (see storage/search_index.py).

    - The single-column indexes on status, kind and unit duplicate the leading
      column of (status, created_at|due_at|sign_due_at), (kind, created_at) and
      (unit, created_at): the planner uses those for the same filters.
    - New tickets reach the full-text index in batches instead of by trigger.
      Tickets already there are indexed; an edit of an indexed ticket's text
      still re-indexes it at once.
    """
    for name in ("tickets_status", "tickets_kind", "tickets_unit"):
        db.execute(f"DROP INDEX IF EXISTS {name}")
    db.execute("DROP TRIGGER tickets_fts_ai")
    db.execute("CREATE TABLE search_progress (last_id INTEGER NOT NULL)")
    db.execute("INSERT INTO search_progress SELECT coalesce(max(id), 0) FROM tickets")
    db.execute("DROP TRIGGER tickets_fts_au")
    db.execute(
        "CREATE TRIGGER tickets_fts_au AFTER UPDATE OF text ON tickets "
        "WHEN old.id <= (SELECT last_id FROM search_progress) BEGIN "
        "INSERT INTO tickets_fts(tickets_fts, rowid, text) VALUES('delete', old.id, old.text); "
        "INSERT INTO tickets_fts(rowid, text) VALUES (new.id, new.text); END"
    )


@MIGRATIONS(name="0008_queued_messages")
def m0008(db: Database) -> None:
    """Messages acknowledged first and handled after (bot/surge.py) are found in
    arrival order without scanning the inbox: only queued rows are in this index."""
    db.execute("CREATE INDEX messages_queued ON messages(status) WHERE status = 'queued'")


@MIGRATIONS(name="0009_intake_files")
def m0009(db: Database) -> None:
    """How far each surge journal (storage/intake.py) has been taken into the inbox, and
    how many of its lines could not be read."""
    db.execute("CREATE TABLE intake_files (name TEXT PRIMARY KEY, offset INTEGER NOT NULL, "
               "bad INTEGER NOT NULL DEFAULT 0)")
