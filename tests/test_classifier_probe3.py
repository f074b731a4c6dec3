"""Third probe set (keywords/eval/probe3_lines.jsonl): label format and an accuracy floor.

The 160 lines were written and committed before the keyword data (or the earlier probes) was
opened, so the first run over them was an out-of-sample measurement (see docs/classifier.md).
Then structural rules were added (complaint shape, a unit's own window in the service centre),
with probe3 in view, so the figures below are tuned-on: the floors only guard against
regressions and sit a little under what was reached. No keyword was added for probe3.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from keywords import get_classifier, load_units

HERE = Path(__file__).resolve().parent.parent
PROBE3 = HERE / "keywords" / "eval" / "probe3_lines.jsonl"
DEV = Path("/work/shared/data/complaints-dev.jsonl")
KINDS = ("S1", "S2", "S3", "S4", "S5", "S6", "D", "P", "NONE")
FIELDS = {"id", "text", "kind", "subtype", "also", "unit"}

MIN_KIND_ACCURACY = 0.86  # reached 0.887 (out-of-sample before the change: 0.775)
MIN_MACRO_F1 = 0.85  # reached 0.878 (before: 0.774)
MIN_SUBTYPE_ACCURACY = 0.86  # reached 0.889 on the 45 D/P lines (before: 0.800)
MIN_UNIT_ACCURACY = 0.87  # reached 0.894 (before: 0.894)
# reached 16 (before: 16): probe3 labels S5/S6 hand-off stories with no unit, the dev set
# labels the first-named unit; [shape] multi_unit_none = true would give 9 here
MAX_UNIT_WHERE_NONE = 18


def load_probe3() -> list[dict]:
    return [json.loads(x) for x in PROBE3.read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture(scope="module")
def predictions() -> list[tuple[dict, dict]]:
    clf = get_classifier()
    return [(row, clf.classify(row["text"]).to_dict()) for row in load_probe3()]


def test_probe3_lines_follow_the_label_scheme():
    rows = load_probe3()
    assert [r["id"] for r in rows] == [f"probe3-{n:03d}" for n in range(1, 161)]
    canonical = {u.name for u in load_units().all()}
    for r in rows:
        assert set(r) == FIELDS, r["id"]
        assert r["text"].strip(), r["id"]
        assert r["kind"] in KINDS, r["id"]
        assert isinstance(r["also"], list), r["id"]
        assert all(a in KINDS and a not in (r["kind"], "NONE") for a in r["also"]), r["id"]
        if r["kind"] in ("D", "P"):
            assert r["subtype"] is not None and r["subtype"][0] == r["kind"], r["id"]
            assert r["subtype"][1:].isdigit(), r["id"]
        else:
            assert r["subtype"] is None, r["id"]
        assert r["unit"] is None or r["unit"] in canonical, r["id"]


def test_probe3_mix_of_kinds_and_subtypes():
    rows = load_probe3()
    kinds = Counter(r["kind"] for r in rows)
    assert kinds == {"S1": 15, "S2": 15, "S3": 15, "S4": 15, "S5": 15, "S6": 15,
                     "D": 25, "P": 20, "NONE": 25}
    subtypes = {r["subtype"] for r in rows if r["subtype"]}
    assert subtypes == {f"D{n}" for n in range(1, 7)} | {f"P{n}" for n in range(1, 10)}
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts)


@pytest.mark.skipif(not DEV.exists(), reason="shared dev set not mounted")
def test_probe3_lines_are_not_dev_lines():
    dev = {json.loads(x)["text"] for x in DEV.read_text(encoding="utf-8").splitlines() if x}
    assert not dev & {r["text"] for r in load_probe3()}


def _judged(row: dict, kind: str) -> str:
    """The label a prediction is judged against: a listed secondary kind also counts."""
    return kind if kind in row["also"] else row["kind"]


def test_probe3_accuracy_floor(predictions):
    gold = [_judged(r, p["kind"]) for r, p in predictions]
    got = [p["kind"] for _, p in predictions]
    pairs = list(zip(gold, got, strict=True))
    accuracy = sum(g == k for g, k in pairs) / len(pairs)
    f1 = []
    for kind in KINDS:
        tp = sum(g == kind == k for g, k in pairs)
        fp = sum(k == kind != g for g, k in pairs)
        fn = sum(g == kind != k for g, k in pairs)
        if tp + fn:
            f1.append(2 * tp / (2 * tp + fp + fn))
    macro = sum(f1) / len(f1)
    dp = [(r, p) for r, p in predictions if r["subtype"]]
    subtype = sum(r["subtype"] == p["subtype"] for r, p in dp) / len(dp)
    unit = sum(r["unit"] == p["unit"] for r, p in predictions) / len(predictions)
    unit_where_none = sum(r["unit"] is None and p["unit"] is not None for r, p in predictions)
    summary = (f"kind={accuracy:.3f} macroF1={macro:.3f} subtype={subtype:.3f} "
               f"unit={unit:.3f} unit_where_none={unit_where_none}")
    assert accuracy >= MIN_KIND_ACCURACY, summary
    assert macro >= MIN_MACRO_F1, summary
    assert subtype >= MIN_SUBTYPE_ACCURACY, summary
    assert unit >= MIN_UNIT_ACCURACY, summary
    assert unit_where_none <= MAX_UNIT_WHERE_NONE, summary


def test_probe3_off_scope_lines_stay_none(predictions):
    # greetings, thanks, how-to questions, ads, banks/couriers/物业/neighbours/shops: the
    # complaint-shape rule must not pull these in (社保断缴了三个月 with 想问一下 stays NONE)
    leaked = [(r["id"], p["kind"]) for r, p in predictions
              if r["kind"] == "NONE" and p["kind"] != "NONE"]
    assert not leaked, leaked


def test_probe3_spam_names_no_unit(predictions):
    ads = [p for r, p in predictions if r["kind"] == "NONE" and r["unit"] is None
           and any(s in r["text"] for s in ("http", "回收"))]
    assert ads and all(p["unit"] is None for p in ads)
