"""Unit recognition on real citizen letters, scored against hand labels.

Why: the dev set and probe lines were written for this project, so they share its wording;
this bench measures unit recognition on 300 real message-board letters (a reproducible
random.Random(20261125) sample) whose responsible unit was read off the official reply
(how=reply) or, failing that, inferred from the letter (how=content) and mapped to our
district's directory. A township label is right when the predicted unit's kind is township
(our townships have other names); null means no single unit of ours is responsible.
`mentions` says whether the citizen's own text names the unit or one of its services.

Only ids and labels live in the repo (keywords/eval/real_units.tsv); the letters are read
from the shared data beside the checkout and must not be shipped.
Run from the repo root: `python bench/real_units.py [--verbose] [--half even|odd|all]`.

Honesty split: rules are tuned by reading only letters with an EVEN id (`--half even`);
the ODD half (`--half odd`) is the out-of-sample figure and is not read letter by letter.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# run as a script: import the project from the repo root, not from bench/
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"  # the team's data sets sit beside the checkout
LETTERS = SHARED / "data" / "real" / "messages-with-replies.jsonl"
UNITS = SHARED / "data" / "units.tsv"
LABELS = ROOT / "keywords" / "eval" / "real_units.tsv"
NONE = "—"  # no unit named


@dataclass
class Row:
    id: int
    label: str  # canonical unit name, "township" or "null"
    how: str
    mentions: str
    subject: str
    pred: str | None
    confidence: float
    matched: list[str]


def load_kinds(path: Path = UNITS) -> dict[str, str]:
    kinds = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, kind, *_ = line.split("\t")
            kinds[name] = kind
    return kinds


def load_labels(path: Path = LABELS) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def load_letters(path: Path = LETTERS) -> dict[int, dict]:
    letters = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            letters[int(rec["id"])] = rec
    return letters


def right_unit(row: Row, kinds: dict[str, str]) -> bool:
    """Exact unit for a named label; any township for a township label."""
    if row.pred is None:
        return False
    if row.label == "township":
        return kinds.get(row.pred) == "township"
    return row.pred == row.label


def right_kind(row: Row, kinds: dict[str, str]) -> bool:
    """The predicted unit is of the label's kind (lead / oversight / unit / township)."""
    if row.pred is None:
        return False
    want = "township" if row.label == "township" else kinds.get(row.label)
    return kinds.get(row.pred) == want


def pct(a: int, b: int) -> str:
    return f"{a}/{b} = {a / b:.1%}" if b else f"{a}/0"


def report(rows: list[Row], kinds: dict[str, str], title: str) -> None:
    """Coverage, exact and right-unit precision/recall, right-kind rate on labelled rows."""
    lab = [r for r in rows if r.label != "null"]
    named = [r for r in lab if r.pred is not None]
    exact = [r for r in lab if r.label != "township"]
    exact_named = [r for r in exact if r.pred is not None]
    exact_ok = sum(r.pred == r.label for r in exact)
    ru_ok = sum(right_unit(r, kinds) for r in lab)
    print(f"{title}: {len(lab)} letters labelled with a unit "
          f"({len(exact)} named unit, {len(lab) - len(exact)} township)")
    print(f"  coverage (a unit named)        {pct(len(named), len(lab))}")
    print(f"  exact unit   precision         {pct(exact_ok, len(exact_named))}"
          "   (named-unit labels only)")
    print(f"               recall            {pct(exact_ok, len(exact))}")
    print(f"  right unit   precision         {pct(ru_ok, len(named))}"
          "   (township label: any township)")
    print(f"               recall            {pct(ru_ok, len(lab))}")
    kind_ok = sum(right_kind(r, kinds) for r in lab)
    print(f"  right kind of unit             {pct(kind_ok, len(lab))}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--verbose", action="store_true", help="print every letter's label and guess")
    ap.add_argument("--half", choices=("even", "odd", "all"), default="all",
                    help="letters with an even id (tuned on), odd id (held out) or all")
    args = ap.parse_args(argv)

    from keywords import get_classifier

    clf = get_classifier()
    kinds = load_kinds()
    letters = load_letters()
    rows: list[Row] = []
    for lab in load_labels():
        if args.half != "all" and int(lab["id"]) % 2 != (args.half == "odd"):
            continue
        rec = letters[int(lab["id"])]
        subject = (rec.get("subject") or "").strip()
        text = f"{subject}。{(rec.get('text') or '').strip()}"
        res = clf.classify(text)
        rows.append(Row(int(lab["id"]), lab["unit"], lab["how"], lab["mentions"], subject,
                        res.unit, res.confidence, list(res.matched)))

    if args.verbose:
        for r in rows:
            mark = ("ok" if right_unit(r, kinds) else "MISS" if r.pred is None else "WRONG") \
                if r.label != "null" else ("null" if r.pred is None else "NULL-NAMED")
            print(f"{r.id:>7} {mark:<10} label={r.label}({r.how},{r.mentions}) "
                  f"pred={r.pred or NONE} conf={r.confidence:.2f} "
                  f"matched={','.join(r.matched)} | {r.subject[:40]}")
        print()

    print(f"{len(rows)} sampled real letters (half={args.half}), "
          "classified as subject + '。' + text")
    report(rows, kinds, "all")
    for m in ("yes", "no"):
        report([r for r in rows if r.mentions == m], kinds, f"mentions={m}")
    for h in ("reply", "content"):
        report([r for r in rows if r.how == h], kinds, f"how={h}")

    lab = [r for r in rows if r.label != "null"]
    wrong = Counter((r.label, r.pred) for r in lab if r.pred is not None
                    and not right_unit(r, kinds))
    missed = Counter(r.label for r in lab if r.pred is None)
    print("\n10 most common confusions (label → predicted, a wrong unit named):")
    for (g, p), n in wrong.most_common(10):
        print(f"  {n:>3}  {g} → {p}")
    print("10 labels most often left with no unit (label → —):")
    for g, n in missed.most_common(10):
        print(f"  {n:>3}  {g} → {NONE}")

    nulls = [r for r in rows if r.label == "null"]
    named_null = [r for r in nulls if r.pred is not None]
    print(f"\nnull-labelled letters where a unit was named: {pct(len(named_null), len(nulls))}")
    if named_null:
        print("  " + ", ".join(f"{u}×{n}" for u, n in
                               Counter(r.pred for r in named_null).most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
