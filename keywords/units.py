"""The units directory from keywords/data/units.toml (canonical names, kinds, aliases).

    units = load_units()
    units.all()                 # [Unit(name, kind, aliases, weak), ...]
    units.get("区人社局")         # Unit or None
    units.canonical("社保局")     # "区人社局"; also accepts canonical names; None if unknown
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from keywords.tomlfile import DataError, TomlFile, file_stamp, resolve_dir

UNIT_KINDS = ("lead", "oversight", "unit", "township")


@dataclass(frozen=True)
class Unit:
    name: str
    kind: str
    aliases: tuple[str, ...]
    weak: tuple[str, ...] = ()


class UnitsDirectory:
    """Canonical units and an alias index (strong aliases only; weak forms are for matching)."""

    def __init__(self, units: list[Unit]):
        self._units = list(units)
        self._by_name = {u.name: u for u in units}
        self._alias: dict[str, str] = {}
        for u in units:
            for a in (u.name, *u.aliases):
                self._alias.setdefault(a, u.name)

    def all(self) -> list[Unit]:
        return list(self._units)

    def get(self, name: str) -> Unit | None:
        return self._by_name.get(name)

    def canonical(self, alias_or_name: str) -> str | None:
        """Canonical name for an alias or name (exact, whitespace-trimmed), else None."""
        return self._alias.get((alias_or_name or "").strip())

    def names(self) -> set[str]:
        return set(self._by_name)


def parse_units(tf: TomlFile) -> tuple[UnitsDirectory, list[str]]:
    """Build the directory and the problems found (unknown kind, duplicate alias ...)."""
    problems: list[str] = []
    units: list[Unit] = []
    owner: dict[str, str] = {}
    for entry in tf.data.get("unit", []):
        name = str(entry.get("name", "")).strip()
        if not name:
            problems.append(f"{tf.path}: a [[unit]] has no name")
            continue
        kind = entry.get("kind", "")
        if kind not in UNIT_KINDS:
            problems.append(f"{tf.where(name)}: unit {name} has bad kind {kind!r}")
        aliases = tuple(dict.fromkeys(str(a) for a in entry.get("aliases", [])))
        weak = tuple(str(a) for a in entry.get("weak", []))
        for a in (name, *aliases, *weak):
            if a in owner and owner[a] != name:
                problems.append(f"{tf.where(a)}: alias {a!r} belongs to both {owner[a]} and {name}")
            owner[a] = name
        units.append(Unit(name, str(kind), aliases, weak))
    return UnitsDirectory(units), problems


RECHECK_SECONDS = 1.0  # how stale a data file may be, as for the classifier
_loaded: dict[str | Path | None, tuple[tuple, UnitsDirectory, float]] = {}


def load_units(data_dir: str | Path | None = None) -> UnitsDirectory:
    """Load and validate units.toml; raise DataError on problems.

    Parsed again only when the file changed, and the file is looked at no more
    than once a second (like the classifier's reload): handlers call this for
    every message, some of them under the database's write lock.
    """
    cached = _loaded.get(data_dir)
    now = time.monotonic()
    if cached is not None and now - cached[2] < RECHECK_SECONDS:
        return cached[1]
    path = resolve_dir(data_dir) / "units.toml"
    stamp = file_stamp(path)
    if cached is not None and cached[0] == stamp:
        _loaded[data_dir] = (stamp, cached[1], now)
        return cached[1]
    units, problems = parse_units(TomlFile(path))
    if problems:
        raise DataError(problems)
    _loaded[data_dir] = (stamp, units, now)
    return units
