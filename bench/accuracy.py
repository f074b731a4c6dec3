"""Accuracy of the keyword classifier on the labelled dev set, against a trained baseline.

Run from the repo root: `python bench/accuracy.py [--errors odd|even|all|extra]`.
A prediction is right when it equals `kind` or one of `also`. Figures: whole dev set,
odd ids (the half the keywords were tuned on), even ids (held out), our own extra lines
(keywords/eval/extra_lines.jsonl, written in a different voice before tuning), and a
TF-IDF + logistic-regression baseline, 5-fold cross-validated (never scored on lines it
was fitted on).

The shipped fitted weights (keywords/data/fitted.toml) were fitted on the dev set too, so
the classifier as shipped is in-sample on dev. The column "keywords + weights (5-fold CV)"
refits the weights without each fifth of dev (keeping every probe set) and scores that fifth;
"keywords alone" leaves the weights out. bench/fitted_cv.py does the same per probe set.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# run as a script: import the project from the repo root, not from bench/
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"  # the team's data sets sit beside the checkout
DEV = SHARED / "data" / "complaints-dev.jsonl"
EXTRA = ROOT / "keywords" / "eval" / "extra_lines.jsonl"
KINDS = ["S1", "S2", "S3", "S4", "S5", "S6", "D", "P", "NONE"]


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def effective(row: dict, pred: str) -> str:
    """The gold label a prediction is judged against (kind, or a matching `also`)."""
    return pred if pred in row.get("also", []) else row["kind"]


def metrics(rows: list[dict], preds: list[dict]) -> dict:
    gold = [effective(r, p["kind"]) for r, p in zip(rows, preds, strict=True)]
    kinds = [p["kind"] for p in preds]
    n = len(rows)
    acc = sum(g == k for g, k in zip(gold, kinds, strict=True)) / n
    per = {}
    for k in KINDS:
        tp = sum(g == k and p == k for g, p in zip(gold, kinds, strict=True))
        fp = sum(g != k and p == k for g, p in zip(gold, kinds, strict=True))
        fn = sum(g == k and p != k for g, p in zip(gold, kinds, strict=True))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        if tp + fn:
            per[k] = (prec, rec, f1, tp + fn)
    macro = sum(v[2] for v in per.values()) / len(per)
    sub_rows = [(r, p) for r, p in zip(rows, preds, strict=True) if r.get("subtype")]
    sub = (sum(p.get("subtype") == r["subtype"] for r, p in sub_rows) / len(sub_rows)
           if sub_rows else None)
    unit = None
    spurious = None
    if all("unit" in p for p in preds):
        unit = sum(p["unit"] == r["unit"] for r, p in zip(rows, preds, strict=True)) / n
        spurious = sum(r["unit"] is None and p["unit"] is not None
                       for r, p in zip(rows, preds, strict=True))
    conf = Counter((g, k) for g, k in zip(gold, kinds, strict=True) if g != k)
    return {"n": n, "acc": acc, "macro": macro, "per": per, "sub": sub, "unit": unit,
            "spurious": spurious, "confusions": conf.most_common(8)}


def baseline_predictions(rows: list[dict]) -> list[dict]:
    """TF-IDF over jieba tokens + logistic regression, 5-fold CV: out-of-fold predictions."""
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    texts = [" ".join(jieba.lcut(r["text"])) for r in rows]

    def model():
        return make_pipeline(TfidfVectorizer(tokenizer=str.split, token_pattern=None,
                                             ngram_range=(1, 2), sublinear_tf=True),
                             LogisticRegression(max_iter=2000, C=10.0))

    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    kinds = cross_val_predict(model(), texts, [r["kind"] for r in rows], cv=cv)
    preds = [{"kind": k, "subtype": None} for k in kinds]
    idx = [i for i, r in enumerate(rows) if r.get("subtype")]
    subs = cross_val_predict(model(), [texts[i] for i in idx], [rows[i]["subtype"] for i in idx],
                             cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=0))
    for i, s in zip(idx, subs, strict=True):
        if preds[i]["kind"] == s[0]:
            preds[i]["subtype"] = s
    return preds


def fitted_cv_predictions(rows: list[dict], folds: int = 5) -> tuple[list[dict], list[dict]]:
    """(rules alone, rules + weights refitted without each fold): predictions for `rows`."""
    import dataclasses

    from keywords.engine import Engine
    from keywords.fitting import fitted_on
    from keywords.rules import load_rules

    rules = load_rules()
    plain = Engine(dataclasses.replace(rules, fitted=None))
    others = [json.loads(x) for p in sorted((ROOT / "keywords" / "eval").glob("*_lines.jsonl"))
              for x in p.read_text(encoding="utf-8").splitlines() if x.strip()]
    blended: list[dict | None] = [None] * len(rows)
    for k in range(folds):
        train = others + [r for i, r in enumerate(rows) if i % folds != k]
        engine = Engine(dataclasses.replace(rules, fitted=fitted_on(train)))
        for i in range(k, len(rows), folds):
            blended[i] = engine.run(rows[i]["text"])
    return [plain.run(r["text"]) for r in rows], blended


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def table(columns: dict[str, dict]) -> str:
    names = list(columns)
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    rows = [("lines", lambda m: str(m["n"])), ("kind accuracy", lambda m: fmt(m["acc"])),
            ("macro-F1", lambda m: fmt(m["macro"])), ("sub-type accuracy", lambda m: fmt(m["sub"])),
            ("unit accuracy", lambda m: fmt(m["unit"])),
            ("unit named where none",
             lambda m: "—" if m["spurious"] is None else str(m["spurious"]))]
    for label, f in rows:
        lines.append(f"| {label} | " + " | ".join(f(columns[c]) for c in names) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--errors", choices=["odd", "even", "all", "extra"], help="list the errors")
    args = ap.parse_args(argv)
    dev = load(DEV)
    extra = load(EXTRA)
    base = baseline_predictions(dev)  # before our words enter jieba's dictionary

    from keywords import get_classifier

    clf = get_classifier()
    preds = [clf.classify(r["text"]).to_dict() for r in dev]
    xpreds = [clf.classify(r["text"]).to_dict() for r in extra]
    odd = [i for i, r in enumerate(dev) if int(r["id"].split("-")[1]) % 2 == 1]
    even = [i for i, r in enumerate(dev) if int(r["id"].split("-")[1]) % 2 == 0]
    alone, cv = fitted_cv_predictions(dev)
    cols = {
        "keywords (dev, all)": metrics(dev, preds),
        "keywords alone (no weights)": metrics(dev, alone),
        "keywords + weights (5-fold CV)": metrics(dev, cv),
        "keywords (odd ids, tuned)": metrics([dev[i] for i in odd], [preds[i] for i in odd]),
        "keywords (even ids, held out)": metrics([dev[i] for i in even], [preds[i] for i in even]),
        "keywords (own extra lines)": metrics(extra, xpreds),
        "baseline TF-IDF+LR (5-fold CV)": metrics(dev, base),
        "baseline (even ids)": metrics([dev[i] for i in even], [base[i] for i in even]),
    }
    print("## Accuracy\n")
    print(table(cols))
    print("\n## Per kind (dev, all): precision / recall / F1 (support) — keywords vs baseline\n")
    print("| kind | keywords P | R | F1 | baseline P | R | F1 | n |")
    print("|---|---|---|---|---|---|---|---|")
    kw, bl = cols["keywords (dev, all)"]["per"], cols["baseline TF-IDF+LR (5-fold CV)"]["per"]
    for k in KINDS:
        a, b = kw.get(k, (0, 0, 0, 0)), bl.get(k, (0, 0, 0, 0))
        print(f"| {k} | {a[0]:.2f} | {a[1]:.2f} | {a[2]:.2f} | {b[0]:.2f} | {b[1]:.2f} | "
              f"{b[2]:.2f} | {a[3]} |")
    print("\n## Top confusions (gold → predicted), keywords on dev\n")
    for (g, p), c in cols["keywords (dev, all)"]["confusions"]:
        print(f"- {g} → {p}: {c}")
    if args.errors:
        sel = {"odd": odd, "even": even, "all": range(len(dev))}.get(args.errors)
        pairs = ([(extra[i], xpreds[i]) for i in range(len(extra))] if args.errors == "extra"
                 else [(dev[i], preds[i]) for i in sel])
        print("\n## Errors\n")
        for r, p in pairs:
            kind_ok = p["kind"] == r["kind"] or p["kind"] in r.get("also", [])
            sub_ok = not r.get("subtype") or p["subtype"] == r["subtype"]
            if not kind_ok or not sub_ok or p["unit"] != r["unit"]:
                print(f"{r['id']} gold={r['kind']}/{r.get('subtype')}/{r['unit']} "
                      f"pred={p['kind']}/{p['subtype']}/{p['unit']} {p['matched']} | {r['text']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
