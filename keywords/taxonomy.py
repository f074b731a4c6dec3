"""The complaint taxonomy from keywords/data/taxonomy.toml.

Accessors::

    tax = load_taxonomy()
    tax.kinds                 # {"S1": Kind(...), ..., "NONE": Kind(...)} in plan order
    tax.kind("S3").name       # "刁难粗暴"; also .group (group name), .group_code,
                              # .explain (for citizens), .lead_units (canonical names)
    tax.subtypes              # {"D1": "未制定…", ..., "P9": "…"}
    tax.subtype_name("D5")    # name of one sub-type
    tax.subtypes_of("D")      # ["D1", ..., "D6"]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from keywords.tomlfile import DataError, TomlFile, file_stamp, resolve_dir

KIND_CODES = ("S1", "S2", "S3", "S4", "S5", "S6", "D", "P", "NONE")
SUBTYPE_CODES = tuple(f"D{i}" for i in range(1, 7)) + tuple(f"P{i}" for i in range(1, 10))


@dataclass(frozen=True)
class Kind:
    code: str
    name: str
    group_code: str
    group: str
    explain: str
    lead_units: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    kinds: dict[str, Kind]
    subtypes: dict[str, str]

    def kind(self, code: str) -> Kind:
        """One kind by code; KeyError for an unknown code."""
        return self.kinds[code]

    def subtype_name(self, code: str) -> str:
        return self.subtypes[code]

    def subtypes_of(self, kind: str) -> list[str]:
        """Sub-type codes of D or P (empty for other kinds)."""
        return [c for c in self.subtypes if c[0] == kind and kind in ("D", "P")]


def parse_taxonomy(tf: TomlFile, known_units: set[str] | None = None) -> tuple[Taxonomy, list[str]]:
    """Build a Taxonomy and the list of problems found (file:line messages)."""
    problems: list[str] = []
    groups = tf.data.get("groups", {})
    raw = tf.data.get("kinds", {})
    kinds: dict[str, Kind] = {}
    for code in KIND_CODES:
        entry = raw.get(code)
        if not isinstance(entry, dict):
            problems.append(f"{tf.path}:0: kind {code} is missing")
            continue
        for key in ("name", "group", "explain"):
            if not str(entry.get(key, "")).strip():
                problems.append(f"{tf.where(f'kinds.{code}', None)}: kind {code} has no {key}")
        leads = tuple(entry.get("lead_units", []))
        if code != "NONE" and not leads:
            problems.append(f"{tf.where(f'kinds.{code}')}: kind {code} has no lead_units")
        for unit in leads:
            if known_units is not None and unit not in known_units:
                problems.append(f"{tf.where(unit, f'kinds.{code}')}: unknown unit {unit!r}")
        g = str(entry.get("group", ""))
        kinds[code] = Kind(code, str(entry.get("name", "")), g, str(groups.get(g, g)),
                           str(entry.get("explain", "")), leads)
    for code in raw:
        if code not in KIND_CODES:
            problems.append(f"{tf.where(f'kinds.{code}')}: unknown kind code {code}")
    subs = {str(k): str(v) for k, v in tf.data.get("subtypes", {}).items()}
    for code in SUBTYPE_CODES:
        if not subs.get(code):
            problems.append(f"{tf.path}:{tf.line_of('subtypes', None)}: sub-type {code} is missing")
    return Taxonomy(kinds, {c: subs[c] for c in SUBTYPE_CODES if c in subs}), problems


_loaded: dict[str | Path | None, tuple[tuple, Taxonomy, float]] = {}


def load_taxonomy(data_dir: str | Path | None = None) -> Taxonomy:
    """Load and validate taxonomy.toml; raise DataError on problems.

    Parsed again only when it or units.toml changed, looked at no more than once
    a second (see ``load_units``): handlers call this for every message.
    """
    from keywords.units import RECHECK_SECONDS, load_units

    units = load_units(data_dir)
    cached = _loaded.get(data_dir)
    now = time.monotonic()
    if cached is not None and cached[0][1] == id(units) and now - cached[2] < RECHECK_SECONDS:
        return cached[1]
    d = resolve_dir(data_dir)
    stamp = (file_stamp(d / "taxonomy.toml"), id(units))
    if cached is not None and cached[0] == stamp:
        _loaded[data_dir] = (stamp, cached[1], now)
        return cached[1]
    tax, problems = parse_taxonomy(TomlFile(d / "taxonomy.toml"), {u.name for u in units.all()})
    if problems:
        raise DataError(problems)
    _loaded[data_dir] = (stamp, tax, now)
    return tax
