"""Keyword data consistency, `keywords check`, hot reload, `keywords suggest`, classify CLI."""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from keywords import cli, get_classifier, load_taxonomy, load_units
from keywords.rules import SECTIONS, kind_of, load_rules
from keywords.taxonomy import KIND_CODES, SUBTYPE_CODES
from keywords.tomlfile import DATA_DIR
from tests.shared_data import UNITS_TSV


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(DATA_DIR, d)
    return d


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# --- consistency of the shipped data -------------------------------------------------

def test_every_kind_has_keywords_explain_and_lead_units():
    rules = load_rules()
    tax = load_taxonomy()
    for code in KIND_CODES:
        k = tax.kind(code)
        assert k.name and k.group and k.explain.endswith("。"), code
        if code != "NONE":
            assert k.lead_units, code
            assert any(kind_of(t.section) == code for t in rules.terms), code
    assert rules.none_cues
    assert set(tax.subtypes) == set(SUBTYPE_CODES)
    assert tax.kind("P").lead_units == ("区政府办公室", "区委编办", "区法制办", "区行政服务中心",
                                        "区信息中心")
    assert tax.kind("S1").group == "服务不到位"


def test_every_subtype_has_keywords():
    rules = load_rules()
    for code in SUBTYPE_CODES:
        assert any(t.section == code for t in rules.terms), code


def test_aliases_unique_and_services_known():
    units = load_units()
    owner: dict[str, str] = {}
    for u in units.all():
        for a in (*u.aliases, *u.weak):
            assert owner.setdefault(a, u.name) == u.name, a
        assert units.canonical(u.name) == u.name
    rules = load_rules()
    for service, unit in rules.services.items():
        assert units.get(unit) is not None, service
    assert units.canonical("国税") == "区税务局" and units.canonical("工商银行") is None


def test_units_match_shared_units_tsv():
    # the directory starts from the shared units.tsv: every canonical name and alias is kept
    tsv = UNITS_TSV
    units = load_units()
    for line in tsv.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        name, kind, aliases = line.split("\t")
        assert units.get(name) is not None and units.get(name).kind == kind
        for a in aliases.split(","):
            assert units.canonical(a) == name, a


def test_check_passes_on_shipped_data(capsys):
    code, out, _ = run_cli(["keywords", "check"], capsys)
    assert code == 0 and out.startswith("ok")


# --- keywords check catches each error type, naming file and line --------------------

