"""JSON API v1: authentication, filters, paging, what each role sees, errors, OpenAPI."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.api import Filters, list_tickets, mask_phone, ticket_view
from storage import clock, tickets, users
from storage.lifecycle import Actor
from tests.test_lifecycle import OTHER_UNIT, UNIT, bearer, make_ticket

TZ = clock.TZ


@pytest.fixture
def client(app):  # noqa: ANN001, ANN201
    return app.test_client()


@pytest.fixture
def office(db) -> dict[str, str]:  # noqa: ANN001
    return bearer(db, "office1", "office")


@pytest.fixture
def unit(db) -> dict[str, str]:  # noqa: ANN001
    return bearer(db, "rsj", "unit", UNIT)


# ---------------------------------------------------------------- authentication


@pytest.mark.parametrize("header", [None, "Bearer ", "Bearer cd_not-a-token", "Basic b2ZmaWNl",
                                    "cd_token-without-scheme"])
def test_missing_or_bad_tokens_get_401_json(client, db, header):  # noqa: ANN001
    number = make_ticket(db)["number"]
    headers = {"Authorization": header} if header else {}
    for response in (client.get("/api/v1/tickets", headers=headers),
                     client.get(f"/api/v1/tickets/{number}", headers=headers),
                     client.post(f"/api/v1/tickets/{number}/actions", headers=headers,
                                 json={"action": "note", "note": "x"})):
        assert response.status_code == 401
        assert response.is_json and response.json["status"] == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_disabled_accounts_and_revoked_tokens_are_refused(client, db, office):  # noqa: ANN001
    assert client.get("/api/v1/tickets", headers=office).status_code == 200
    users.set_disabled(db, "office1", True)
    assert client.get("/api/v1/tickets", headers=office).status_code == 401
    users.set_disabled(db, "office1", False)
    users.revoke_tokens(db, users.get_user(db, "office1")["id"])
    assert client.get("/api/v1/tickets", headers=office).status_code == 401


def test_tokens_are_kept_only_as_hashes(db, office):  # noqa: ANN001
    token = office["Authorization"].split()[1]
    stored = [row["token_hash"] for row in db.query("SELECT token_hash FROM api_tokens")]
    assert token not in stored and users.hash_token(token) in stored


def test_a_console_session_works_too(client, db):  # noqa: ANN001
    user = users.create_user(db, "office2", "office", "password1234")
    with client.session_transaction() as session:
        session["user_id"] = user["id"]
        session["pw"] = user["password_hash"][-16:]
    assert client.get("/api/v1/me").json == {"username": "office2", "role": "office",
                                             "unit": None}


# ---------------------------------------------------------------- lists


def test_list_is_newest_first_and_paginated(client, db, office):  # noqa: ANN001
    start = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
    numbers = [make_ticket(db, now=start + timedelta(hours=i))["number"] for i in range(5)]
    page = client.get("/api/v1/tickets?per_page=2&page=2", headers=office).json
    assert (page["page"], page["per_page"], page["total"]) == (2, 2, 5)
    assert [t["number"] for t in page["tickets"]] == [numbers[2], numbers[1]]
    everything = client.get("/api/v1/tickets", headers=office).json["tickets"]
    assert [t["number"] for t in everything] == numbers[::-1]


def test_filters(client, db, office):  # noqa: ANN001
    waiting = make_ticket(db, "received", kind="D")["number"]
    dispatched = make_ticket(db, "dispatched")["number"]
    elsewhere = make_ticket(db, "accepted", unit=OTHER_UNIT, kind="S1")["number"]
    late = make_ticket(db, "dispatched", now=clock.now() - timedelta(days=30))["number"]

    def numbers(query: str) -> set[str]:
        response = client.get(f"/api/v1/tickets?{query}", headers=office)
        assert response.status_code == 200, response.json
        return {t["number"] for t in response.json["tickets"]}

    assert numbers("status=received") == {waiting}
    assert numbers("status=dispatched,accepted") == {dispatched, elsewhere, late}
    assert numbers("kind=S1") == {elsewhere}
    assert numbers("kind=d") == {waiting}
    assert numbers("unit=区住建局") == {elsewhere}
    assert numbers("unit=住建局") == {elsewhere}  # an alias works
    assert numbers("overdue=1") == {late}  # computed live, not only the stored flag
    assert late not in numbers("overdue=0")


@pytest.mark.parametrize("query", ["status=open", "kind=S9", "overdue=maybe", "page=0",
                                   "page=x", "per_page=101", "per_page=-5", "page=١"])
def test_bad_filters_get_400(client, office, query):  # noqa: ANN001
    response = client.get(f"/api/v1/tickets?{query}", headers=office)
    assert response.status_code == 400 and response.json["error"]


# ---------------------------------------------------------------- what each role sees


def test_unit_sees_only_its_own_tickets_and_no_identity(client, db, unit):  # noqa: ANN001
    own = make_ticket(db, "dispatched", phone="13812348000",
                      text="区人社局不理人，我电话13812348000")["number"]
    make_ticket(db, "dispatched", unit=OTHER_UNIT)
    make_ticket(db, "received")  # about the unit, but not dispatched yet
    make_ticket(db, "received", kind="S6")
    listed = client.get("/api/v1/tickets", headers=unit).json
    assert [t["number"] for t in listed["tickets"]] == [own] and listed["total"] == 1
    view = client.get(f"/api/v1/tickets/{own}", headers=unit).json
    assert "openid" not in view and "openid" not in listed["tickets"][0]
    assert view["phone"] == "138****8000"
    assert "13812348000" not in str(view) and "138****8000" in view["text"]


def test_office_sees_identity_leader_does_not(client, db, office):  # noqa: ANN001
    number = make_ticket(db, "dispatched", phone="13812348000")["number"]
    assert client.get(f"/api/v1/tickets/{number}", headers=office).json["openid"] == "oCitizen1"
    leader = bearer(db, "lead1", "leader")
    view = client.get(f"/api/v1/tickets/{number}", headers=leader).json
    assert "openid" not in view and view["phone"] == "138****8000"


def test_s6_is_listed_for_office_and_leaders_as_a_referral(client, db, office):  # noqa: ANN001
    number = make_ticket(db, kind="S6", unit="区市场监管局")["number"]
    leader = bearer(db, "lead1", "leader")
    market = bearer(db, "scjg", "unit", "区市场监管局")
    for headers in (office, leader):
        flagged = client.get("/api/v1/tickets?kind=S6", headers=headers).json["tickets"]
        assert [t["flags"] for t in flagged] == [["discipline"]]
    assert client.get(f"/api/v1/tickets/{number}", headers=market).status_code == 404
    assert client.get("/api/v1/tickets", headers=market).json["total"] == 0


def test_leaders_read_but_never_act(client, db):  # noqa: ANN001
    number = make_ticket(db, "dispatched")["number"]
    leader = bearer(db, "lead1", "leader")
    assert client.get(f"/api/v1/tickets/{number}", headers=leader).status_code == 200
    response = client.post(f"/api/v1/tickets/{number}/actions", headers=leader,
                           json={"action": "note", "note": "关注"})
    assert response.status_code == 403


def test_unknown_ticket_is_404(client, office):  # noqa: ANN001
    assert client.get("/api/v1/tickets/GF20990101-0001", headers=office).status_code == 404
    response = client.get("/api/v1/tickets/a%2Fb", headers=office)
    assert response.status_code == 404 and response.is_json


def test_plain_functions_give_what_the_routes_give(client, db, office):  # noqa: ANN001
    number = make_ticket(db, "dispatched")["number"]
    actor = Actor("office1", "office")
    now = clock.now()
    assert ticket_view(db, actor, number, now)["events"] == client.get(
        f"/api/v1/tickets/{number}", headers=office).json["events"]
    listed = list_tickets(db, actor, Filters(status=("dispatched",)), 1, 20, now)
    assert [t["number"] for t in listed["tickets"]] == [number]
    assert ticket_view(db, Actor("zjj", "unit", OTHER_UNIT), number) is None


def test_mask_phone():
    assert mask_phone("电话13812348000，座机0793-8221234") == "电话138****8000，座机0793-***1234"
    assert mask_phone(None) is None


# ---------------------------------------------------------------- actions


def post(client, number: str, headers: dict, body: Any, **kwargs: Any):  # noqa: ANN001, ANN201
    return client.post(f"/api/v1/tickets/{number}/actions", headers=headers, json=body, **kwargs)


@pytest.mark.parametrize("body", [
    [], "accept", {}, {"action": ""}, {"action": "fly"}, {"action": "rate"},
    {"action": "dispatch"}, {"action": "dispatch", "unit": 5},
    {"action": "dispatch", "unit": "火星办事处"}, {"action": "note"},
    {"action": "note", "note": "x" * 2001}, {"action": "approve_extension", "days": "3"},
    {"action": "approve_extension", "days": 0}, {"action": "reclassify", "kind": "S9"},
])
def test_malformed_actions_get_400(client, db, office, body):  # noqa: ANN001
    number = make_ticket(db, "dispatched")["number"]
    response = post(client, number, office, body)
    expected = 403 if body == {"action": "rate"} else 400  # rating is the citizen's alone
    assert response.status_code == expected, response.json
    assert response.json["error"]


def test_actions_need_a_json_body(client, db, office):  # noqa: ANN001
    number = make_ticket(db, "dispatched")["number"]
    response = client.post(f"/api/v1/tickets/{number}/actions", headers=office,
                           data="action=note&note=x",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.is_json


def test_reclassify_through_the_api_records_a_correction(client, db, office):  # noqa: ANN001
    ticket = make_ticket(db, "received", kind="S2")
    response = post(client, ticket["number"], office,
                    {"action": "reclassify", "kind": "D", "subtype": "D2"})
    assert response.status_code == 200 and response.json["kind"] == "D"
    row = next(db.query("SELECT * FROM corrections"))
    assert (row["number"], row["old_kind"], row["new_kind"], row["new_subtype"],
            row["actor"]) == (ticket["number"], "S2", "D", "D2", "office1")
    assert row["text"] == ticket["text"] and row["at"]


def test_extension_request_shows_as_pending_until_approved(client, db, office, unit):  # noqa: ANN001
    number = make_ticket(db, "accepted")["number"]
    asked = post(client, number, unit, {"action": "request_extension", "note": "需调取监控",
                                        "days": 3}).json
    assert asked["pending_extension"]["note"] == "3个工作日：需调取监控"
    granted = post(client, number, office, {"action": "approve_extension", "days": 3}).json
    assert granted["pending_extension"] is None and granted["due_at"] > asked["due_at"]


def test_extension_denied_through_the_api(client, db, office, unit):  # noqa: ANN001
    number = make_ticket(db, "accepted")["number"]
    never_asked = post(client, number, office, {"action": "deny_extension", "note": "请按期答复"})
    assert never_asked.status_code == 409
    assert never_asked.json["error"] == "没有待审批的延期申请，不能执行 deny_extension"
    asked = post(client, number, unit, {"action": "request_extension", "note": "需调取监控",
                                        "days": 3}).json
    assert post(client, number, unit, {"action": "deny_extension",
                                       "note": "自己不同意"}).status_code == 403
    no_reason = post(client, number, office, {"action": "deny_extension"})
    assert no_reason.status_code == 400 and "note" in no_reason.json["error"]
    denied = post(client, number, office, {"action": "deny_extension",
                                           "note": "监控已调取，请按期答复"})
    assert denied.status_code == 200, denied.json
    view = denied.json
    assert view["pending_extension"] is None
    assert (view["status"], view["due_at"]) == ("accepted", asked["due_at"])
    last = view["events"][-1]
    assert (last["action"], last["actor"], last["note"], last["internal"]) == (
        "deny_extension", "office1", "监控已调取，请按期答复", True)
    seen_by_unit = client.get(f"/api/v1/tickets/{number}", headers=unit).json
    assert seen_by_unit["pending_extension"] is None
    assert seen_by_unit["events"][-1]["action"] == "deny_extension"


def test_repeat_complaints_are_linked_in_the_view(client, wechat, db, office):  # noqa: ANN001
    wechat.send("区人社局窗口的人不理人，问了三遍都不搭理")
    wechat.send("取消")
    wechat.send("区人社局窗口的人不理人，问了三遍都不搭理我，太过分了")
    listed = client.get("/api/v1/tickets", headers=office).json
    assert listed["total"] == 1
    view = client.get(f"/api/v1/tickets/{listed['tickets'][0]['number']}", headers=office).json
    merged = [e for e in view["events"] if e["action"] == "supplement"]
    assert len(merged) == 1 and merged[0]["note"].startswith("并单")


def test_supplement_is_visible_to_the_unit(client, wechat, db, unit):  # noqa: ANN001
    wechat.send("区人社局窗口的人不理人，问了三遍都不搭理")
    wechat.send("取消")
    wechat.send("补充 当时是3号窗口，下午两点")
    number = client.get("/api/v1/tickets", headers=unit).json["tickets"][0]["number"]
    events = client.get(f"/api/v1/tickets/{number}", headers=unit).json["events"]
    added = [e for e in events if e["action"] == "supplement"]
    assert len(added) == 1 and "当时是3号窗口" in added[0]["note"] and not added[0]["internal"]


# ---------------------------------------------------------------- OpenAPI


def conforms(value: Any, schema: dict, spec: dict, where: str = "$") -> list[str]:
    """A small JSON-schema check for the keywords our document uses."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return conforms(value, spec["components"]["schemas"][name], spec, where)
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null"]
    problems = [p for part in schema.get("allOf", []) for p in conforms(value, part, spec, where)]
    kinds = {"string": str, "integer": int, "number": (int, float), "boolean": bool,
             "array": list, "object": dict}
    if "type" in schema and not isinstance(value, kinds[schema["type"]]):
        return [*problems, f"{where}: not {schema['type']}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} not in enum")
    if isinstance(value, dict):
        problems += [f"{where}.{key}: missing" for key in schema.get("required", [])
                     if key not in value]
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                problems += conforms(value[key], sub, spec, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            problems += conforms(item, schema["items"], spec, f"{where}[{index}]")
    return problems


def test_openapi_document_describes_the_real_responses(client, db, office, unit):  # noqa: ANN001
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) >= {"/tickets", "/tickets/{number}", "/tickets/{number}/actions"}
    number = make_ticket(db, "dispatched", phone="13812348000")["number"]
    schemas = spec["components"]["schemas"]
    listing = client.get("/api/v1/tickets", headers=office).json
    assert conforms(listing, schemas["TicketPage"], spec) == []
    for headers in (office, unit):
        view = client.get(f"/api/v1/tickets/{number}", headers=headers).json
        assert conforms(view, schemas["TicketDetail"], spec) == []
    acted = post(client, number, unit, {"action": "accept"}).json
    assert conforms(acted, schemas["TicketDetail"], spec) == []
    actions = schemas["Action"]["properties"]["action"]["enum"]
    assert "deny_extension" in actions and "approve_extension" in actions
    post(client, number, unit, {"action": "request_extension", "note": "需调取监控"})
    asked = client.get(f"/api/v1/tickets/{number}", headers=office).json
    assert asked["pending_extension"] and conforms(asked, schemas["TicketDetail"], spec) == []
    denied = post(client, number, office, {"action": "deny_extension", "note": "请按期答复"}).json
    assert conforms(denied, schemas["TicketDetail"], spec) == []
    refused = post(client, number, unit, {"action": "accept"})
    assert refused.status_code == 409
    assert "409" in spec["paths"]["/tickets/{number}/actions"]["post"]["responses"]
    assert conforms(refused.json, schemas["Error"], spec) == []
    anonymous = client.get("/api/v1/tickets")
    assert conforms(anonymous.json, schemas["Error"], spec) == []


