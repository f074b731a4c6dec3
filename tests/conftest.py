"""Shared fixtures: a config on a temporary database, the app, a chat client."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import create_app
from bot.config import Config, parse_text
from storage.db import close_all, get_db
from tests.chat import Chat

TOKEN = "testtoken"


def make_config(tmp_path, extra: str = "", aes_key: str = "",  # noqa: ANN001
                surge: str = "off") -> Config:
    """A validated config on a database in ``tmp_path``; ``extra`` is appended TOML.

    Surge mode is off by default: tests send far more than ``surge.per_second``
    messages a second and expect full answers (tests/test_surge.py covers the modes).
    """
    text = f"""
[wechat]
token = "{TOKEN}"
appid = "wx1234567890abcdef"
secret = "s3cret"
encoding_aes_key = "{aes_key}"
api_base_url = "http://127.0.0.1:9/cgi-bin/"

[storage]
path = "{tmp_path / 'test.db'}"

[scheduler]
enabled = false

[logging]
json = false

[surge]
mode = "{surge}"
{extra}
"""
    return parse_text(text, "test-config")


def campaign_example() -> str:
    """The [campaign] section of config.example.toml (kept last in that file)."""
    text = (Path(__file__).parent.parent / "config.example.toml").read_text("utf-8")
    return text[text.index("\n[campaign]"):]


@pytest.fixture
def config(tmp_path) -> Config:  # noqa: ANN001
    return make_config(tmp_path)


@pytest.fixture
def app(config):  # noqa: ANN001, ANN201
    application = create_app(config)
    yield application
    close_all()


@pytest.fixture
def db(app, config):  # noqa: ANN001, ANN201
    return get_db(config["storage.path"])


@pytest.fixture
def wechat(app) -> Chat:  # noqa: ANN001
    """``wechat.send("…")`` returns the bot's reply text, as a citizen would see it."""
    return Chat(app.test_client(), TOKEN)
