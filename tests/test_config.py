"""Configuration: where it is found, what is refused (naming key and file), what is hidden."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

import pytest

from bot import config as config_module
from bot.config import DEMO, SCHEMA, ConfigError, load, parse_text

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
TOKEN = "TopSecretToken42"
KEY = "Q29tcGxhaW50RGVza0NvbmZpZ1Rlc3RLZXkwMDAwMDA"


def toml(extra: str = "", wechat: str = "") -> str:
    return f'[wechat]\ntoken = "{TOKEN}"\n{wechat}\n{extra}'


def refused(text: str) -> str:
    with pytest.raises(ConfigError) as error:
        parse_text(text, "/etc/desk/config.toml")
    message = str(error.value)
    assert "/etc/desk/config.toml" in message
    assert TOKEN not in message and KEY not in message
    return message


# --- where the config comes from ----------------------------------------------------------

def write(path: Path, token: str) -> Path:
    path.write_text(f'[wechat]\ntoken = "{token}"\n', "utf-8")
    return path


def test_lookup_order_flag_then_env_then_cwd_then_demo(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BOT_CONFIG", raising=False)
    assert load().source == DEMO and load().is_demo
    write(tmp_path / "config.toml", "from-cwd")
    assert load()["wechat.token"] == "from-cwd"
    monkeypatch.setenv("BOT_CONFIG", str(write(tmp_path / "env.toml", "from-env")))
    assert load()["wechat.token"] == "from-env"
    flag = write(tmp_path / "flag.toml", "from-flag")
    assert load(str(flag))["wechat.token"] == "from-flag"
    assert load(str(flag)).source == str(flag)


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "nope.toml"))):
        load(tmp_path / "nope.toml")


def test_the_embedded_demo_config_is_valid_and_compatible_mode():
    demo = parse_text(config_module.demo_text(), DEMO)
    assert demo.message_mode == "compatible" and demo["wechat.fake_api"] is True


def test_defaults_fill_every_key_left_out():
    cfg = parse_text(toml(), "f.toml")
    assert set(cfg) == {key.name for key in SCHEMA}
    assert cfg["wechat.plaintext_max_age_seconds"] == 600
    assert cfg["wechat.max_body_bytes"] == 1024 * 1024
    assert cfg["wechat.reply_max_bytes"] == 2000
    assert cfg.message_mode == "plaintext"


# --- what is refused ------------------------------------------------------------------------

def test_missing_token_names_the_key():
    assert "wechat.token" in refused('[wechat]\nappid = "wx1"\n')


def test_empty_token_is_refused():
    assert "wechat.token" in refused('[wechat]\ntoken = "  "\n')


@pytest.mark.parametrize("key", [KEY[:42], KEY + "A", KEY[:42] + "-", KEY[:42] + "="])
def test_malformed_aes_key_is_refused(key):
    message = refused(toml(wechat=f'appid = "wx1"\nencoding_aes_key = "{key}"'))
    assert "wechat.encoding_aes_key" in message and key not in message


@pytest.mark.parametrize(("extra", "key"), [
    ("[server]\nport = \"8080\"", "server.port"),
    ("[server]\nport = 8080.0", "server.port"),
    ("[server]\nport = true", "server.port"),
    ("[server]\nport = 70000", "server.port"),
    ("[scheduler]\nenabled = 1", "scheduler.enabled"),
    ("[leading_group]\nopenids = \"oOne\"", "leading_group.openids"),
    ("[leading_group]\nopenids = [\"oOne\", 2]", "leading_group.openids"),
    ("[storage]\npath = \"\"", "storage.path"),
    ("[scheduler]\ntimezone = \"Mars/Olympus\"", "scheduler.timezone"),
    ("[logging]\nlevel = \"LOUD\"", "logging.level"),
    ("[deadlines.kinds.S9]\nanswer_working_days = 3", "deadlines.kinds"),
    ("[deadlines.kinds.S1]\nanswer_days = 3", "deadlines.kinds"),
    ("[deadlines.kinds.S1]\nanswer_working_days = 0", "deadlines.kinds"),
    ("[deadlines.kinds.S1]\nsign_working_days = \"2\"", "deadlines.kinds"),
])
def test_wrong_types_and_values_name_the_key(extra, key):
    assert f"'{key}'" in refused(toml(extra))


def test_per_kind_deadline_overrides_are_accepted():
    cfg = parse_text(toml("[deadlines.kinds.S1]\nanswer_working_days = 3"), "t")
    assert cfg["deadlines.kinds"] == {"S1": {"answer_working_days": 3}}


def test_a_table_given_as_a_plain_value_names_the_table():
    assert "'storage' must be a table" in refused('storage = "data.db"\n' + toml())


def test_unknown_nested_table_is_only_a_warning(caplog):
    caplog.set_level(logging.WARNING, logger="bot.config")
    cfg = parse_text(toml("[extra]\nanswer = 42\n"), "f.toml")
    assert cfg["wechat.token"] == TOKEN
    assert any("extra.answer" in r.getMessage() for r in caplog.records)
    assert not any("42" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("mode", ["safe", "compatible"])
def test_encrypted_modes_need_an_aes_key(mode):
    assert "wechat.mode" in refused(toml(wechat=f'mode = "{mode}"'))


def test_aes_key_needs_the_appid():
    assert "wechat.appid" in refused(toml(wechat=f'encoding_aes_key = "{KEY}"'))


def test_bad_toml_names_the_file_and_the_line():
    message = refused(f'[wechat\ntoken = "{TOKEN}"\n')
    assert "TOML" in message and "line 1" in message


@pytest.mark.parametrize(("wechat", "mode"), [
    ("", "plaintext"),
    (f'appid = "wx1"\nencoding_aes_key = "{KEY}"', "compatible"),
    (f'appid = "wx1"\nencoding_aes_key = "{KEY}"\nmode = "safe"', "safe"),
    (f'appid = "wx1"\nencoding_aes_key = "{KEY}"\nmode = "plaintext"', "plaintext"),
])
def test_message_mode(wechat, mode):
    assert parse_text(toml(wechat=wechat), "f.toml").message_mode == mode


def test_redacted_settings_hide_every_secret():
    cfg = parse_text(toml(wechat=f'appid = "wx1"\nencoding_aes_key = "{KEY}"\n'
                               'secret = "AppSecret9"\n[console]\nsecret_key = "cookie-key"'),
                     "f.toml")
    shown = repr(cfg.redacted())
    for secret in (TOKEN, KEY, "AppSecret9", "cookie-key"):
        assert secret not in shown
    assert "wx1" in shown


# --- the example file --------------------------------------------------------------------------

def test_the_example_config_parses_and_validates():
    cfg = load(EXAMPLE)
    assert cfg.source == str(EXAMPLE) and cfg.message_mode == "plaintext"
    # the example carries the plan's timetable: four phases and eight targets
    assert len(cfg["campaign.phases"]) == 4 and len(cfg["campaign.targets"]) == 8


def test_the_example_config_shows_every_key_with_its_default_and_a_comment():
    text = EXAMPLE.read_text("utf-8")
    flat = parse_text(text, "example")
    raw = tomllib.loads(text)
    for key in SCHEMA:
        table, _, name = key.name.rpartition(".")
        if key.name in ("campaign.phases", "campaign.targets"):
            assert re.search(rf"^\[\[{re.escape(key.name)}\]\]$", text, re.M), key.name
            continue
        assert table in raw and name in _table(raw, table), f"{key.name} not in the example"
        if not key.secret and key.name != "wechat.token":
            assert flat[key.name] == key.default, f"{key.name}: example differs from default"
        entry = rf"^\[{re.escape(key.name)}\]$" if dict in key.types else rf"^{name} = "
        line = re.search(rf"^\[{re.escape(table)}\]$(.*?){entry}", text, re.M | re.S)
        assert line and "\n#" in line.group(1), f"{key.name} has no comment"


def _table(raw: dict, dotted: str) -> dict:
    for part in dotted.split("."):
        raw = raw[part]
    return raw
