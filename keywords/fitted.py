"""Fitted weights (keywords/data/fitted.toml): short strings weighted from labelled lines.

Kinds and, in their own tables, the D/P sub-types (a second model over the D and P lines).

Why: five rounds of independent probes showed hand-written word families reach about 0.72 on
a new writer's voice, and the families written from one probe left the next unchanged. A
linear model over 1–3 character strings, fitted on every labelled line we have, carries
over far better (out of sample 0.85–0.89 when blended with the rules; docs/classifier.md).
It stays a keyword file: each [KIND] lists strings and weights a person can read, edit or
delete, a kind's score is its intercept plus the weights of the distinct strings present,
and a decision the weights changed shows the strings that made it (marked ≈).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from keywords.taxonomy import KIND_CODES, SUBTYPE_CODES
from keywords.tomlfile import TomlFile

MAX_GRAM = 3  # strings of 1..MAX_GRAM characters of the normalised text
MAX_ABS_WEIGHT = 50.0
SHOWN = 6  # strings shown for a decision the weights made
# max_chars: longer messages are left to the rules. Nine in ten fitted lines are shorter, and
# on long message-board letters (public suggestions, mostly not complaints) the weights
# over-reached: see docs/classifier.md, "Fitted weights"
# min_chars: shorter messages the rules call NONE stay NONE (fragments such as 昨天上午)
# sure: a rules decision this confident is final (the weights are not consulted)
# subtype_bonus: added to the fitted probability of the rules' D/P sub-type (chosen on probe 6)
SETTINGS = {"rules_weight": 1.0, "weak_bonus": 0.1, "max_chars": 120.0, "min_chars": 10.0,
            "sure": 0.7, "subtype_bonus": 0.6}


def grams(norm: str) -> set[str]:
    """Every distinct substring of 1..MAX_GRAM characters: the features `keywords fit` learns
    from and `Fitted.scores` looks up (one set comprehension, cheap on the hot path)."""
    return {norm[i:i + n] for n in range(1, MAX_GRAM + 1) for i in range(len(norm) - n + 1)}


@dataclass(frozen=True)
class Fitted:
    """Intercepts and string weights per kind (and per D/P sub-type, when fitted)."""

    intercept: dict[str, float]  # kinds, and sub-types when the file has them
    weights: dict[str, tuple[tuple[str, float], ...]]  # string → ((kind or sub-type, w), …)
    rules_weight: float  # how much the rules' confidence counts against the fitted probability
    weak_bonus: float  # what a rules NONE for lack of evidence counts
    max_chars: int  # longer (normalised) messages are the rules' alone
    min_chars: int  # shorter ones the rules call NONE stay NONE
    sure: float  # a rules confidence at or above this is final
    subtype_bonus: float = SETTINGS["subtype_bonus"]  # for the rules' sub-type
    strings: frozenset[str] = frozenset()  # the keys of `weights`

    def __post_init__(self) -> None:
        object.__setattr__(self, "strings", frozenset(self.weights))

    @classmethod
    def build(cls, intercept: dict[str, float], entries: Iterable[tuple[str, str, float]],
              settings: dict[str, float]) -> Fitted:
        """From (kind or sub-type, string, weight) entries and the blend settings."""
        table: dict[str, list[tuple[str, float]]] = {}
        for code, text, w in entries:
            table.setdefault(text, []).append((code, w))
        return cls(dict(intercept), {g: tuple(kw) for g, kw in table.items()},
                   settings["rules_weight"], settings["weak_bonus"], int(settings["max_chars"]),
                   int(settings["min_chars"]), settings["sure"], settings["subtype_bonus"])

    def scores(self, norm: str) -> tuple[dict[str, float], frozenset[str]]:
        """(score per kind and sub-type, the weighted strings present in the text)."""
        score = dict(self.intercept)
        weights = self.weights
        present = self.strings.intersection(grams(norm))  # one C-level intersection
        for g in present:
            for code, w in weights[g]:
                score[code] += w
        return score, present

    def subtype(self, score: dict[str, float], kind: str, rules_subtype: str | None) -> str | None:
        """The D/P sub-type: fitted probability within `kind`, plus `subtype_bonus` for the
        rules' sub-type; the rules' own when the file has no sub-type weights."""
        codes = [c for c in SUBTYPE_CODES if c[0] == kind and c in score]
        if not codes:
            return rules_subtype
        probs = softmax({c: score[c] for c in codes})
        if rules_subtype in probs:
            probs[rules_subtype] += self.subtype_bonus
        return min(probs, key=lambda c: (-probs[c], c))

    def evidence(self, present: frozenset[str], code: str) -> list[str]:
        """The strongest present strings for a kind or sub-type, marked ≈ so they read as
        fitted, not listed; words before single characters (手机 says more than 机)."""
        shown = [(w, g) for g in present if "," not in g
                 for k, w in self.weights[g] if k == code and w > 0]
        if sum(len(g) > 1 for _w, g in shown) >= 2:  # single characters only when little else
            shown = [(w, g) for w, g in shown if len(g) > 1]
        best = sorted(shown, key=lambda wg: (len(wg[1]) < 2, -wg[0], wg[1]))[:SHOWN]
        return [f"≈{g}" for _w, g in best]


def softmax(score: dict[str, float]) -> dict[str, float]:
    top = max(score.values())
    exp = {k: math.exp(v - top) for k, v in score.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


def parse_fitted(tf: TomlFile, problems: list[str]) -> Fitted | None:
    """Validate fitted.toml into a Fitted (None when it has problems, listed with file:line)."""
    data = tf.data
    settings = dict(SETTINGS)
    for key, value in (data.get("fitted") or {}).items():
        if key == "C":
            continue  # what it was fitted with, for the record
        if key not in SETTINGS:
            problems.append(f"{tf.where(key, 'fitted')}: unknown setting {key!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            problems.append(f"{tf.where(key, 'fitted')}: {key} must be a number >= 0")
        else:
            settings[key] = float(value)
    intercept: dict[str, float] = {}
    for kind, value in (data.get("intercept") or {}).items():
        if kind not in KIND_CODES and kind not in SUBTYPE_CODES:
            problems.append(f"{tf.where(kind, 'intercept')}: unknown kind {kind!r}")
        elif not _number(value):
            problems.append(f"{tf.where(kind, 'intercept')}: bad intercept {value!r}")
        else:
            intercept[kind] = float(value)
    sections = [k for k in data if k in SUBTYPE_CODES]
    missing = [k for k in (*KIND_CODES, *(SUBTYPE_CODES if sections else ()))
               if k not in intercept]
    if missing and "intercept" in data:
        problems.append(f"{tf.where('intercept', 'intercept')}: [intercept] lacks "
                        f"{', '.join(missing)}")
    elif "intercept" not in data:
        problems.append(f"{tf.path}: no [intercept] table")
    weighted: list[tuple[str, str, float]] = []
    for section, entries in data.items():
        if section in ("fitted", "intercept"):
            continue
        if section not in (*KIND_CODES, *SUBTYPE_CODES) or not isinstance(entries, dict):
            problems.append(f"{tf.where(section, section)}: unknown kind or sub-type "
                            f"[{section}]")
            continue
        for text, value in entries.items():
            if not 1 <= len(text) <= MAX_GRAM:
                problems.append(f"{tf.where(text, section)}: fitted strings are 1–{MAX_GRAM} "
                                f"characters ({text!r}); put words in keywords/*.toml")
            elif not _number(value):
                problems.append(f"{tf.where(text, section)}: bad weight {value!r} for {text!r} "
                                f"(a number between -{MAX_ABS_WEIGHT:g} and {MAX_ABS_WEIGHT:g})")
            else:
                weighted.append((section, text, float(value)))
    return None if problems else Fitted.build(intercept, weighted, settings)


def _number(value: object) -> bool:
    return (not isinstance(value, bool) and isinstance(value, int | float)
            and math.isfinite(value) and abs(value) <= MAX_ABS_WEIGHT)
