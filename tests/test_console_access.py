"""Who may open what: every console route × every role, and every route is in the table."""

from __future__ import annotations

import pytest

from bot.console import ROUTES
from tests.test_console_support import ROLES, login, seed

ANON = "anonymous"
OK, DENIED, LOGIN = "ok", "403", "login"
EVERYONE = dict.fromkeys(ROLES, OK)
STAFF_ONLY = {"office": OK, "unit": DENIED, "leader": OK, "admin": OK}
ADMIN_ONLY = {"office": DENIED, "unit": DENIED, "leader": DENIED, "admin": OK}
SIGNED_OUT = dict.fromkeys(ROLES, LOGIN)  # logging out ends on the login page
ACTORS = {"office": OK, "unit": OK, "leader": DENIED, "admin": OK}

# (method, rule, url, form, role → outcome); anonymous is always sent to the login page.
TABLE = (
    ("GET", "/console/", "/console/", None, EVERYONE),
    ("GET", "/console/logout", "/console/logout", None, EVERYONE),
    ("POST", "/console/logout", "/console/logout", {}, SIGNED_OUT),
    ("GET", "/console/export.<fmt>", "/console/export.csv", None, EVERYONE),
    ("GET", "/console/tickets/<number>", "/console/tickets/{own}", None, EVERYONE),
    ("POST", "/console/tickets/<number>/actions", "/console/tickets/{own}/actions",
     {"action": "note", "note": "内部备注"}, ACTORS),
    ("GET", "/console/dashboard", "/console/dashboard", None, STAFF_ONLY),
    ("GET", "/console/admin/users", "/console/admin/users", None, ADMIN_ONLY),
    ("POST", "/console/admin/users", "/console/admin/users",
     {"username": "newbie", "role": "leader", "password": "newbie-passw0rd"}, ADMIN_ONLY),
    ("POST", "/console/admin/users/<username>/disable", "/console/admin/users/unit2/disable",
     {"disabled": "1"}, ADMIN_ONLY),
    ("POST", "/console/admin/users/<username>/password", "/console/admin/users/unit2/password",
     {}, ADMIN_ONLY),
    ("POST", "/console/admin/users/<username>/token", "/console/admin/users/unit2/token",
     {}, ADMIN_ONLY),
    ("GET", "/console/admin/units", "/console/admin/units", None, ADMIN_ONLY),
    ("POST", "/console/admin/units/<name>", "/console/admin/units/区人社局",
     {"openids": "oLiaison_123456"}, ADMIN_ONLY),
)
PUBLIC = {("GET", "/console/login"), ("POST", "/console/login")}


@pytest.fixture
def seeded(app, db, config):  # noqa: ANN001, ANN201
    return seed(db, config)


def _request(client, method: str, url: str, form: dict | None):  # noqa: ANN001, ANN202
    if method == "GET":
        return client.get(url)
    return client.post(url, data={**(form or {}), "csrf_token": getattr(client, "csrf", "")})


def _outcome(reply) -> str:  # noqa: ANN001
    if reply.status_code == 302 and "/console/login" in reply.location:
        return LOGIN
    if reply.status_code == 403:
        return DENIED
    assert reply.status_code < 500, reply.get_data(as_text=True)[:500]
    return OK


@pytest.mark.parametrize("role", [ANON, *ROLES])
def test_access_table(app, seeded, role: str) -> None:
    """Each row answers as the table says for this role (fresh login per row)."""
    for method, _, url, form, expected in TABLE:
        client = app.test_client() if role == ANON else login(app, role)
        if role == ANON and method == "POST":
            client.get("/console/login")  # a session with a CSRF token, still not signed in
            page = client.get("/console/login").get_data(as_text=True)
            client.csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
        reply = _request(client, method, url.format(own=seeded["own"]["number"]), form)
        wanted = LOGIN if role == ANON else expected[role]
        assert _outcome(reply) == wanted, (role, method, url, reply.status_code)


def test_every_console_route_is_in_the_table(app) -> None:
    """A new /console/ route must be added to TABLE (or be a public login route)."""
    listed = {(method, rule) for method, rule, *_ in TABLE} | PUBLIC
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console") or rule.endpoint == "console.static":
            continue
        if not rule.endpoint.startswith("console."):
            continue  # other teams' pages: checked by test_other_console_pages_use_login
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            assert (method, rule.rule) in listed, f"{method} {rule.rule} missing from TABLE"


def test_table_matches_the_declared_roles(app) -> None:
    """The decorator's roles (``console_roles``) say the same as the table."""
    for method, rule, _, _, expected in TABLE:
        endpoint = next(r.endpoint for r in app.url_map.iter_rules()
                        if r.rule == rule and method in r.methods)
        roles = getattr(app.view_functions[endpoint], "console_roles", None)
        if roles is None:
            continue  # logout: any signed-in account
        allowed = {role for role, outcome in expected.items() if outcome != DENIED}
        assert set(roles) == allowed, (method, rule)


def test_other_console_pages_use_login(app, seeded) -> None:
    """Pages other blueprints add under /console/ (digests, campaign) need a session too."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console/") or rule.endpoint.startswith("console."):
            continue
        if rule.arguments or "GET" not in rule.methods:
            continue
        reply = app.test_client().get(rule.rule)
        assert reply.status_code == 302 and "/console/login" in reply.location, rule.rule
        roles = getattr(app.view_functions[rule.endpoint], "console_roles", ROLES)
        for role in set(ROLES) - set(roles):
            assert login(app, role).get(rule.rule).status_code == 403, (rule.rule, role)


def test_unknown_console_path_without_session_goes_to_login(app) -> None:
    reply = app.test_client().get("/console/no-such-page")
    assert reply.status_code == 302
    assert reply.location.startswith("/console/login?next=")


def test_routes_table_has_no_duplicates() -> None:
    keys = [(path, methods) for path, _, _, methods in ROUTES]
    assert len(keys) == len(set(keys))