# ---------------------------------------------------------------- no input makes it fail


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["status", "kind", "unit", "overdue", "page", "per_page"]),
       value=st.text(max_size=20), number=st.text(min_size=1, max_size=30))
def test_odd_input_never_breaks_the_api(client, office, name, value, number):  # noqa: ANN001
    listing = client.get("/api/v1/tickets", query_string={name: value}, headers=office)
    assert listing.status_code in (200, 400) and listing.is_json
    detail = client.get(f"/api/v1/tickets/{quote(number, safe='')}", headers=office)
    assert detail.status_code == 404 and detail.is_json
    acted = client.post(f"/api/v1/tickets/{quote(number, safe='')}/actions", headers=office,
                        json={"action": "note", "note": value or "x", "days": 3})
    assert acted.status_code in (400, 404) and acted.is_json


def test_overdue_0_and_1_split_every_ticket(client, db, office):  # noqa: ANN001
    make_ticket(db, "received")
    make_ticket(db, "answered")
    undated = make_ticket(db, "accepted")
    tickets.update_ticket(db, undated["id"], due_at=None, sign_due_at=None)
    make_ticket(db, "dispatched", now=clock.now() - timedelta(days=30))
    late = client.get("/api/v1/tickets?overdue=1", headers=office).json["total"]
    on_time = client.get("/api/v1/tickets?overdue=0", headers=office).json["total"]
    assert (late, on_time) == (1, 3)
