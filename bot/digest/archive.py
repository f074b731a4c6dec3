"""Digests kept: a row in ``digests`` (the console archive) and a Markdown file.

The file goes to ``digests/`` next to the database (``data/digests/daily-…md``),
so the office can mail or print it without the console.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlite_utils import Database

log = logging.getLogger(__name__)


def save(db: Database, digest: dict[str, Any], text: str) -> None:
    """Keep the digest's figures and text (call inside the run's transaction)."""
    period = digest["period"]
    db.execute(
        "INSERT OR REPLACE INTO digests (slug, period, start, end, built_at, data, markdown)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [period["slug"], period["kind"], period["start"], period["end"], digest["built_at"],
         json.dumps(digest, ensure_ascii=False), text],
    )


def folder(storage_path: str) -> Path | None:
    """Where digest files go, or None for an in-memory database."""
    if storage_path == ":memory:":
        return None
    return Path(storage_path).parent / "digests"


def write_file(storage_path: str, slug: str, text: str) -> Path | None:
    """Write ``<slug>.md``; a disk problem is logged, the digest is in the database anyway."""
    where = folder(storage_path)
    if where is None:
        return None
    path = where / f"{slug}.md"
    try:
        where.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    except OSError as error:
        log.error("digest %s: cannot write %s: %s", slug, path, error)
        return None
    return path


def get(db: Database, slug: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM digests WHERE slug = ?", [slug]))
    if not rows:
        return None
    row = dict(rows[0])
    row["data"] = json.loads(row["data"])
    return row


def listing(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """Newest first, without the bodies."""
    return list(db.query("SELECT slug, period, start, end, built_at FROM digests"
                         " ORDER BY start DESC, period LIMIT ?", [limit]))
