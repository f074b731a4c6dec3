"""``python -m bot user …`` and ``unit …``: accounts, tokens, liaisons."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from storage import units, users
from storage.db import close_all, get_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config_file(tmp_path) -> Path:  # noqa: ANN001
    path = tmp_path / "bot.toml"
    path.write_text(
        f'[wechat]\ntoken = "t"\n[storage]\npath = "{tmp_path / "c.db"}"\n'
        '[units.liaisons]\n"区住建局" = ["oFromConfig"]\n', "utf-8")
    yield path
    close_all()


def db_of(config_file: Path):  # noqa: ANN201
    return get_db(config_file.parent / "c.db")


def run(config_file: Path, *argv: str, stdin: str = "") -> int:
    """One command in this process with ``stdin`` as a pipe (not a terminal)."""
    saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        return main([*argv, "--config", str(config_file)])
    finally:
        sys.stdin = saved


def test_user_add_with_token_prints_the_token_last(config_file, capsys):  # noqa: ANN001
    code = run(config_file, "user", "add", "rsj", "--role", "unit", "--unit", "社保局",
               "--token", stdin="password1234\n")
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    user = users.user_for_token(db_of(config_file), lines[-1])
    assert (user["username"], user["role"], user["unit"]) == ("rsj", "unit", "区人社局")
    assert users.authenticate(db_of(config_file), "rsj", "password1234")


def test_user_add_refusals(config_file, capsys):  # noqa: ANN001
    assert run(config_file, "user", "add", "a1", "--role", "unit", stdin="password1234\n") == 1
    assert run(config_file, "user", "add", "a2", "--role", "unit", "--unit", "火星办",
               stdin="password1234\n") == 1
    assert run(config_file, "user", "add", "a3", "--role", "office", stdin="short\n") == 1
    assert run(config_file, "user", "add", "a4", "--role", "office", stdin="") == 1
    assert run(config_file, "user", "add", "a5", "--role", "leader", "--unit", "区人社局",
               stdin="password1234\n") == 1
    assert "error" in capsys.readouterr().err
    assert users.get_user(db_of(config_file), "a1") is None


def test_password_is_prompted_twice_on_a_terminal(config_file, monkeypatch, capsys):  # noqa: ANN001
    answers = iter(["password1234", "password1234", "password5678", "different5678"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr(sys, "stdin", _Terminal())
    assert main(["user", "add", "boss", "--role", "office", "--config", str(config_file)]) == 0
    assert main(["user", "passwd", "boss", "--config", str(config_file)]) == 1
    assert "differ" in capsys.readouterr().err
    assert users.authenticate(db_of(config_file), "boss", "password1234")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_token_passwd_disable_enable(config_file, capsys):  # noqa: ANN001
    run(config_file, "user", "add", "office1", "--role", "office", stdin="password1234\n")
    assert run(config_file, "user", "token", "office1") == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    db = db_of(config_file)
    assert users.user_for_token(db, token)["username"] == "office1"
    assert run(config_file, "user", "passwd", "office1", stdin="newpassword99\n") == 0
    assert users.authenticate(db, "office1", "newpassword99")
    assert run(config_file, "user", "disable", "office1") == 0
    assert users.user_for_token(db, token) is None
    assert users.authenticate(db, "office1", "newpassword99") is None
    assert run(config_file, "user", "token", "office1") == 1
    assert run(config_file, "user", "enable", "office1") == 0
    assert users.user_for_token(db, token) is None  # revoked tokens stay revoked
    assert run(config_file, "user", "token", "nobody") == 1
    capsys.readouterr()
    assert run(config_file, "user", "list") == 0
    assert "office1\toffice\t-\tactive" in capsys.readouterr().out


def test_unit_liaisons(config_file, capsys):  # noqa: ANN001
    assert run(config_file, "unit", "add-liaison", "人社局", "oLiaison1") == 0
    assert run(config_file, "unit", "add-liaison", "区人社局", "oLiaison1") == 0
    assert "already" in capsys.readouterr().out
    db = db_of(config_file)
    assert units.stored_liaisons(db, "区人社局") == ["oLiaison1"]
    assert run(config_file, "unit", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert "区人社局\tunit\toLiaison1*" in listing
    assert any(line.startswith("区住建局\t") and "oFromConfig" in line for line in listing)
    assert run(config_file, "unit", "remove-liaison", "区住建局", "oFromConfig") == 1
    assert "config" in capsys.readouterr().err
    assert run(config_file, "unit", "remove-liaison", "区人社局", "oLiaison1") == 0
    assert units.stored_liaisons(db, "区人社局") == []
    assert run(config_file, "unit", "add-liaison", "火星办", "oX") == 1


def test_user_add_through_a_real_process(config_file):  # noqa: ANN001
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "user", "add", "lead1", "--role", "leader", "--token",
         "--config", str(config_file)],
        input="password1234\n", capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
        check=False)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert users.user_for_token(db_of(config_file), token)["role"] == "leader"
