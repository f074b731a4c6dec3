"""Cross-validated figures for the fitted weights (keywords/data/fitted.toml).

The shipped weights are fitted on every labelled line, so scoring them on those lines
would flatter them. Here each probe set is left out in turn (and the dev set in five folds):
the weights are refitted without it and the rules + weights are scored on it, next to the
rules alone. The rules themselves were tuned with every set in view (docs/classifier.md
gives each set's first, out-of-sample figure), so only the fitted part is held out here.

Run from the repo root: `python bench/fitted_cv.py [--sets probe6,probe7]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

DEV = ROOT.parent / "shared" / "data" / "complaints-dev.jsonl"
EVAL = ROOT / "keywords" / "eval"
FOLDS = 5


def load(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def right(row: dict, kind: str) -> bool:
    return kind == row["kind"] or kind in row.get("also", [])


def row(got: list[int]) -> str:
    n, a, b, m, c, d = got
    sub = f"{c / m:.3f} | {d / m:.3f}" if m else "— | —"
    return f"{n} | {a / n:.3f} | {b / n:.3f} | {m} | {sub}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", help="comma-separated set names to hold out (default: all)")
    ap.add_argument("--max-chars", type=int, help="try another [fitted] max_chars")
    ap.add_argument("--dump", type=Path, help="write each held-out line's gold and predicted "
                    "kinds (rules alone, rules + weights) to this JSON-lines file")
    args = ap.parse_args(argv)
    from keywords.engine import Engine
    from keywords.fitting import fitted_on
    from keywords.rules import load_rules

    sets = {p.name.removesuffix("_lines.jsonl"): load(p)
            for p in sorted(EVAL.glob("*_lines.jsonl"))}
    dev = load(DEV) if DEV.exists() else []
    folds = {f"dev fold {k + 1}/{FOLDS}": [r for i, r in enumerate(dev) if i % FOLDS == k]
             for k in range(FOLDS if dev else 0)}
    chosen = set(args.sets.split(",")) if args.sets else None
    rules = load_rules()
    plain = Engine(dataclasses.replace(rules, fitted=None))
    print("| held out | lines | kind: rules alone | kind: rules + weights | D/P lines | "
          "sub-type: rules alone | sub-type: rules + weights |")
    print("|---|---|---|---|---|---|---|")
    totals = [0, 0, 0, 0, 0, 0]
    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
    for name, held in {**sets, **folds}.items():
        if chosen and name not in chosen and not (name.startswith("dev") and "dev" in chosen):
            continue
        rest = [r for n, rows in sets.items() if n != name for r in rows]
        rest += [r for n, rows in folds.items() if n != name for r in rows]
        fitted = fitted_on(rest)
        if args.max_chars:
            fitted = dataclasses.replace(fitted, max_chars=args.max_chars)
        blended = Engine(dataclasses.replace(rules, fitted=fitted))
        before = [plain.run(r["text"]) for r in held]
        after = [blended.run(r["text"]) for r in held]
        dp = [i for i, r in enumerate(held) if r.get("subtype")]
        got = [len(held), sum(right(r, p["kind"]) for r, p in zip(held, before, strict=True)),
               sum(right(r, p["kind"]) for r, p in zip(held, after, strict=True)), len(dp),
               sum(before[i]["subtype"] == held[i]["subtype"] for i in dp),
               sum(after[i]["subtype"] == held[i]["subtype"] for i in dp)]
        totals = [t + g for t, g in zip(totals, got, strict=True)]
        for r, b, a in zip(held, before, after, strict=True) if dump else ():
            dump.write(json.dumps({"set": name, "text": r["text"], "kind": r["kind"],
                                   "also": r.get("also", []), "rules": b["kind"],
                                   "rules_confidence": b["confidence"], "blended": a["kind"]},
                                  ensure_ascii=False) + "\n")
        print(f"| {name} | {row(got)} |", flush=True)
    if totals[0]:
        print(f"| **all held-out lines** | {row(totals)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
