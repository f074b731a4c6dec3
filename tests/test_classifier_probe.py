"""Accuracy floor on the probe set (keywords/eval/probe_lines.jsonl).

The 160 probe lines were written in varied voices (elderly, migrant workers, dialect, typos,
voice-to-text run-ons, Traditional characters, sarcasm, old unit names, non-government
complaints) before the keyword files were read, to measure generalisation. The keyword files
have since been tuned with them in view, so these figures are no longer out-of-sample: the
floors below only catch regressions. Floors sit a little under what the data reached.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keywords import get_classifier, load_units

PROBE = Path(__file__).resolve().parent.parent / "keywords" / "eval" / "probe_lines.jsonl"
KINDS = ("S1", "S2", "S3", "S4", "S5", "S6", "D", "P", "NONE")

FLOOR_KIND = 0.93  # reached 0.975
FLOOR_MACRO_F1 = 0.93  # reached 0.976
FLOOR_SUBTYPE = 0.90  # reached 0.978 (D/P lines)
FLOOR_UNIT = 0.88  # reached 0.925
MAX_SPURIOUS_UNITS = 12  # reached 9 (a unit named where the label has none)


def _rows() -> list[dict]:
    return [json.loads(line) for line in PROBE.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="module")
def scored() -> list[tuple[dict, dict]]:
    clf = get_classifier()
    return [(r, clf.classify(r["text"]).to_dict()) for r in _rows()]


def test_probe_labels_are_well_formed():
    rows = _rows()
    assert len(rows) == 160
    assert [r["id"] for r in rows] == [f"probe-{i:03d}" for i in range(1, 161)]
    units = {u.name for u in load_units().all()}
    for r in rows:
        assert r["kind"] in KINDS, r["id"]
        assert all(a in KINDS and a != r["kind"] for a in r["also"]), r["id"]
        if r["kind"] in ("D", "P"):
            assert r["subtype"] and r["subtype"][0] == r["kind"], r["id"]
        else:
            assert r["subtype"] is None, r["id"]
        assert r["unit"] is None or r["unit"] in units, r["id"]


def _gold(row: dict, pred: str) -> str:
    return pred if pred in row["also"] else row["kind"]


def test_probe_accuracy_floor(scored):
    gold = [_gold(r, p["kind"]) for r, p in scored]
    pred = [p["kind"] for _, p in scored]
    n = len(scored)
    acc = sum(g == k for g, k in zip(gold, pred, strict=True)) / n
    f1s = []
    for k in KINDS:
        tp = sum(g == k and p == k for g, p in zip(gold, pred, strict=True))
        fp = sum(g != k and p == k for g, p in zip(gold, pred, strict=True))
        fn = sum(g == k and p != k for g, p in zip(gold, pred, strict=True))
        if tp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    macro = sum(f1s) / len(f1s)
    subs = [(r, p) for r, p in scored if r["subtype"]]
    sub = sum(p["subtype"] == r["subtype"] for r, p in subs) / len(subs)
    unit = sum(p["unit"] == r["unit"] for r, p in scored) / n
    spurious = sum(r["unit"] is None and p["unit"] is not None for r, p in scored)
    figures = (f"kind {acc:.3f} macro-F1 {macro:.3f} sub {sub:.3f} unit {unit:.3f} "
               f"spurious {spurious}")
    assert acc >= FLOOR_KIND, figures
    assert macro >= FLOOR_MACRO_F1, figures
    assert sub >= FLOOR_SUBTYPE, figures
    assert unit >= FLOOR_UNIT, figures
    assert spurious <= MAX_SPURIOUS_UNITS, figures


def test_probe_non_complaints_stay_none(scored):
    # bank/courier/neighbour/物业 complaints, greetings, how-to questions: never a complaint kind
    wrong = [(r["id"], p["kind"]) for r, p in scored if r["kind"] == "NONE" and p["kind"] != "NONE"]
    assert len(wrong) <= 1, wrong
