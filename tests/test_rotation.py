"""Rotating the Token or the EncodingAESKey: while ``previous_*`` is set, requests signed
(and encrypted) with either pair are accepted, so none is refused during the switch."""

from __future__ import annotations

import re

import pytest

from bot import create_app
from storage.db import close_all
from tests.conftest import make_config
from tests.protocol_client import WeChatServer, flask_transport

APPID = "wx1234567890abcdef"
OLD_KEY = "QWNjZXB0YW5jZUludGFrZUtleUZvckNvbXBsYWludDA"
NEW_KEY = "Um90YXRpb25OZXdLZXlGb3JDb21wbGFpbnREZXNrMDA"
NUMBER = re.compile(r"GF\d{8}-\d{4}")


@pytest.fixture
def rotating(tmp_path):  # noqa: ANN001, ANN201
    """A server whose config has the new pair and the previous one."""
    config = make_config(tmp_path, aes_key=NEW_KEY)
    config["wechat.previous_token"] = "oldtoken"
    config["wechat.previous_encoding_aes_key"] = OLD_KEY
    app = create_app(config)
    yield app
    close_all()


def test_both_pairs_are_accepted_during_a_rotation(rotating) -> None:  # noqa: ANN001
    transport = flask_transport(rotating.test_client())
    new = WeChatServer(transport, "testtoken", NEW_KEY, APPID)
    old = WeChatServer(transport, "oldtoken", OLD_KEY, APPID)
    assert new.verify("fresh").body == "fresh" and old.verify("stale").body == "stale"
    assert NUMBER.search(new.send_text("oNew0001", "区税务局办税大厅的人上班打游戏").text)
    assert NUMBER.search(old.send_text("oOld0001", "区城管局执法人员态度粗暴，骂人").text)
    stranger = WeChatServer(transport, "wrongtoken", NEW_KEY, APPID)
    assert stranger.verify("x").status == 403
    assert stranger.send_text("oX0001", "区人社局不理人").status == 403


def test_without_a_previous_pair_the_old_token_is_refused(tmp_path) -> None:  # noqa: ANN001
    app = create_app(make_config(tmp_path, aes_key=NEW_KEY))
    old = WeChatServer(flask_transport(app.test_client()), "oldtoken", OLD_KEY, APPID)
    assert old.verify("stale").status == 403
    assert old.send_text("oOld0001", "区人社局不理人").status == 403
    close_all()