def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text("utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def test_check_unknown_unit(data_dir, capsys):
    services = data_dir / "services.toml"
    _append(services, '\n["区火星局"]\nservices = ["火星签证"]\n')
    code, _, err = run_cli(["keywords", "check", "--dir", str(data_dir)], capsys)
    assert code == 1
    assert f"{services}:{_line_of(services, '区火星局')}: unknown unit" in err


def test_check_keyword_under_two_kinds(data_dir, capsys):
    s = data_dir / "keywords" / "S.toml"
    text = s.read_text("utf-8").replace('[S4]  #', '[S4]  #\n"故意刁难" = 2\n#', 1)
    s.write_text(text, "utf-8")
    code, _, err = run_cli(["keywords", "check", "--dir", str(data_dir)], capsys)
    assert code == 1
    line = next(i for i, x in enumerate(text.splitlines(), 1) if x.startswith('"故意刁难" = 2'))
    assert f"{s}:{line}: keyword '故意刁难' listed under two kinds" in err


def test_check_empty_kind(data_dir, capsys):
    extra = data_dir / "keywords" / "X.toml"
    extra.write_text("# an empty kind\n[S2]\n", "utf-8")
    code, _, err = run_cli(["keywords", "check", "--dir", str(data_dir)], capsys)
    assert code == 1
    assert f"{extra}:2: kind [S2] has no keywords" in err


def test_check_bad_weight(data_dir, capsys):
    d = data_dir / "keywords" / "D.toml"
    text = d.read_text("utf-8").replace('"乱收费" = 4', '"乱收费" = "high"')
    d.write_text(text, "utf-8")
    code, _, err = run_cli(["keywords", "check", "--dir", str(data_dir)], capsys)
    assert code == 1
    assert f"{d}:{_line_of(d, '乱收费')}: bad weight 'high'" in err


def test_check_toml_syntax_error(data_dir, capsys):
    c = data_dir / "cues.toml"
    _append(c, '\n[broken\n')
    code, _, err = run_cli(["keywords", "check", "--dir", str(data_dir)], capsys)
    assert code == 1 and str(c) in err and "line" in err


# --- hot reload -------------------------------------------------------------------------

def test_hot_reload_sees_edited_keyword_file(data_dir):
    (data_dir / "fitted.toml").unlink()  # the rules alone: the edited word is what decides
    clf = get_classifier(data_dir)
    assert clf is not get_classifier()
    text = "窗口那位大姐一直在绣十字绣"
    before = clf.classify(text)
    s = data_dir / "keywords" / "S.toml"
    s.write_text(s.read_text("utf-8").replace("[S4]  #", '[S4]\n"绣十字绣" = 4\n#', 1), "utf-8")
    os.utime(s, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    clf._checked -= 2  # the once-a-second check is due
    after = clf.classify(text)
    assert before.kind != "S4" and after.kind == "S4" and "绣十字绣" in after.matched


def test_failed_reload_keeps_old_rules(data_dir, caplog):
    clf = get_classifier(data_dir)
    s = data_dir / "keywords" / "S.toml"
    s.write_text(s.read_text("utf-8") + '\n"坏" = -1\n', "utf-8")
    os.utime(s, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    clf._checked -= 2
    assert clf.classify("派出所的人上班打麻将").kind == "S4"
    assert "reload failed" in caplog.text


# --- keywords suggest --------------------------------------------------------------------

def _corrections_db(path: Path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE corrections (id INTEGER PRIMARY KEY, number TEXT, text TEXT, "
                "old_kind TEXT, new_kind TEXT, old_subtype TEXT, new_subtype TEXT, actor TEXT, "
                "at TEXT)")
    rows = [("窗口的人上班时间在直播带货", "S4"), ("工作人员在窗口里直播带货，不理人", "S4"),
            ("上班直播带货被我看见了", "S4"), ("办证被要求买他们的土特产", "S6")]
    for i, (text, kind) in enumerate(rows):
        con.execute("INSERT INTO corrections (number, text, old_kind, new_kind, actor, at) "
                    "VALUES (?, ?, 'NONE', ?, 'office', '2026-11-25')", (f"GF20261125-{i:04d}",
                                                                        text, kind))
    con.commit()
    con.close()


def test_suggest_proposes_new_words(tmp_path, capsys):
    db = tmp_path / "bot.db"
    _corrections_db(db)
    code, out, _ = run_cli(["keywords", "suggest", "--db", str(db)], capsys)
    assert code == 0
    s4 = next(line for line in out.splitlines() if line.startswith("S4:"))
    assert "直播带货(3)" in s4 or "直播(3)" in s4
    assert "上班时间" not in s4  # already a keyword of S4


def test_suggest_without_table(tmp_path, capsys):
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    code, _, err = run_cli(["keywords", "suggest", "--db", str(db)], capsys)
    assert code == 1 and "no table 'corrections'" in err


# --- classify CLI ---------------------------------------------------------------------------

def test_classify_cli_text_and_jsonl(capsys, monkeypatch):
    code, out, _ = run_cli(["classify", "派出所的民警骂人"], capsys)
    obj = json.loads(out)
    assert code == 0 and obj["kind"] == "S3" and obj["unit"] == "区公安分局"
    assert "派出所" in out  # ensure_ascii=False
    monkeypatch.setattr("sys.stdin", io.StringIO('{"id": 7, "text": "你好"}\n'))
    code, out, _ = run_cli(["classify", "--jsonl"], capsys)
    obj = json.loads(out)
    assert obj["id"] == 7 and obj["kind"] == "NONE" and set(obj) >= {"kind", "subtype", "unit",
                                                                    "confidence", "matched"}
    monkeypatch.setattr("sys.stdin", io.StringIO("你好\n社保局的人上班打麻将\n"))
    code, out, _ = run_cli(["classify"], capsys)
    assert [json.loads(x)["kind"] for x in out.splitlines()] == ["NONE", "S4"]


def test_register_adds_subcommands_to_a_parent_parser():
    import argparse

    parser = argparse.ArgumentParser(prog="bot")
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["keywords", "check"])
    assert callable(args.func)
    assert set(SECTIONS) >= {"S1", "D", "P9"}
