"""Fitted weights (keywords/data/fitted.toml): validation, the blend with the rules, `keywords fit`.

The weights exist because hand-written word families did not carry from one writer's voice
to the next (docs/classifier.md); these tests pin what the blend may and may not do.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from keywords import cli, get_classifier
from keywords.fitted import Fitted, grams
from keywords.rules import FITTED, load_rules
from keywords.tomlfile import DATA_DIR, DataError

EVAL = Path(__file__).resolve().parent.parent / "keywords" / "eval"

# a hand-made weight file: 瞅 (to stare at) is strong S4 evidence, nothing else is weighted
TINY = """[fitted]
C = 1
rules_weight = 1
weak_bonus = 0.1
max_chars = 120
min_chars = 10
sure = 0.7

[intercept]
S1 = 0
S2 = 0
S3 = 0
S4 = 0
S5 = 0
S6 = 0
D = 0
P = 0
NONE = 1

[S4]
"瞅" = 6
"""


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(DATA_DIR, d)
    return d


def with_fitted(data_dir: Path, text: str):
    (data_dir / FITTED).write_text(text, encoding="utf-8")
    return get_classifier(data_dir)


def problems_of(data_dir: Path) -> list[str]:
    with pytest.raises(DataError) as err:
        load_rules(data_dir)
    return err.value.problems


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                if needle in line)


# --- the blend ---------------------------------------------------------------------------

def test_weights_decide_when_no_listed_word_does(data_dir):
    # no keyword names staring at a phone: the rules alone say NONE for lack of evidence
    text = "窗口那个大姐一直瞅着手机"
    (data_dir / FITTED).unlink(missing_ok=True)
    assert get_classifier(data_dir).classify(text).kind == "NONE"
    result = with_fitted(data_dir, TINY).classify(text)
    assert result.kind == "S4"
    assert "≈瞅" in result.matched  # the decision shows the fitted string that made it


def test_sure_rules_are_not_overturned_by_a_weak_preference(data_dir):
    # a listed S3 phrase with a high confidence beats a fitted lean towards S4
    clf = with_fitted(data_dir, TINY.replace('"瞅" = 6', '"瞅" = 1.5'))
    result = clf.classify("窗口的人态度恶劣，还骂人，瞅都不瞅我")
    assert result.kind == "S3"


def test_spam_stays_none_whatever_the_weights(data_dir):
    clf = with_fitted(data_dir, TINY.replace('"瞅" = 6', '"瞅" = 40'))
    result = clf.classify("瞅瞅 高价回收旧手机 加V 123456")
    assert result.kind == "NONE"


def test_long_letters_are_left_to_the_rules(data_dir):
    # message-board letters are mostly public suggestions; weights fitted on short messages
    # over-reached there, so beyond max_chars only the rules decide
    letter = "尊敬的领导您好，" + "小区门口的路灯坏了很久，晚上出行很不方便，" * 7 + "瞅着就难受"
    clf = with_fitted(data_dir, TINY)
    assert clf.classify(letter).kind == "NONE"
    clf = with_fitted(data_dir, TINY.replace("max_chars = 120", "max_chars = 500"))
    clf.maybe_reload(force=True)
    assert clf.classify(letter).kind == "S4"


def test_edited_weights_are_picked_up_without_restart(data_dir):
    clf = with_fitted(data_dir, TINY)
    text = "窗口那个大姐一直瞅着手机"
    assert clf.classify(text).kind == "S4"
    path = data_dir / FITTED
    path.write_text(TINY.replace('"瞅" = 6', '"瞅" = -6'), encoding="utf-8")
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    clf._checked -= 2  # the once-a-second check is due
    assert clf.classify(text).kind == "NONE"


def test_subtype_is_chosen_within_the_kind_leaning_to_the_rules():
    fitted = Fitted({}, {}, 1.0, 0.1, 120, 10, 0.7, subtype_bonus=0.6)
    score = {"D1": 0.0, "D2": 0.0, "D3": 0.0, "D4": 0.0, "D5": 0.0, "D6": 3.0, "P1": 9.0}
    assert fitted.subtype(score, "D", None) == "D6"  # P1 scores higher but is not a D
    assert fitted.subtype(score, "D", "D2") == "D6"  # the weights are sure: they win
    score["D6"] = 0.5
    assert fitted.subtype(score, "D", "D2") == "D2"  # a slight lean loses to the rules
    assert fitted.subtype({"S1": 1.0}, "D", "D4") == "D4"  # no sub-type weights: the rules'


def test_shipped_subtype_weights_name_a_subtype_the_words_miss(data_dir):
    # 下放 says power list (P) but no listed word says which failure: the fitted P2 strings
    # (delegated to the township, not taken up there) do, and are shown
    text = "镇里说这个事早下放了，可镇上没人会办，又让我回区里"
    (data_dir / FITTED).unlink()
    rules_only = get_classifier(data_dir).classify(text)
    assert rules_only.kind == "P" and rules_only.subtype is None
    result = get_classifier(DATA_DIR).classify(text)
    assert result.kind == "P" and result.subtype == "P2", result
    assert any(w.startswith("≈") for w in result.matched)


def test_features_are_every_one_to_three_character_string():
    assert sorted(grams("办证难")) == sorted(["办", "证", "难", "办证", "证难", "办证难"])


# --- validation --------------------------------------------------------------------------

@pytest.mark.parametrize(("edit", "needle", "message"), [
    (lambda t: t + '"拖" = "high"\n', '"拖" = "high"', "bad weight"),
    (lambda t: t + '"一直拖着" = 2\n', '"一直拖着"', "fitted strings are 1–3 characters"),
    (lambda t: t + '\n[S9]\n"拖" = 1\n', "[S9]", "unknown kind or sub-type [S9]"),
    (lambda t: t.replace("weak_bonus = 0.1", "weak_bonus = -1"), "weak_bonus", "must be a number"),
    (lambda t: t.replace("max_chars = 120", "max_char = 120"), "max_char =", "unknown setting"),
    (lambda t: t.replace("P = 0\n", ""), "[intercept]", "lacks P"),
    (lambda t: t + '\n[D2]\n"收费" = 1\n', "[intercept]", "lacks D1, D2"),
])
def test_check_names_file_and_line(data_dir, capsys, edit, needle, message):
    path = data_dir / FITTED
    path.write_text(edit(TINY), encoding="utf-8")
    found = [p for p in problems_of(data_dir) if message in p]
    assert found and found[0].startswith(f"{path}:{line_of(path, needle)}:"), found
    assert cli.main(["keywords", "check", "--dir", str(data_dir)]) == 1
    assert message in capsys.readouterr().err


def test_shipped_weights_were_fitted_on_the_current_labelled_lines():
    # adding or editing labelled lines without running `keywords fit` leaves stale weights
    header = (DATA_DIR / FITTED).read_text("utf-8").splitlines()[1]
    counts = dict(re.findall(r"([\w.-]+\.jsonl) (\d+)", header))
    for path in sorted(EVAL.glob("*_lines.jsonl")):
        lines = sum(1 for x in path.read_text("utf-8").splitlines() if x.strip())
        assert counts.get(path.name) == str(lines), (path.name, header)
    assert counts.get("complaints-dev.jsonl") == "420"


# --- keywords fit -------------------------------------------------------------------------

def test_fit_writes_a_valid_readable_file(tmp_path, data_dir, capsys):
    sets = tmp_path / "sets"
    sets.mkdir()
    for name in ("probe_lines.jsonl", "probe6_lines.jsonl"):
        shutil.copy(EVAL / name, sets / name)
    out = data_dir / FITTED
    code = cli.main(["keywords", "fit", "--dev", str(tmp_path / "absent.jsonl"),
                     "--eval-dir", str(sets), "--exclude", "probe6", "--out", str(out),
                     "--dir", str(data_dir)])
    printed = capsys.readouterr().out
    assert code == 0 and "from 160 lines (probe_lines.jsonl 160)" in printed
    text = out.read_text("utf-8")
    assert "probe6" not in text.splitlines()[1]
    rules = load_rules(data_dir)
    assert rules.fitted is not None and len(rules.fitted.weights) > 50
    # the strongest S3 strings of 160 lines include a character of scolding or rudeness
    s3 = text.split("[S3]\n", 1)[1].split("\n\n", 1)[0].splitlines()[:15]
    assert any(ch in line for line in s3 for ch in "骂凶吼态度"), s3


def test_fit_learns_from_the_office_corrections(tmp_path, capsys):
    # the kind the office set by reclassifying is a label like any other
    from tests.test_keywords import _corrections_db

    db = tmp_path / "bot.db"
    _corrections_db(db)
    sets = tmp_path / "sets"
    sets.mkdir()
    shutil.copy(EVAL / "probe_lines.jsonl", sets / "probe_lines.jsonl")
    out = tmp_path / "fitted.toml"
    code = cli.main(["keywords", "fit", "--dev", str(tmp_path / "absent.jsonl"),
                     "--eval-dir", str(sets), "--db", str(db), "--out", str(out)])
    assert code == 0 and "(probe_lines.jsonl 160, corrections 4)" in capsys.readouterr().out
    s4 = out.read_text("utf-8").split("[S4]\n", 1)[1].split("\n\n", 1)[0]
    assert '"直播"' in s4 or '"带货"' in s4  # seen only in the S4 corrections


def test_corrections_give_their_sub_type_when_it_fits_the_kind(tmp_path):
    import sqlite3

    from keywords.suggest import read_corrected_labels
    from tests.test_keywords import _corrections_db

    db = tmp_path / "bot.db"
    _corrections_db(db)
    con = sqlite3.connect(db)
    con.execute("INSERT INTO corrections (number, text, new_kind, new_subtype) VALUES "
                "('GF1', '一个月来查五回', 'D', 'D6'), ('GF2', '网上状态不更新', 'P', 'D4')")
    con.commit()
    con.close()
    labels = read_corrected_labels(db)
    assert ("一个月来查五回", "D", "D6") in labels
    assert ("网上状态不更新", "P", None) in labels  # D4 is not a P sub-type: dropped
    assert ("上班直播带货被我看见了", "S4", None) in labels


def test_fit_refuses_too_few_lines(tmp_path, capsys):
    few = tmp_path / "sets"
    few.mkdir()
    (few / "few_lines.jsonl").write_text(
        "\n".join(json.dumps({"text": f"第{i}句", "kind": "S1"}) for i in range(10)), "utf-8")
    code = cli.main(["keywords", "fit", "--dev", str(tmp_path / "absent.jsonl"),
                     "--eval-dir", str(few), "--out", str(tmp_path / "f.toml")])
    assert code == 1 and "too few labelled lines" in capsys.readouterr().err
    assert not (tmp_path / "f.toml").exists()


def test_fit_names_a_bad_line(tmp_path, capsys):
    bad = tmp_path / "sets"
    bad.mkdir()
    (bad / "bad_lines.jsonl").write_text('{"text": "等了三个月", "kind": "S9"}\n', "utf-8")
    code = cli.main(["keywords", "fit", "--dev", str(tmp_path / "absent.jsonl"),
                     "--eval-dir", str(bad), "--out", str(tmp_path / "f.toml")])
    err = capsys.readouterr().err
    assert code == 1 and f"{bad / 'bad_lines.jsonl'}:1: unknown kind 'S9'" in err
