"""``python -m bot simulate``: a citizen's terminal chat through the real webhook.

Piped stdin against a served instance (AES config, so every line is signed and
encrypted), plus the line reader's end-of-input behaviour.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot import simulate
from bot.config import parse_text
from tests.protocol_client import ROOT, ServedBot, free_port

TOKEN = "SimulateToken01"
AES_KEY = "U2ltdWxhdGVDaGF0S2V5Rm9yQ29tcGxhaW50RGVzazA"
NUMBER = re.compile(r"GF\d{8}-\d{4}")


def write_config(directory: Path, mode: str = "", port: int = 8080) -> Path:
    path = directory / "sim.toml"
    path.write_text(f"""
[wechat]
token = "{TOKEN}"
appid = "wxsimulate0000001"
encoding_aes_key = "{AES_KEY}"
mode = "{mode}"
fake_api = false
[storage]
path = "{directory / 'sim.db'}"
[server]
port = {port}
[scheduler]
enabled = false
""", "utf-8")
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory):  # noqa: ANN001, ANN201
    directory = tmp_path_factory.mktemp("simulate")
    bot = ServedBot(["--config", str(write_config(directory, "safe"))], directory)
    try:
        bot.wait_healthy()
        yield bot, directory
    finally:
        bot.stop()


def run_simulate(config: Path, stdin: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", "simulate", "--config", str(config), *args],
        input=stdin, capture_output=True, text=True, timeout=60, cwd=config.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_piped_chat_through_the_safe_mode_webhook(served):
    bot, directory = served
    stdin = "/subscribe\n区人社局窗口的人不理人，问了三遍都不搭理我\n\n取消\n帮助\n/image\n"
    result = run_simulate(directory / "sim.toml", stdin, "--url", bot.url,
                          "--openid", "oSimPipe0001")
    assert result.returncode == 0, result.stderr
    replies = [line for line in result.stdout.splitlines() if line.startswith("平台> ")]
    assert len(replies) == 5, result.stdout  # the empty line is not sent
    assert "投诉" in replies[0] and NUMBER.search(replies[1])
    assert "使用说明" in result.stdout and NUMBER.search(replies[4])
    assert "（safe）" in result.stdout


def test_end_of_input_ends_the_chat_cleanly(served):
    bot, directory = served
    result = run_simulate(directory / "sim.toml", "", "--url", bot.url)
    assert result.returncode == 0 and "Traceback" not in result.stderr


def test_quit_stops_before_later_lines(served):
    bot, directory = served
    result = run_simulate(directory / "sim.toml", "帮助\n/quit\n帮助\n", "--url", bot.url)
    assert result.returncode == 0
    assert result.stdout.count("平台> ") == 1


def test_no_server_is_a_clear_error_not_a_traceback(tmp_path):
    config = write_config(tmp_path, port=free_port())
    result = run_simulate(config, "帮助\n")
    assert result.returncode == 1
    assert "无法连接服务器" in result.stderr and "Traceback" not in result.stderr


def test_a_refused_message_is_reported_and_the_chat_goes_on(served, tmp_path):
    bot, _ = served
    wrong = write_config(tmp_path).read_text("utf-8").replace(TOKEN, "WrongToken")
    (tmp_path / "wrong.toml").write_text(wrong, "utf-8")
    result = run_simulate(tmp_path / "wrong.toml", "帮助\n帮助\n", "--url", bot.url)
    assert result.returncode == 0
    assert result.stdout.count("HTTP 403") == 2


def test_terminal_input_ends_on_ctrl_d(monkeypatch):
    answers = iter(["帮助", "  ", "投诉内容"])

    def fake_input(prompt: str) -> str:
        try:
            return next(answers)
        except StopIteration:
            raise EOFError from None

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("builtins.input", fake_input)
    assert list(simulate.lines(Terminal())) == ["帮助", "投诉内容"]


def test_plaintext_config_sends_plaintext(tmp_path):
    config = parse_text(write_config(tmp_path, "plaintext").read_text("utf-8"), "sim")
    assert simulate.client_for(config, "http://127.0.0.1:1").crypto is None
    config = parse_text(write_config(tmp_path, "compatible").read_text("utf-8"), "sim")
    assert simulate.client_for(config, "http://127.0.0.1:1").crypto is not None


@pytest.mark.parametrize(("line", "msg_type", "field", "value"), [
    ("/subscribe", "event", "Event", "subscribe"),
    ("/click query", "event", "EventKey", "QUERY"),
    ("/voice 拖了三个月", "voice", "Recognition", "拖了三个月"),
    ("/location 永丰街道", "location", "Label", "永丰街道"),
    ("区人社局不理人", "text", "Content", "区人社局不理人"),
])
def test_commands_become_wechat_messages(line, msg_type, field, value):
    built_type, fields = simulate.build(line)
    assert (built_type, fields[field]) == (msg_type, value)
