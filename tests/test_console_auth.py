"""Console sign-in: cookies, CSRF, throttling across workers, secret key, session endings."""

from __future__ import annotations

import stat

import pytest

from bot import create_app
from bot.console import security
from storage import users
from storage.db import close_all
from tests.conftest import make_config
from tests.test_console_support import PASSWORD, csrf_of, login, seed


@pytest.fixture
def seeded(app, db, config):  # noqa: ANN001, ANN201
    return seed(db, config)


def _form(client, username: str, password: str, **extra: str):  # noqa: ANN001, ANN202
    token = csrf_of(client.get("/console/login").get_data(as_text=True))
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": token, **extra})


def test_login_sets_a_hardened_session_cookie(app, seeded) -> None:
    reply = _form(app.test_client(), "office", PASSWORD)
    assert reply.status_code == 302 and reply.location == "/console/"
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_leader_lands_on_the_dashboard(app, seeded) -> None:
    assert _form(app.test_client(), "leader", PASSWORD).location == "/console/dashboard"


def test_wrong_password_stays_on_the_login_page(app, seeded) -> None:
    client = app.test_client()
    reply = _form(client, "office", "wrong-passw0rd")
    assert reply.status_code == 401
    assert "用户名或密码不正确" in reply.get_data(as_text=True)
    assert client.get("/console/").status_code == 302


def test_login_clears_the_previous_session(app, seeded) -> None:
    """Session fixation: nothing planted before login survives it."""
    client = app.test_client()
    with client.session_transaction() as session:
        session["planted"] = "by-someone-else"
    _form(client, "office", PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["user_id"] and len(session["pw"]) == 16


def test_forms_without_the_csrf_token_are_refused(app, seeded) -> None:
    client = app.test_client()
    client.get("/console/login")
    reply = client.post("/console/login", data={"username": "office", "password": PASSWORD})
    assert reply.status_code == 400
    office = login(app, "office")
    number = seeded["waiting"]["number"]
    reply = office.post(f"/console/tickets/{number}/actions",
                        data={"action": "note", "note": "x", "csrf_token": "forged"})
    assert reply.status_code == 400


def test_next_parameter_only_goes_to_console_pages(app, seeded) -> None:
    assert _form(app.test_client(), "office", PASSWORD,
                 next="/console/dashboard").location == "/console/dashboard"
    for evil in ("https://evil.example/", "//evil.example/console/", "/api/v1/tickets"):
        assert _form(app.test_client(), "office", PASSWORD, next=evil).location == "/console/"


def test_account_lockout_after_repeated_failures(app, seeded, config) -> None:
    limit = config["console.login_max_failures"]
    client = app.test_client()
    for _ in range(limit):
        assert _form(client, "office", "wrong-passw0rd").status_code == 401
    reply = _form(client, "office", PASSWORD)
    assert reply.status_code == 429 and "失败次数过多" in reply.get_data(as_text=True)
    # another worker process on the same database sees the same lockout
    other_worker = create_app(config)
    assert _form(other_worker.test_client(), "office", PASSWORD).status_code == 429
    # other accounts are not locked by one account's failures
    assert _form(app.test_client(), "admin", PASSWORD).status_code == 302


def test_address_lockout_across_usernames(app, seeded, config) -> None:
    limit = config["console.login_max_failures"] * security.IP_FACTOR
    client = app.test_client()
    for index in range(limit):
        _form(client, f"guess{index}", "wrong-passw0rd")
    assert _form(client, "admin", PASSWORD).status_code == 429


def test_behind_a_proxy_the_lockout_is_per_client_address(tmp_path) -> None:
    """With server.proxy_hops = 1 the address comes from X-Forwarded-For, so one
    client's failures cannot lock out every user behind the same nginx."""
    config = make_config(tmp_path, "[server]\nproxy_hops = 1\n")
    app = create_app(config)
    seed(app_db(config), config)
    limit = config["console.login_max_failures"] * security.IP_FACTOR
    attacker = app.test_client()
    attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    for index in range(limit):
        _form(attacker, f"guess{index}", "wrong-passw0rd")
    assert _form(attacker, "admin", PASSWORD).status_code == 429
    colleague = app.test_client()
    colleague.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.7"
    assert _form(colleague, "admin", PASSWORD).status_code == 302
    close_all()


def app_db(config):  # noqa: ANN001, ANN201
    from storage.db import get_db

    return get_db(config["storage.path"])


def test_lockout_expires(db) -> None:
    for _ in range(3):
        security.record_failure(db, "someone", "10.0.0.1", 300, now=1000.0)
    assert security.is_locked(db, "someone", "10.0.0.2", 3, now=1200.0)
    assert not security.is_locked(db, "someone", "10.0.0.2", 3, now=1301.0)
    security.clear_failures(db, "someone")
    assert not security.is_locked(db, "someone", "10.0.0.2", 3, now=1200.0)


def test_generated_secret_key_is_private_and_reused(tmp_path) -> None:
    config = make_config(tmp_path)
    first = create_app(config)
    path = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert create_app(config).secret_key == first.secret_key == path.read_text()
    close_all()


def test_configured_secret_key_wins(tmp_path) -> None:
    config = make_config(tmp_path, '[console]\nsecret_key = "from-the-config-file-0123456789"')
    assert create_app(config).secret_key == "from-the-config-file-0123456789"
    assert not (tmp_path / "instance" / "secret_key").exists()
    close_all()


def test_password_change_ends_existing_sessions(app, db, seeded) -> None:
    client = login(app, "office")
    assert client.get("/console/").status_code == 200
    users.set_password(db, "office", "another-passw0rd")
    assert client.get("/console/").status_code == 302


def test_disabled_account_is_signed_out(app, db, seeded) -> None:
    client = login(app, "unit")
    users.set_disabled(db, "unit", True)
    assert client.get("/console/").status_code == 302
    assert _form(app.test_client(), "unit", PASSWORD).status_code == 401


def test_logout_needs_a_post(app, seeded) -> None:
    client = login(app, "office")
    page = client.get("/console/logout")
    assert page.status_code == 200 and "确认退出" in page.get_data(as_text=True)
    assert client.get("/console/").status_code == 200  # a GET signs no one out
    reply = client.post("/console/logout", data={"csrf_token": client.csrf})
    assert reply.location == "/console/login"
    assert client.get("/console/").status_code == 302


def test_console_pages_carry_security_headers(app, seeded) -> None:
    reply = login(app, "office").get("/console/")
    assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["X-Frame-Options"] == "DENY"
