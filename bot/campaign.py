"""The campaign timetable and its targets, from ``[campaign]`` in the config file.

Phases and targets are the plan's (see config.example.toml (its [campaign] section)); the
office keeps each target's status in the console, stored in the
``campaign_targets`` table, which overrides the config's initial status.
Dates are "MM-DD" (combined with ``campaign.year``) or full "YYYY-MM-DD".
Validation names the key, e.g. ``campaign.targets[3].deadline``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlite_utils import Database

from bot.config import ConfigError
from storage import clock

TARGET_STATUSES = {"not_started": "未开始", "in_progress": "推进中", "done": "已完成"}
DUE_SOON_DAYS = 30


@dataclass(frozen=True)
class Phase:
    """One stage of the timetable, both dates included."""

    name: str
    start: date
    end: date


@dataclass(frozen=True)
class Target:
    """One concrete target with its deadline, lead units and current status."""

    id: str
    text: str
    deadline: date
    lead_units: tuple[str, ...]
    status: str = "not_started"
    note: str = ""
    updated_at: str = ""
    updated_by: str = ""

    @property
    def status_label(self) -> str:
        return TARGET_STATUSES[self.status]

    def days_left(self, today: date) -> int:
        return (self.deadline - today).days


@dataclass(frozen=True)
class Campaign:
    year: int
    phases: tuple[Phase, ...]
    targets: tuple[Target, ...]


def parse_date(value: Any, year: int, key: str, source: str) -> date:
    """'MM-DD' in the campaign year, or a full 'YYYY-MM-DD' (a TOML date works too)."""
    if isinstance(value, date):
        return value
    text = str(value).strip() if isinstance(value, str) else ""
    try:
        if len(text) == 5:
            return date.fromisoformat(f"{year:04d}-{text}")
        if len(text) == 10:
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise ConfigError(f"{source}: key '{key}' must be a date \"MM-DD\" or \"YYYY-MM-DD\", "
                      f"got {value!r}")


def _text(entry: dict[str, Any], name: str, key: str, source: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{source}: key '{key}.{name}' is required (a non-empty string)")
    return value.strip()


def _entry(value: Any, key: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: key '{key}' must be a table")
    return value


def parse_phase(value: Any, year: int, key: str, source: str) -> Phase:
    entry = _entry(value, key, source)
    phase = Phase(_text(entry, "name", key, source),
                  parse_date(entry.get("start"), year, f"{key}.start", source),
                  parse_date(entry.get("end"), year, f"{key}.end", source))
    if phase.end < phase.start:
        raise ConfigError(f"{source}: key '{key}.end' ({phase.end}) is before its start "
                          f"({phase.start})")
    return phase


def parse_target(value: Any, year: int, key: str, source: str) -> Target:
    entry = _entry(value, key, source)
    units = entry.get("lead_units", [])
    if not isinstance(units, list) or not all(isinstance(u, str) and u for u in units):
        raise ConfigError(f"{source}: key '{key}.lead_units' must be a list of unit names")
    status = entry.get("status", "not_started")
    if status not in TARGET_STATUSES:
        raise ConfigError(f"{source}: key '{key}.status' must be one of "
                          f"{', '.join(TARGET_STATUSES)}")
    return Target(_text(entry, "id", key, source), _text(entry, "text", key, source),
                  parse_date(entry.get("deadline"), year, f"{key}.deadline", source),
                  tuple(units), status)


def from_config(config: dict[str, Any]) -> Campaign:
    """Validate ``[campaign]``; raise ConfigError naming the first bad key."""
    source = getattr(config, "source", "config")
    year = config.get("campaign.year", 2026)
    phases = tuple(parse_phase(value, year, f"campaign.phases[{i}]", source)
                   for i, value in enumerate(config.get("campaign.phases", [])))
    for i, (first, second) in enumerate(zip(phases, phases[1:], strict=False), start=1):
        if second.start <= first.end:
            raise ConfigError(f"{source}: key 'campaign.phases[{i}].start' overlaps the "
                              f"phase before it")
    targets = tuple(parse_target(value, year, f"campaign.targets[{i}]", source)
                    for i, value in enumerate(config.get("campaign.targets", [])))
    seen: set[str] = set()
    for i, target in enumerate(targets):
        if target.id in seen:
            raise ConfigError(f"{source}: key 'campaign.targets[{i}].id' repeats '{target.id}'")
        seen.add(target.id)
    return Campaign(year, phases, targets)


def current_phase(campaign: Campaign, today: date) -> tuple[Phase | None, int | None]:
    """The phase ``today`` falls in and its days left (today counted), else (None, None)."""
    for phase in campaign.phases:
        if phase.start <= today <= phase.end:
            return phase, (phase.end - today).days + 1
    return None, None


def targets_with_status(db: Database, campaign: Campaign) -> list[Target]:
    """The config's targets with the office's latest status from the database."""
    saved = {row["id"]: row for row in db.query("SELECT * FROM campaign_targets")}
    merged = []
    for target in campaign.targets:
        row = saved.get(target.id)
        if row:
            target = replace(target, status=row["status"], note=row["note"] or "",
                             updated_at=row["updated_at"], updated_by=row["updated_by"])
        merged.append(target)
    return merged


def set_status(db: Database, campaign: Campaign, target_id: str, status: str,
               note: str, actor: str) -> None:
    """The office records a target's progress (upsert by target id)."""
    if target_id not in {t.id for t in campaign.targets}:
        raise KeyError(target_id)
    if status not in TARGET_STATUSES:
        raise ValueError(status)
    db.execute(
        "INSERT INTO campaign_targets (id, status, note, updated_at, updated_by)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status,"
        " note = excluded.note, updated_at = excluded.updated_at,"
        " updated_by = excluded.updated_by",
        [target_id, status, note.strip()[:500], clock.iso(clock.now()), actor],
    )


def attention(targets: list[Target], today: date,
              days: int = DUE_SOON_DAYS) -> tuple[list[Target], list[Target]]:
    """(overdue, due within ``days``) among targets not done, soonest deadline first."""
    open_targets = sorted((t for t in targets if t.status != "done"), key=lambda t: t.deadline)
    overdue = [t for t in open_targets if t.deadline < today]
    soon = [t for t in open_targets if today <= t.deadline <= date.fromordinal(
        today.toordinal() + days)]
    return overdue, soon
