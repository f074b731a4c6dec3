"""Load and validate every data file into one immutable `Rules` object.

All problems are collected (not just the first) so `keywords check` can list them with
file:line; the classifier refuses rules with problems and keeps its previous ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from keywords.fitted import Fitted, parse_fitted
from keywords.taxonomy import KIND_CODES, SUBTYPE_CODES, Taxonomy, parse_taxonomy
from keywords.tomlfile import DataError, TomlFile, resolve_dir
from keywords.units import UnitsDirectory, parse_units

MAX_WEIGHT = 5.0
FITTED = "fitted.toml"
SECTIONS = tuple(c for c in KIND_CODES if c != "NONE") + SUBTYPE_CODES
CUE_LISTS = ("negation", "rhetorical", "praise", "contrast", "spam", "nongov", "blockers",
             "sent_to", "fault", "landmark", "addressed", "village", "residence")
# [shape.*] lists: complaint shape (an official actor plus a negative cue), see engine.py
SHAPE_LISTS = ("actors", "generic", "S1", "S2", "S3", "S4", "S5", "S6",
               "D1", "D2", "D3", "D4", "D5", "D6", "P1", "P2", "P3", "P4", "P5", "P6", "P7",
               "P8", "P9")


@dataclass(frozen=True)
class Term:
    """A keyword, phrase or pattern of one section, with its weight and where it is written."""

    text: str
    section: str
    weight: float
    where: str

    @property
    def is_pattern(self) -> bool:
        return self.text.startswith("re:")


@dataclass
class Rules:
    taxonomy: Taxonomy
    units: UnitsDirectory
    terms: list[Term]
    none_cues: list[Term]
    cues: dict[str, list[str]]
    settings: dict[str, float]
    services: dict[str, str]
    files: list[Path] = field(default_factory=list)
    fitted: Fitted | None = None  # fitted.toml, when present


def kind_of(section: str) -> str:
    """The kind a section counts for: D3 → D, P7 → P, S2 → S2."""
    return section[0] if section[0] in "DP" else section


def _weight(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 < value <= MAX_WEIGHT else None


def _pattern_problem(text: str) -> str | None:
    try:
        re.compile(text[3:])
    except re.error as exc:
        return f"bad regular expression ({exc})"
    return None


def _read_keywords(tf: TomlFile, problems: list[str]) -> list[Term]:
    terms: list[Term] = []
    for section, table in tf.data.items():
        if section not in SECTIONS:
            problems.append(f"{tf.where(section, section)}: unknown kind or sub-type [{section}]")
            continue
        if not isinstance(table, dict) or not table:
            problems.append(f"{tf.where(section, section)}: kind [{section}] has no keywords")
            continue
        for text, value in table.items():
            where = tf.where(text, section)
            w = _weight(value)
            if w is None:
                problems.append(f"{where}: bad weight {value!r} for {text!r} "
                                f"(a number > 0 and <= {MAX_WEIGHT:g})")
                continue
            if not text.strip():
                problems.append(f"{where}: empty keyword in [{section}]")
                continue
            if text.startswith("re:") and (msg := _pattern_problem(text)):
                problems.append(f"{where}: {msg}")
                continue
            terms.append(Term(text if text.startswith("re:") else text.lower(), section, w, where))
    return terms


def _check_terms(terms: list[Term], problems: list[str]) -> None:
    seen: dict[str, Term] = {}
    for t in terms:
        first = seen.get(t.text)
        if first is not None and first.section != t.section:
            problems.append(f"{t.where}: keyword {t.text!r} listed under two kinds: "
                            f"[{first.section}] ({first.where}) and [{t.section}]")
        seen.setdefault(t.text, t)
    for kind in SECTIONS:
        if kind in ("D", "P") or kind in SUBTYPE_CODES:
            have = any(kind_of(t.section) == kind_of(kind) for t in terms)
        else:
            have = any(t.section == kind for t in terms)
        if not have:
            problems.append(f"keywords: kind {kind} has no keywords")


def _read_cues(tf: TomlFile, problems: list[str]) -> tuple[dict, list[Term], dict]:
    cues: dict[str, list[str]] = {}
    settings: dict[str, float] = {}
    for name in CUE_LISTS:
        table = tf.data.get(name, {})
        words = table.get("words", [])
        if not words:
            problems.append(f"{tf.where(name, name)}: cue list [{name}] is empty")
        cues[name] = [str(w).lower() for w in words]
        for key, value in table.items():
            if key == "words":
                continue
            if _weight(value) is None and not (key == "window" and isinstance(value, int)):
                problems.append(f"{tf.where(key, name)}: bad weight {value!r} for {name}.{key}")
            else:
                settings[f"{name}.{key}"] = float(value)
    shape = tf.data.get("shape", {})
    for key, value in shape.items():
        if key == "multi_unit_none":
            if not isinstance(value, bool):
                problems.append(f"{tf.where(key, 'shape')}: multi_unit_none must be true/false")
            settings["shape.multi_unit_none"] = float(bool(value))
        elif key not in SHAPE_LISTS and not (key == "none_max" and _weight(value) is not None):
            problems.append(f"{tf.where(key, 'shape')}: unknown shape list {key!r}")
        elif key == "none_max":
            settings["shape.none_max"] = float(value)
        else:
            words = value.get("words", []) if isinstance(value, dict) else []
            for w in words:
                if str(w).startswith("re:") and (msg := _pattern_problem(str(w))):
                    problems.append(f"{tf.where(key, 'shape')}: {msg}")
            cues[f"shape.{key}"] = [str(w).lower() for w in words]
    if shape and not cues.get("shape.actors"):
        problems.append(f"{tf.path}: [shape.actors] is empty")
    none_terms = []
    for text, value in tf.data.get("none", {}).items():
        w = _weight(value)
        where = tf.where(text, "none")
        if w is None:
            problems.append(f"{where}: bad weight {value!r} for NONE cue {text!r}")
        elif text.startswith("re:") and (msg := _pattern_problem(text)):
            problems.append(f"{where}: {msg}")
        else:
            key = text if text.startswith("re:") else text.lower()
            none_terms.append(Term(key, "NONE", w, where))
    if not none_terms:
        problems.append(f"{tf.path}: kind NONE has no cues in [none]")
    return cues, none_terms, settings


def _read_services(tf: TomlFile, units: UnitsDirectory, problems: list[str]) -> dict[str, str]:
    services: dict[str, str] = {}
    for unit, table in tf.data.items():
        if units.get(unit) is None:
            problems.append(f"{tf.where(unit, unit)}: unknown unit {unit!r}")
            continue
        items = table.get("services", []) if isinstance(table, dict) else []
        if not items:
            problems.append(f"{tf.where(unit, unit)}: unit {unit} lists no services")
        for s in items:
            s = str(s).lower()
            if s in services and services[s] != unit:
                problems.append(f"{tf.where(s, unit)}: service {s!r} maps to both "
                                f"{services[s]} and {unit}")
            services.setdefault(s, unit)
    return services


def load_rules(data_dir: str | Path | None = None) -> Rules:
    """Read all data files; raise DataError listing every problem (file:line)."""
    d = resolve_dir(data_dir)
    files = [p for p in data_files(d) if p.name != FITTED or p.exists()]
    problems: list[str] = []
    tfs: dict[str, TomlFile] = {}
    for p in files:
        try:
            tfs[str(p)] = TomlFile(p)
        except DataError as exc:
            problems.extend(exc.problems)
        except OSError as exc:
            problems.append(f"{p}: cannot read ({exc})")
    if problems:
        raise DataError(problems)
    units, up = parse_units(tfs[str(d / "units.toml")])
    problems += up
    taxonomy, tp = parse_taxonomy(tfs[str(d / "taxonomy.toml")], units.names())
    problems += tp
    terms: list[Term] = []
    for p in files:
        if p.parent.name == "keywords":
            terms += _read_keywords(tfs[str(p)], problems)
    _check_terms(terms, problems)
    cues, none_terms, settings = _read_cues(tfs[str(d / "cues.toml")], problems)
    services = _read_services(tfs[str(d / "services.toml")], units, problems)
    fitted = parse_fitted(tfs[str(d / FITTED)], problems) if str(d / FITTED) in tfs else None
    if problems:
        raise DataError(problems)
    return Rules(taxonomy, units, terms, none_terms, cues, settings, services, files, fitted)


def data_files(d: Path) -> list[Path]:
    """Every file the rules are built from (what hot reload watches; fitted.toml may be absent)."""
    fixed = [d / "taxonomy.toml", d / "units.toml", d / "cues.toml", d / "services.toml"]
    return fixed + sorted((d / "keywords").glob("*.toml")) + [d / FITTED]
