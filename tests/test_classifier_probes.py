"""Accuracy floors on the probe sets (keywords/eval/probe*_lines.jsonl).

Each set of 160 lines (probe4: 120) was written in varied real voices by someone who had not
read the keyword data (nor, for probes 2 and 3, the earlier probes), and was
committed before the data was opened: its first run was an out-of-sample
measurement (docs/classifier.md). The data was then improved with general word
families and structural rules with the set in view, so the figures here are
tuned-on: each floor sits a little under what was reached and only catches
regressions. ``before`` is the out-of-sample figure, kept for the record.

Since the fitted weights (keywords/data/fitted.toml) were fitted on every one of these sets,
the figures below are in-sample twice over; bench/fitted_cv.py refits without each set in
turn and gives the held-out figures (docs/classifier.md, "Fitted weights").
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from keywords import get_classifier, load_units
from tests.shared_data import DEV_SET

EVAL = Path(__file__).resolve().parent.parent / "keywords" / "eval"
KINDS = ("S1", "S2", "S3", "S4", "S5", "S6", "D", "P", "NONE")
FIELDS = {"id", "text", "kind", "subtype", "also", "unit"}
MIX = {"S1": 15, "S2": 15, "S3": 15, "S4": 15, "S5": 15, "S6": 15, "D": 25, "P": 20, "NONE": 25}
# the 120-line sets: 10 per S kind, 20 D (every D sub-type), 18 P (two per P sub-type), 22 NONE
MIX_120 = (("S1", 10), ("S2", 10), ("S3", 10), ("S4", 10), ("S5", 10), ("S6", 10),
           ("D", 20), ("P", 18), ("NONE", 22))


@dataclass(frozen=True)
class Probe:
    """One probe set and the floors its tuned-on figures must keep."""

    name: str
    kind: float
    macro_f1: float
    subtype: float
    unit: float
    max_unit_where_none: int
    max_none_leaks: int
    before: str  # out-of-sample kind accuracy, before tuning
    size: int = 160
    mix: tuple[tuple[str, int], ...] = tuple(MIX.items())


PROBES = (
    # reached kind 0.975, macro-F1 0.976, subtype 0.978, unit 0.925, 9 units where none
    # (with the fitted weights: kind 1.000)
    Probe("probe", 0.95, 0.95, 0.90, 0.88, 12, 1, before="0.688"),
    # reached kind 0.988, macro-F1 0.985, subtype 1.000, unit 0.881, 17 units where none
    Probe("probe2", 0.95, 0.95, 0.93, 0.84, 20, 0, before="0.731"),
    # reached kind 0.887, macro-F1 0.878, subtype 0.889, unit 0.894, 16 units where none:
    # probe3 labels S5/S6 hand-off stories with no unit where the dev set labels the
    # first-named unit ([shape] multi_unit_none = true would give 9)
    Probe("probe3", 0.86, 0.85, 0.86, 0.87, 18, 0, before="0.775"),
    # 120 lines; reached kind 0.958, macro-F1 0.956, subtype 0.921, unit 0.933, 4 units where none
    Probe("probe4", 0.93, 0.93, 0.89, 0.92, 6, 1, before="0.875", size=120, mix=MIX_120),
    # reached kind 0.994, macro-F1 0.994, subtype 1.000, unit 0.794, 19 units where none:
    # keyword families only; the one NONE leak (probe5-044, a driving-school instructor) and
    # the unit misses (townships named as places, several units in one story) need the unit
    # and non-government rules, not keywords (docs/classifier.md, probe5)
    # (units 0.844 after the unit-convention round: a township the writer lives in is a place)
    Probe("probe5", 0.96, 0.96, 0.95, 0.82, 22, 1, before="0.719"),
    # phone-typed voice: run-ons, homophone typos, dialect, sarcasm; after its word families
    # kind 0.925, macro-F1 0.920, subtype 0.889, unit 0.875, 13 units where none. Those
    # families left the untouched probe7 where it was (0.713 before and after)
    Probe("probe6", 0.96, 0.96, 0.90, 0.85, 15, 1, before="0.713"),
    # message-board letters, online slang, indirect cases; scored only in aggregate before
    # the fitted weights (its misses were never read): rules alone 0.713, rules + weights
    # fitted without it 0.838. Reached kind 0.906, macro-F1 0.911, subtype 0.733, unit
    # 0.787, 25 units where none (it labels many S5/S6 hand-off stories with no unit)
    Probe("probe7", 0.88, 0.88, 0.70, 0.80, 27, 3, before="0.713"),
    # written after the fitted weights, scored by the shipped classifier before it was
    # refitted with them (fully out of sample): probe8 kind 0.969, macro-F1 0.965, subtype
    # 0.978, unit 0.887 (rules alone 0.850); probe9 (D, P and subtle S kinds told without
    # the taxonomy's words) kind 0.917, macro-F1 0.924, subtype 0.816, unit 0.892 (rules
    # alone 0.767). Refitted: probe8 kind 1.000, probe9 0.975; unit misses are mostly S5/S6
    # hand-offs the probes label with no unit
    Probe("probe8", 0.96, 0.96, 0.95, 0.86, 15, 1, before="0.969 (rules + weights)"),
    Probe("probe9", 0.94, 0.94, 0.94, 0.86, 11, 1, before="0.917 (rules + weights)", size=120,
          mix=MIX_120),
    # in the dev set's register and unit conventions, scored the same way before the refit:
    # kind 0.931, macro-F1 0.935, subtype 0.867, unit 0.925 (rules alone 0.769). Refitted:
    # kind 0.988, macro-F1 0.990, subtype 0.956, unit 0.925, 2 units where none
    # (unit 0.956 after the unit-convention round)
    Probe("probe10", 0.96, 0.96, 0.92, 0.93, 4, 1, before="0.931 (rules + weights)"),
    # asked to work out the dev set's unit conventions and make two thirds of its complaints
    # need more than a plain unit name; scored before anything was fitted or tuned on it:
    # kind 0.887, macro-F1 0.881, subtype 0.956, unit 0.925 (0.912 before that round's unit
    # rules, which were written from dev and probes 1-10). Refitted and tuned: kind 0.969,
    # unit 0.975
    Probe("probe11", 0.94, 0.94, 0.95, 0.95, 3, 1, before="0.887 (rules + weights)"),
    # asked to be the best stand-in for the unseen set (the dev set's register, difficulty and
    # conventions); scored before anything was fitted or tuned on it, after the unit round:
    # kind 0.906, macro-F1 0.913, subtype 0.822, unit 0.969 (rules alone: kind 0.750).
    # Refitted: kind 0.969, subtype 0.956
    Probe("probe12", 0.94, 0.94, 0.93, 0.95, 2, 1, before="0.906 (rules + weights)"),
    # three more stand-ins, written at once after probe12 was fitted, each with an emphasis
    # (the six S kinds in plain words; the complaint/NONE boundary; D and P in plain words);
    # scored before anything was fitted or tuned on them: kind 0.900 / 0.912 / 0.875,
    # macro-F1 0.899 / 0.910 / 0.874, subtype 0.933 / 0.844 / 0.889, unit 0.938 / 0.938 /
    # 0.931. Refitted and tuned: kind 0.956 / 0.981 / 0.975, unit 0.981 / 0.944 / 0.969
    Probe("probe13", 0.93, 0.93, 0.93, 0.96, 2, 1, before="0.900 (rules + weights)"),
    Probe("probe14", 0.95, 0.95, 0.97, 0.92, 7, 2, before="0.912 (rules + weights)"),
    Probe("probe15", 0.95, 0.95, 0.97, 0.95, 5, 1, before="0.875 (rules + weights)"),
    # two more stand-ins (probe17: a wide variety of district services), scored out of sample
    # after probes 13-15 were fitted: kind 0.931 / 0.900, macro-F1 0.931 / 0.894, subtype
    # 0.889 / 0.978, unit 0.969 / 0.881 (probe17 lacked funeral and tax words). Refitted and
    # tuned: kind 0.975 / 0.981, unit 0.969 / 0.931
    Probe("probe16", 0.95, 0.95, 0.95, 0.95, 3, 1, before="0.931 (rules + weights)"),
    Probe("probe17", 0.95, 0.95, 0.97, 0.91, 1, 1, before="0.900 (rules + weights)"),
    # two more stand-ins (probe19 rural and township-heavy), scored after probes 16-17
    # were fitted: kind 0.956 / 0.956, macro-F1 0.956 / 0.957, subtype 0.933 / 0.933, unit
    # 0.956 / 0.931. Refitted and tuned: kind 0.975 / 0.981, unit 0.981 / 0.950
    Probe("probe18", 0.95, 0.95, 0.97, 0.96, 3, 1, before="0.956 (rules + weights)"),
    Probe("probe19", 0.95, 0.95, 0.95, 0.93, 2, 1, before="0.956 (rules + weights)"),
    # the last round: stand-ins in dev's proportions of units (probe21: city residents),
    # scored after probes 18-19 were fitted: kind 0.950 / 0.919, macro-F1 0.952 / 0.923,
    # subtype 0.867 / 0.889, unit 0.956 / 0.969. Refitted and tuned: kind 0.975 / 0.975,
    # unit 0.975 / 0.981
    Probe("probe20", 0.95, 0.95, 0.95, 0.95, 2, 1, before="0.950 (rules + weights)"),
    Probe("probe21", 0.95, 0.95, 0.97, 0.96, 2, 1, before="0.919 (rules + weights)"),
)


@cache
def rows_of(name: str) -> tuple[dict, ...]:
    text = (EVAL / f"{name}_lines.jsonl").read_text(encoding="utf-8")
    return tuple(json.loads(line) for line in text.splitlines() if line.strip())


@cache
def scored(name: str) -> tuple[tuple[dict, dict], ...]:
    classifier = get_classifier()
    return tuple((row, classifier.classify(row["text"]).to_dict()) for row in rows_of(name))


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_lines_follow_the_label_scheme(probe: Probe) -> None:
    rows = rows_of(probe.name)
    assert [r["id"] for r in rows] == [f"{probe.name}-{n:03d}" for n in range(1, probe.size + 1)]
    canonical = {u.name for u in load_units().all()}
    for r in rows:
        assert set(r) == FIELDS and r["text"].strip(), r["id"]
        assert r["kind"] in KINDS, r["id"]
        assert all(a in KINDS and a not in (r["kind"], "NONE") for a in r["also"]), r["id"]
        if r["kind"] in ("D", "P"):
            assert r["subtype"][0] == r["kind"] and r["subtype"][1:].isdigit(), r["id"]
        else:
            assert r["subtype"] is None, r["id"]
        assert r["unit"] is None or r["unit"] in canonical, r["id"]


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_mix_of_kinds_and_subtypes_and_no_dev_lines(probe: Probe) -> None:
    rows = rows_of(probe.name)
    assert Counter(r["kind"] for r in rows) == dict(probe.mix)
    subtypes = {r["subtype"] for r in rows if r["subtype"]}
    assert subtypes == {f"D{n}" for n in range(1, 7)} | {f"P{n}" for n in range(1, 10)}
    texts = {r["text"] for r in rows}
    assert len(texts) == len(rows)
    dev = {json.loads(x)["text"] for x in DEV_SET.read_text(encoding="utf-8").splitlines() if x}
    assert not dev & texts


def _judged(row: dict, kind: str) -> str:
    """The label a prediction is judged against: a listed secondary kind also counts."""
    return kind if kind in row["also"] else row["kind"]


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_accuracy_floor(probe: Probe) -> None:
    predictions = scored(probe.name)
    pairs = [(_judged(r, p["kind"]), p["kind"]) for r, p in predictions]
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
    where_none = sum(r["unit"] is None and p["unit"] is not None for r, p in predictions)
    summary = (f"{probe.name}: kind={accuracy:.3f} macroF1={macro:.3f} subtype={subtype:.3f} "
               f"unit={unit:.3f} unit_where_none={where_none} (out of sample: {probe.before})")
    assert accuracy >= probe.kind, summary
    assert macro >= probe.macro_f1, summary
    assert subtype >= probe.subtype, summary
    assert unit >= probe.unit, summary
    assert where_none <= probe.max_unit_where_none, summary


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_off_scope_lines_stay_none(probe: Probe) -> None:
    # greetings, thanks, how-to questions, ads, banks/couriers/物业/neighbours/shops: the
    # complaint-shape rule must not pull these in
    leaked = [(r["id"], p["kind"]) for r, p in scored(probe.name)
              if r["kind"] == "NONE" and p["kind"] != "NONE"]
    assert len(leaked) <= probe.max_none_leaks, leaked


def test_spam_names_no_unit() -> None:
    # probes 2–6 carry ads (probe7 has none); an ad never names a unit
    ads = [(r["id"], p["unit"]) for probe in PROBES for r, p in scored(probe.name)
           if r["kind"] == "NONE" and r["unit"] is None
           and any(s in r["text"] for s in ("http", "回收", "加V", "加微信"))]
    assert len(ads) >= 5 and all(unit is None for _id, unit in ads), ads


def test_board_style_suggestions_stay_none():
    # 120 message-board letters that are suggestions or requests, not service failures (a bus
    # line, street lights, a developer, owed wages), beside 80 complaints in the same style:
    # without them the fitted weights took such letters for complaints (docs/classifier.md)
    rows = rows_of("board")
    assert len(rows) == 200 and Counter(r["kind"] for r in rows)["NONE"] == 120
    classifier = get_classifier()
    kinds = [(r, classifier.classify(r["text"]).kind) for r in rows]
    leaked = [r["id"] for r, k in kinds if r["kind"] == "NONE" and k != "NONE"]
    missed = [r["id"] for r, k in kinds if r["kind"] != "NONE" and k == "NONE"]
    assert len(leaked) <= 8, leaked  # reached 6
    assert len(missed) <= 3, missed  # reached 1
