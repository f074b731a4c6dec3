"""Command line: `classify`, `keywords check`, `keywords suggest`, `keywords fit`.

`register(subparsers)` adds them to the bot's main parser (python -m bot ...);
`python -m keywords.cli ...` runs them standalone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from keywords.tomlfile import DataError

FIELDS = ("kind", "subtype", "unit", "confidence", "matched")
EVAL_DIR = Path(__file__).resolve().parent / "eval"
DEFAULT_DEV = Path(__file__).resolve().parent.parent.parent / "shared/data/complaints-dev.jsonl"


def register(subparsers) -> None:
    """Add `classify` and `keywords {check,suggest}` to an argparse subparsers object."""
    p = subparsers.add_parser("classify", help="classify complaint texts (JSON out)")
    p.add_argument("text", nargs="?", help="the message; without it, one message per stdin line")
    p.add_argument("--jsonl", action="store_true",
                   help="stdin is JSON lines with a 'text' field; other fields are passed through")
    p.add_argument("--dir", default=None, help="keyword data directory (default: packaged)")
    p.set_defaults(func=cmd_classify)

    k = subparsers.add_parser("keywords", help="keyword data tools")
    ks = k.add_subparsers(dest="keywords_command", required=True)
    c = ks.add_parser("check", help="validate the keyword data files")
    c.add_argument("--dir", default=None, help="data directory (default: packaged)")
    c.set_defaults(func=cmd_check)
    s = ks.add_parser("suggest", help="propose keywords from the office's corrections")
    s.add_argument("--db", required=True, help="SQLite database with a corrections table")
    s.add_argument("--dir", default=None, help="data directory (default: packaged)")
    s.add_argument("--top", type=int, default=15, help="suggestions per kind")
    s.add_argument("--min-count", type=int, default=2, help="minimum number of texts")
    s.set_defaults(func=cmd_suggest)
    f = ks.add_parser("fit", help="learn fitted.toml from labelled lines (needs scikit-learn)")
    f.add_argument("--dev", default=str(DEFAULT_DEV),
                   help="labelled dev set, JSON lines (default: ../shared/data beside the checkout;"
                        " skipped when absent)")
    f.add_argument("--eval-dir", default=str(EVAL_DIR),
                   help="directory of *_lines.jsonl probe sets (default: keywords/eval)")
    f.add_argument("--exclude", action="append", default=[], metavar="NAME",
                   help="leave out a probe set, e.g. probe7 (to measure on it afterwards)")
    f.add_argument("--db", default=None, help="SQLite database with the office's corrections")
    f.add_argument("--out", default=None, help="where to write (default: <data dir>/fitted.toml)")
    f.add_argument("--dir", default=None, help="data directory (default: packaged)")
    f.set_defaults(func=cmd_fit)


def _out(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def cmd_classify(args: argparse.Namespace) -> int:
    from keywords.classifier import get_classifier

    clf = get_classifier(args.dir)
    if args.text is not None and not args.jsonl:
        _out(clf.classify(args.text).to_dict())
        return 0
    status = 0
    for n, line in enumerate(sys.stdin, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if not args.jsonl:
            _out(clf.classify(line).to_dict())
            continue
        try:
            row = json.loads(line)
            text = row["text"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            print(f"stdin:{n}: not a JSON object with a 'text' field ({exc})", file=sys.stderr)
            status = 1
            continue
        row.update(clf.classify(str(text)).to_dict())
        _out(row)
    return status


def cmd_check(args: argparse.Namespace) -> int:
    from keywords.rules import load_rules

    try:
        rules = load_rules(args.dir)
    except DataError as exc:
        for p in exc.problems:
            print(p, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    fitted = f", {len(rules.fitted.weights)} fitted strings" if rules.fitted else ""
    print(f"ok: {len(rules.terms)} keywords, {len(rules.units.all())} units, "
          f"{len(rules.services)} services{fitted} in {len(rules.files)} files")
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    from keywords.rules import load_rules
    from keywords.suggest import MissingTable, read_corrections, suggest

    if not Path(args.db).exists():
        print(f"{args.db}: no such database", file=sys.stderr)
        return 1
    try:
        corrections = read_corrections(args.db)
    except MissingTable as exc:
        print(f"{exc}: no corrections recorded yet, nothing to suggest", file=sys.stderr)
        return 1
    rules = load_rules(args.dir)
    result = suggest(rules, corrections, top=args.top, min_count=args.min_count)
    if not result:
        print("no corrections with a new kind yet")
    for kind, items in result.items():
        shown = "  ".join(f"{w}({c})" for w, c in items) or "(nothing new)"
        print(f"{kind}: {shown}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from keywords.fitted import parse_fitted
    from keywords.fitting import FitError, Labelled, fit, read_labelled, render
    from keywords.rules import FITTED
    from keywords.suggest import MissingTable, read_corrected_labels
    from keywords.tomlfile import TomlFile, resolve_dir

    sources: dict[str, int] = {}
    rows: list[Labelled] = []
    try:
        files = [Path(args.dev)] if Path(args.dev).exists() else []
        files += [p for p in sorted(Path(args.eval_dir).glob("*_lines.jsonl"))
                  if p.name.removesuffix("_lines.jsonl") not in args.exclude]
        for path in files:
            got = read_labelled([path])
            sources[path.name] = len(got)
            rows += got
        if args.db:
            corrected = read_corrected_labels(args.db)
            sources["corrections"] = len(corrected)
            rows += corrected
        intercept, weights = fit(rows)
    except (FitError, MissingTable, OSError) as exc:
        print(f"keywords fit: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out) if args.out else resolve_dir(args.dir) / FITTED
    out.write_text(render(intercept, weights, sources), encoding="utf-8")
    problems: list[str] = []
    parse_fitted(TomlFile(out), problems)  # what `keywords check` will say of it
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    kept = sum(len(w) for w in weights.values())
    print(f"wrote {out}: {kept} weighted strings from {len(rows)} lines "
          f"({', '.join(f'{k} {n}' for k, n in sources.items())})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="keywords")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
