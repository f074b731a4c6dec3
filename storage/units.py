"""Unit liaisons: who hears about a unit's tickets (config ``units.liaisons`` + the units table).

The directory of units itself is the classifier's data (keywords/data/units.toml);
this module only keeps the OpenIDs of each unit's liaisons, so operators can add
and remove them at run time (``python -m bot unit add-liaison``) without editing
the config file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from storage.db import read_rows, write_transaction


def stored_liaisons(db: Database, unit: str) -> list[str]:
    """OpenIDs kept in the database for ``unit``."""
    rows = read_rows(db, "SELECT liaison_openids FROM units WHERE name = ?", [unit])
    return json.loads(rows[0]["liaison_openids"]) if rows else []


def configured_liaisons(config: dict[str, Any], unit: str) -> list[str]:
    """OpenIDs listed for ``unit`` under ``[units.liaisons]`` in the config file."""
    return [str(openid) for openid in config.get("units.liaisons", {}).get(unit, [])]


def liaisons(db: Database, config: dict[str, Any], unit: str) -> list[str]:
    """Every liaison of a unit, config first, without duplicates."""
    return list(dict.fromkeys(configured_liaisons(config, unit) + stored_liaisons(db, unit)))


def add_liaison(db: Database, unit: str, kind: str, openid: str) -> bool:
    """Add one OpenID to a unit; False when it was already there."""
    with write_transaction(db):
        current = stored_liaisons(db, unit)
        if openid in current:
            return False
        _save(db, unit, kind, [*current, openid])
    return True


def remove_liaison(db: Database, unit: str, openid: str) -> bool:
    """Remove one OpenID from a unit; False when it was not stored there."""
    with write_transaction(db):
        current = stored_liaisons(db, unit)
        if openid not in current:
            return False
        db.execute("UPDATE units SET liaison_openids = ? WHERE name = ?",
                   [json.dumps([o for o in current if o != openid]), unit])
    return True


def _save(db: Database, unit: str, kind: str, openids: list[str]) -> None:
    db.execute(
        "INSERT INTO units (name, kind, liaison_openids) VALUES (?,?,?) ON CONFLICT(name)"
        " DO UPDATE SET liaison_openids = excluded.liaison_openids",
        [unit, kind, json.dumps(openids)],
    )


def directory(db: Database, config: dict[str, Any],
              known: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Each known (name, kind) unit with its liaisons from config and from the database."""
    return [
        {"name": name, "kind": kind, "config_liaisons": configured_liaisons(config, name),
         "stored_liaisons": stored_liaisons(db, name)}
        for name, kind in known
    ]
