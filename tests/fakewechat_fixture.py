"""The ``fake_wechat`` pytest fixture: WeChat's API faked on a free 127.0.0.1 port.

Use it with ``pytest_plugins = ["tests.fakewechat_fixture"]`` or
``from tests.fakewechat_fixture import fake_wechat``. Each test gets its own
server, so records and failure switches never leak between tests.

PYTEST_DONT_REWRITE: no asserts here, so either way of loading works in any order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.serving import BaseWSGIServer

from bot.config import Config, parse_text
from bot.fake_wechat import FakeState, start_in_thread, state_of

SEND_SUFFIXES = ("/message/custom/send", "/message/template/send")


@dataclass
class FakeWeChat:
    """Handle on a running fake: its base URL, its records and its failure switches."""

    base_url: str  # ends in /cgi-bin/: use as wechat.api_base_url
    state: FakeState
    server: BaseWSGIServer

    @property
    def sent(self) -> list[dict[str, Any]]:
        """Every request so far: dicts with path, query, json and outcome."""
        return self.state.sent()

    def fail(self, mode: str | int, count: int | None = None, delay: float | None = None) -> None:
        """Fail the next ``count`` calls (all when None); ``delay`` for mode "timeout"."""
        self.state.fail(mode, count, delay)

    def recover(self) -> None:
        self.state.recover()

    def reset(self) -> None:
        self.state.reset()

    def expire_tokens(self) -> None:
        self.state.expire_tokens()

    def delivered(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Messages WeChat accepted; kind "custom" or "template" narrows it."""
        suffixes = SEND_SUFFIXES if kind is None else (f"/message/{kind}/send",)
        return [r for r in self.sent if r["outcome"] == "ok" and r["path"].endswith(suffixes)]

    def config(self, extra: str = "", timeout: float = 2) -> Config:
        """A minimal config pointed at this fake; see ``wechat_config``."""
        return wechat_config(self, extra, timeout)

    def token_fetches(self) -> list[dict[str, Any]]:
        """Requests for an access token (``token`` and ``stable_token``)."""
        return [r for r in self.sent if r["path"].endswith(("/token", "/stable_token"))]


@pytest.fixture
def fake_wechat() -> Iterator[FakeWeChat]:
    """A fresh fake WeChat API served from a thread for one test."""
    server, thread, base_url = start_in_thread("127.0.0.1", 0, poll_interval=0.02)
    handle = FakeWeChat(base_url, state_of(server), server)
    try:
        yield handle
    finally:
        handle.recover()  # wake requests sleeping in a simulated timeout
        server.shutdown()
        thread.join(timeout=5)


def wechat_config(fake: FakeWeChat, extra: str = "", timeout: float = 2) -> Config:
    """A minimal config whose API calls go to ``fake``; ``extra`` is more [wechat] TOML."""
    text = (
        "[wechat]\n"
        'token = "x"\nappid = "wxfake0001"\nsecret = "fake-app-secret"\n'
        f'api_base_url = "{fake.base_url}"\nrequest_timeout_seconds = {timeout}\n'
        f"{extra}\n"
    )
    return parse_text(text, "test")
