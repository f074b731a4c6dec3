"""`keywords fit`: learn fitted.toml from labelled lines (needs scikit-learn; never when serving).

An L1-regularised (l1_ratio=1) multinomial logistic regression over the presence of 1–3 character
strings of the normalised text. L1 keeps a few thousand strings (a readable file) instead of
every string seen; strings seen in fewer than MIN_DF lines are not offered, and weights below
PRUNE are dropped. Sources: the dev set, the probe sets in keywords/eval, and the office's
corrections (the kind it set wins over a line's label).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from keywords.fitted import MAX_GRAM, SETTINGS, Fitted, grams
from keywords.normalize import normalise
from keywords.taxonomy import KIND_CODES, SUBTYPE_CODES

C = 10.0  # chosen on probe 6 out of sample (docs/classifier.md); 3 and 30 were within 0.01
MIN_DF = 2
PRUNE = 0.05
MIN_SUBTYPE_ROWS = 30


class FitError(Exception):
    """The labelled lines cannot be fitted (too few, unknown kinds, no scikit-learn)."""


Labelled = tuple[str, str, str | None]  # (text, kind, D/P sub-type or None)


def read_labelled(paths: Iterable[Path]) -> list[Labelled]:
    """(text, kind, subtype) from JSON lines with `text` and `kind` (and `subtype` for D/P);
    errors name file and line."""
    rows: list[Labelled] = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                text, kind, subtype = str(row["text"]), str(row["kind"]), row.get("subtype")
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise FitError(f"{path}:{n}: not a JSON object with 'text' and 'kind' "
                               f"({exc})") from exc
            if kind not in KIND_CODES:
                raise FitError(f"{path}:{n}: unknown kind {kind!r}")
            if subtype is not None and (subtype not in SUBTYPE_CODES or subtype[0] != kind):
                raise FitError(f"{path}:{n}: sub-type {subtype!r} does not belong to {kind}")
            rows.append((text, kind, subtype))
    return rows


def fit(rows: list[Labelled], c: float = C) -> tuple[dict[str, float],
                                                    dict[str, dict[str, float]]]:
    """(intercept per kind and sub-type, per kind and sub-type {string: weight}).

    Kinds from every row; D/P sub-types from a second model over the rows that have one
    (skipped when fewer than MIN_SUBTYPE_ROWS do)."""
    kinds = Counter(k for _t, k, _s in rows)
    if len(rows) < 50 or len(kinds) < 3:
        raise FitError(f"too few labelled lines to fit ({len(rows)} lines, {len(kinds)} kinds;"
                       " at least 50 lines and 3 kinds)")
    intercept, weights = _fit_one([(t, k) for t, k, _s in rows], KIND_CODES, c)
    with_subtype = [(t, s) for t, _k, s in rows if s]
    if len(with_subtype) >= MIN_SUBTYPE_ROWS and len({s for _t, s in with_subtype}) >= 3:
        sub_intercept, sub_weights = _fit_one(with_subtype, SUBTYPE_CODES, c)
        intercept.update(sub_intercept)
        weights.update(sub_weights)
    return intercept, weights


def _fit_one(rows: list[tuple[str, str]], codes: tuple[str, ...],
             c: float) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    try:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise FitError("keywords fit needs scikit-learn: pip install -r requirements-dev.txt"
                       ) from exc
    vectoriser = CountVectorizer(analyzer=lambda text: grams(normalise(text)),
                                 binary=True, min_df=MIN_DF)
    x = vectoriser.fit_transform([t for t, _k in rows])
    model = LogisticRegression(l1_ratio=1.0, solver="saga", C=c, max_iter=5000, tol=1e-3,
                               random_state=0)  # saga shuffles: the same lines give the same file
    model.fit(x, [k for _t, k in rows])
    names = vectoriser.get_feature_names_out()
    classes = [str(k) for k in model.classes_]
    intercept = {k: -20.0 for k in codes}  # a code no line had: never chosen
    weights: dict[str, dict[str, float]] = {k: {} for k in codes}
    for row, code in enumerate(classes):  # three or more classes: one row of weights each
        intercept[code] = round(float(model.intercept_[row]), 3)
        for col in model.coef_[row].nonzero()[0]:
            w = round(float(model.coef_[row, col]), 2)
            if abs(w) >= PRUNE:
                weights[code][str(names[col])] = w
    return intercept, weights


def render(intercept: dict[str, float], weights: dict[str, dict[str, float]],
           sources: dict[str, int], c: float = C) -> str:
    """fitted.toml text: a header saying what it is, then one table per kind by weight."""
    total = sum(sources.values())
    described = ", ".join(f"{name} {n}" for name, n in sources.items())
    lines = [
        "# 学习权重 (fitted weights): generated by `python -m bot keywords fit` on "
        f"{date.today().isoformat()}",
        f"# from {total} labelled lines ({described}).",
        "# A message's fitted score for a kind is its [intercept] plus the weight of every "
        "distinct",
        f"# 1-{MAX_GRAM} character string of the normalised text listed under that kind; "
        "negative weights",
        "# count against it. The scores become probabilities and are blended with the rules "
        "(engine.py).",
        "# Edit or delete any line; `keywords check` validates the file; running "
        "`keywords fit` again",
        "# rewrites it. Hand-written words belong in keywords/*.toml.",
        "",
        "[fitted]",
        f"C = {c:g}",
        *(f"{key} = {value:g}" for key, value in SETTINGS.items()),
        "",
        "[intercept]",
        *(f"{k} = {intercept[k]:g}" for k in (*KIND_CODES, *SUBTYPE_CODES) if k in intercept),
    ]
    for kind in (*KIND_CODES, *SUBTYPE_CODES):
        entries = sorted(weights.get(kind, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        if not entries:
            continue
        lines += ["", f"[{kind}]"]
        lines += [f"{json.dumps(g, ensure_ascii=False)} = {w:g}" for g, w in entries]
    return "\n".join(lines) + "\n"


def fitted_on(rows: Iterable[dict]) -> Fitted:
    """Weights fitted on labelled rows (`text`, `kind`, `subtype`), in memory: what `render`
    would write, for cross-validation without files."""
    intercept, weights = fit([(r["text"], r["kind"], r.get("subtype")) for r in rows])
    return Fitted.build(intercept, ((code, g, w) for code, entries in weights.items()
                                    for g, w in entries.items()), SETTINGS)
