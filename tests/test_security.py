"""Security across the whole app: every route's guard, roles, CSRF, XSS, SQL injection,
session fixation, passwords and tokens at rest.

The route-table tests walk ``app.url_map``, so a route added later is checked
without anyone remembering to add it here.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from storage import users
from tests.chat import Chat
from tests.conftest import TOKEN
from tests.test_console_support import PASSWORD, ROLES, UNIT, login, seed

TICKET = re.compile(r"GF\d{8}-\d{4}")
# Reachable without credentials: the webhook (signed instead), health, the login page,
# static files, and the API's description (no data in it).
PUBLIC_ENDPOINTS = {"webhook.verify", "webhook.receive", "health.healthz", "console.login",
                    "console.static", "static", "api.openapi"}
SAMPLE_VALUES = {"number": "GF20261125-0001", "name": UNIT, "username": "office",
                 "slug": "daily-2026-11-25", "fmt": "csv", "target_id": "1",
                 "filename": "console.css", "path": "x"}


@pytest.fixture
def seeded(app, db, config):  # noqa: ANN001, ANN201
    return seed(db, config)


def _url(rule) -> str:  # noqa: ANN001
    url = rule.rule
    for name in rule.arguments:
        url = re.sub(rf"<(?:[a-z]+:)?{name}>", quote(SAMPLE_VALUES[name]), url)
    return url


def _guarded_rules(app) -> list:  # noqa: ANN001
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint not in PUBLIC_ENDPOINTS]


def test_public_endpoints_exist(app) -> None:  # noqa: ANN001
    """The allow-list names real endpoints: a renamed one must not leave a hole unnoticed."""
    assert PUBLIC_ENDPOINTS <= {rule.endpoint for rule in app.url_map.iter_rules()}


def test_every_other_route_needs_credentials(app, seeded) -> None:  # noqa: ANN001
    client = app.test_client()
    checked = 0
    for rule in _guarded_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(_url(rule), method=method, data={"x": "1"})
            where = f"{method} {rule.rule}"
            if rule.rule.startswith("/api/"):
                assert response.status_code in (401, 403), where
            elif method == "GET":
                assert response.status_code == 302, where
                assert response.headers["Location"].startswith("/console/login"), where
            else:  # console forms: refused for the missing CSRF token or sent to the login
                assert response.status_code in (302, 400, 401, 403), where
                assert response.status_code != 302 or "/console/login" in \
                    response.headers["Location"], where
            checked += 1
    assert checked >= 20, "the walk found the routes"


def test_console_pages_without_session_show_no_data(app, seeded) -> None:  # noqa: ANN001
    page = app.test_client().get("/console/tickets/" + seeded["own"]["number"],
                                 follow_redirects=True).get_data(as_text=True)
    assert seeded["own"]["text"][:8] not in page and 'name="password"' in page


# ---------------------------------------------------------------- API role matrix

OWN, OTHER, S6 = "own", "other", "s6"
# (role, ticket) → status for GET one ticket, and for POST a "note" action on it.
VIEW = {("office", OWN): 200, ("office", OTHER): 200, ("office", S6): 200,
        ("admin", OWN): 200, ("admin", OTHER): 200, ("admin", S6): 200,
        ("leader", OWN): 200, ("leader", OTHER): 200, ("leader", S6): 200,
        ("unit", OWN): 200, ("unit", OTHER): 404, ("unit", S6): 404}
ACT = {("office", OWN): 200, ("office", OTHER): 200, ("admin", OWN): 200,
       ("leader", OWN): 403, ("leader", OTHER): 403,
       ("unit", OWN): 200, ("unit", OTHER): 404, ("unit", S6): 404}


def _bearer(db, role: str) -> dict[str, str]:  # noqa: ANN001
    user = users.get_user(db, role)
    return {"Authorization": f"Bearer {users.issue_token(db, user['id'])}"}


@pytest.mark.parametrize("role", ROLES)
def test_api_list_shows_each_role_what_it_may_see(app, db, seeded, role: str) -> None:  # noqa: ANN001
    body = app.test_client().get("/api/v1/tickets", headers=_bearer(db, role)).get_json()
    listed = {t["number"] for t in body["tickets"]}
    numbers = {name: ticket["number"] for name, ticket in seeded.items()}
    if role == "unit":
        assert listed == {numbers["own"]}
        assert all("openid" not in t for t in body["tickets"])
    else:
        assert set(numbers.values()) <= listed


@pytest.mark.parametrize(("role", "which"), sorted(VIEW))
def test_api_view_matrix(app, db, seeded, role: str, which: str) -> None:  # noqa: ANN001
    number = seeded[which]["number"]
    response = app.test_client().get(f"/api/v1/tickets/{number}", headers=_bearer(db, role))
    assert response.status_code == VIEW[(role, which)]


@pytest.mark.parametrize(("role", "which"), sorted(ACT))
def test_api_act_matrix(app, db, seeded, role: str, which: str) -> None:  # noqa: ANN001
    number = seeded[which]["number"]
    response = app.test_client().post(f"/api/v1/tickets/{number}/actions",
                                      headers=_bearer(db, role),
                                      json={"action": "note", "note": "矩阵测试"})
    assert response.status_code == ACT[(role, which)], response.get_json()


# ---------------------------------------------------------------- CSRF on every form

def _console_posts(app) -> list:  # noqa: ANN001
    return [rule for rule in app.url_map.iter_rules()
            if "POST" in rule.methods and rule.rule.startswith("/console/")]


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_every_console_form_refuses_a_missing_or_wrong_csrf_token(app, db, seeded,  # noqa: ANN001
                                                                 token: str | None) -> None:
    client = login(app, "admin")
    before = db.execute("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM events),"
                        " (SELECT count(*) FROM api_tokens)").fetchone()
    rules = _console_posts(app)
    assert len(rules) >= 8
    for rule in rules:
        form = {"username": "x2", "role": "office", "password": "passw0rd-long", "action": "note",
                "note": "n", "openids": "oX", "disabled": "1"}
        if token is not None:
            form["csrf_token"] = token
        response = client.post(_url(rule).replace("GF20261125-0001",
                                                  seeded["own"]["number"]), data=form)
        assert response.status_code in (400, 403), rule.rule
    after = db.execute("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM events),"
                       " (SELECT count(*) FROM api_tokens)").fetchone()
    assert before == after, "a refused form changed nothing"
    assert client.get("/console/").status_code == 200, "and the session still works"


# ---------------------------------------------------------------- XSS from citizens

PAYLOADS = ('<script>alert("x")</script>', '"><img src=x onerror=alert(1)>',
            "javascript:alert(1)", "</textarea><svg onload=alert(1)>", "{{7*7}}")


def test_citizen_fields_stay_escaped_in_queue_and_ticket_page(app, db, seeded) -> None:  # noqa: ANN001
    chat = Chat(app.test_client(), TOKEN, openid="oXssCitizen")
    reply = chat.send("区人社局窗口的人不理人 " + " ".join(PAYLOADS))
    number = TICKET.search(reply).group(0)
    chat.location(PAYLOADS[1] + PAYLOADS[0])
    chat.message("image", {"PicUrl": 'http://127.0.0.1/p.jpg"onerror="alert(1)',
                           "MediaId": "m<script>", "MsgId": "77001"})
    chat.message("image", {"PicUrl": "javascript:alert(1)", "MediaId": "m2", "MsgId": "77002"})
    chat.send("补充 " + PAYLOADS[0])
    client = login(app, "office")
    for page in (client.get(f"/console/tickets/{number}").get_data(as_text=True),
                 client.get("/console/").get_data(as_text=True),
                 client.get("/console/?q=" + quote(PAYLOADS[0])).get_data(as_text=True)):
        assert "<script>alert" not in page
        assert "<img src=x onerror" not in page and "<svg onload" not in page
        assert '"onerror="alert' not in page
        assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript:""", page, re.I)
    ticket_page = client.get(f"/console/tickets/{number}").get_data(as_text=True)
    assert "&lt;script&gt;" in ticket_page, "the text is shown, escaped"
    assert "{{7*7}}" in ticket_page, "citizen text is never evaluated as a template"


# ---------------------------------------------------------------- SQL injection

INJECTIONS = ("'", "' OR 1=1 --", "' OR '1'='1", '" OR ""="', "1; DROP TABLE tickets; --",
              '"', "NEAR(", "NEAR(a b", "*", "a OR b", "%", "_", "\\", "') OR ('1'='1",
              "GF%", "区人社局' --", "1 UNION SELECT * FROM users --")
CONSOLE_FILTERS = ("status", "kind", "unit", "overdue", "page", "sort", "q", "flagged",
                   "from", "to")
API_FILTERS = ("status", "kind", "unit", "overdue", "page", "per_page", "subtype")


ROW_LINK = re.compile(r"/console/tickets/(GF\d{8}-\d{4})")


def _numbers(page: str) -> set[str]:
    """Tickets listed as rows (links to their pages), not example numbers in help texts."""
    return set(ROW_LINK.findall(page))


@pytest.mark.parametrize("who", ["office", "unit"])
def test_console_filters_resist_injection(app, db, seeded, who: str) -> None:  # noqa: ANN001
    client = login(app, who)
    visible = _numbers(client.get("/console/").get_data(as_text=True))
    assert visible, "the queue lists rows to compare with"
    for name in CONSOLE_FILTERS:
        for payload in INJECTIONS:
            response = client.get(f"/console/?{name}={quote(payload)}")
            where = f"{name}={payload!r}"
            assert response.status_code < 500, where
            shown = _numbers(response.get_data(as_text=True))
            assert shown <= visible, f"{where} showed rows this account may not see"
            if name == "q" and response.status_code == 200:
                texts = db.execute("SELECT text FROM tickets").fetchall()
                if not any(payload in text for (text,) in texts):
                    assert not shown, f"search {payload!r} matched rows that do not contain it"


@pytest.mark.parametrize("who", ["office", "unit"])
def test_api_filters_resist_injection(app, db, seeded, who: str) -> None:  # noqa: ANN001
    client, headers = app.test_client(), _bearer(db, who)
    visible = {t["number"] for t in client.get("/api/v1/tickets",
                                              headers=headers).get_json()["tickets"]}
    assert visible
    for name in API_FILTERS:
        for payload in INJECTIONS:
            response = client.get(f"/api/v1/tickets?{name}={quote(payload)}", headers=headers)
            assert response.status_code in (200, 400), (name, payload)
            if response.status_code == 200:
                listed = {t["number"] for t in response.get_json()["tickets"]}
                assert listed <= visible, (name, payload)
                if name == "unit":
                    assert not listed, f"unit={payload!r} is no unit"
    assert db.execute("SELECT count(*) FROM tickets").fetchone()[0] == len(seeded)


def test_ticket_numbers_in_paths_resist_injection(app, db, seeded) -> None:  # noqa: ANN001
    client, headers = app.test_client(), _bearer(db, "unit")
    other = seeded["other"]["number"]
    for payload in (f"{other}' OR '1'='1", f"{other}'--", "' OR 1=1 --", "%", "GF%"):
        response = client.get(f"/api/v1/tickets/{quote(payload, safe='')}", headers=headers)
        assert response.status_code in (400, 404), payload


# ---------------------------------------------------------------- sessions, passwords, tokens

def test_login_issues_a_new_session_and_the_old_cookie_stays_anonymous(app, seeded) -> None:  # noqa: ANN001
    client = app.test_client()
    client.get("/console/login")
    before = client.get_cookie("cd_session").value
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/console/login").get_data(as_text=True)).group(1)
    client.post("/console/login", data={"username": "office", "password": PASSWORD,
                                        "csrf_token": token})
    after = client.get_cookie("cd_session").value
    assert after != before
    attacker = app.test_client()
    attacker.set_cookie("cd_session", before)
    assert attacker.get("/console/").status_code == 302, "the pre-login cookie grants nothing"
    assert client.get("/console/").status_code == 200


@pytest.mark.parametrize("password", ["short1", "onlyletterslong", "1234567890123",
                                      "          ", ""])
def test_password_policy_refuses_weak_passwords(db, password: str) -> None:  # noqa: ANN001
    with pytest.raises(users.AccountError):
        users.create_user(db, "weak", "office", password)
    assert users.get_user(db, "weak") is None


def test_passwords_are_salted_hashes(db) -> None:  # noqa: ANN001
    users.create_user(db, "a1", "office", PASSWORD)
    users.create_user(db, "a2", "office", PASSWORD)
    hashes = [users.get_user(db, name)["password_hash"] for name in ("a1", "a2")]
    assert hashes[0] != hashes[1] and all(h.startswith("scrypt:") for h in hashes)
    assert all(PASSWORD not in h for h in hashes)


def test_api_tokens_are_hashed_at_rest(app, db, config, seeded) -> None:  # noqa: ANN001
    raw = _bearer(db, "office")["Authorization"].split()[1]
    client = login(app, "admin")
    page = client.post("/console/admin/users/unit2/token",
                       data={"csrf_token": client.csrf}).get_data(as_text=True)
    shown = re.findall(r"cd_[A-Za-z0-9_\-]{20,}", page)
    assert shown, "the console shows a new token once"
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    from pathlib import Path

    files = [Path(config["storage.path"]), Path(config["storage.path"] + "-wal")]
    data = b"".join(f.read_bytes() for f in files if f.exists())
    for token in [raw, *shown]:
        assert token.encode() not in data, "a raw token is in the database file"
        assert users.hash_token(token).encode() in data
    assert app.test_client().get("/api/v1/me", headers={
        "Authorization": f"Bearer {raw}"}).status_code == 200


def test_unit_account_of_another_unit_sees_nothing_of_ours(app, db, seeded) -> None:  # noqa: ANN001
    client = login(app, "unit2")
    page = client.get("/console/").get_data(as_text=True)
    assert seeded["own"]["number"] not in page
    response = client.get(f"/console/tickets/{seeded['own']['number']}")
    assert response.status_code in (403, 404)
