"""The ticket lifecycle: the full role × status × action table, events, deadlines, extensions.

The expected outcomes are written out here from docs/api.md and design.md, not
read from ``storage.lifecycle.TRANSITIONS``, so a change to the table shows up
as a failing cell.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from bot import create_app
from handlers.casework import act
from handlers.texts import say
from storage import clock, tickets, users, workdays
from storage.db import close_all, get_db
from storage.lifecycle import Actor, TransitionError, can_see, is_overdue, pending_extension
from tests.conftest import make_config

UNIT = "区人社局"
OTHER_UNIT = "区住建局"
OFFICE = Actor("office1", "office")
UNIT_ACTOR = Actor("rsj", "unit", UNIT)
TZ = clock.TZ
STATUSES = ("received", "dispatched", "accepted", "returned", "answered", "reopened",
            "closed", "rejected")

# ---------------------------------------------------------------- helpers (shared by tests)


def make_ticket(db, status: str = "received", *, kind: str = "S2", unit: str | None = UNIT,  # noqa: ANN001
                text: str = "区人社局窗口的人不理人，问了三遍都不搭理", openid: str = "oCitizen1",
                phone: str | None = None, now: datetime | None = None,
                config: dict | None = None) -> dict:
    """A ticket as the lifecycle would have left it in ``status`` (dispatched ones have dates)."""
    moment = now or clock.now()
    ticket = tickets.create_ticket(
        db, prefix="GF", openid=openid, text=text,
        classification={"kind": kind, "unit": unit, "confidence": 0.9, "matched": ["不理人"]},
        lead_units=["区政府办公室", "区行政服务中心"],
        flags=["discipline"] if kind == "S6" else [], now=moment)
    fields: dict = {"status": status, "phone": phone}
    if status != "received":
        fields.update(dispatched_at=clock.iso(moment),
                      sign_due_at=clock.iso(workdays.add_working_days(moment, 1)),
                      due_at=clock.iso(workdays.add_working_days(moment, 5)))
    if status in ("answered", "closed"):
        fields.update(answer="已处理", answered_at=clock.iso(moment))
    tickets.update_ticket(db, ticket["id"], **fields)
    return tickets.get_ticket(db, ticket["number"])


def count_outbox(db, audience: str, containing: str = "") -> int:  # noqa: ANN001
    """Queued messages for one audience, optionally only those containing some text."""
    return db.execute("SELECT count(*) FROM outbox WHERE audience = ? AND instr(payload, ?) > 0",
                      [audience, containing]).fetchone()[0]


def bearer(db, name: str, role: str, unit: str | None = None) -> dict[str, str]:  # noqa: ANN001
    """An account with a fresh token, as request headers."""
    user = users.create_user(db, name, role, "password1234", unit)
    return {"Authorization": f"Bearer {users.issue_token(db, user['id'])}"}


# ---------------------------------------------------------------- the table

# Who may take each action, from which statuses ("—" = that role may never: 403).
# Any other status for a permitted role is refused with 409. admin acts as office.
# From design.md: the office dispatches (also re-dispatches a ticket a unit holds),
# rejects, reclassifies open tickets and approves extensions; a unit signs, returns,
# answers and asks for more time on tickets in its hands; both may add notes at any
# time; the office may close an answered ticket; a leader is read-only. The office may
# refuse an extension (deny_extension, with a reason) only while the unit's request
# waits: the grid gives each such ticket a waiting request first (AFTER_REQUEST), and
# test_deny_extension_needs_a_waiting_request covers the 409 without one.
IN_HAND = "dispatched accepted reopened"
OPEN = "received dispatched accepted returned answered reopened"
TABLE = {
    #  action               office / admin                          unit              leader
    "dispatch":          (f"received returned {IN_HAND}",          "—",              "—"),
    "accept":            ("—",                                    "dispatched reopened", "—"),
    "return":            ("—",                                    IN_HAND,           "—"),
    "answer":            ("accepted reopened",                    "accepted reopened", "—"),
    "reject":            ("received returned dispatched",         "—",              "—"),
    "reclassify":        (OPEN,                                   "—",              "—"),
    "note":              (f"{OPEN} closed rejected",              f"{OPEN} closed rejected", "—"),
    "request_extension": ("—",                                    IN_HAND,           "—"),
    "approve_extension": (IN_HAND,                                "—",              "—"),
    "deny_extension":    (IN_HAND,                                "—",              "—"),
    "close":             ("answered",                             "—",              "—"),
}
ROLE_COLUMN = {"office": 0, "admin": 0, "unit": 1, "leader": 2}
BODIES = {
    "dispatch": {"unit": OTHER_UNIT}, "accept": {}, "return": {"note": "不属于本单位职责"},
    "answer": {"note": "已为您办结社保卡"}, "reject": {"note": "与办事无关"},
    "reclassify": {"kind": "S3"}, "note": {"note": "电话联系了群众"},
    "request_extension": {"note": "需要调取监控", "days": 3}, "approve_extension": {"days": 3},
    "deny_extension": {"note": "情况已核实清楚，请按期答复"}, "close": {},
}
AFTER_REQUEST = frozenset({"deny_extension"})  # tickets where the unit has asked for more time


def ticket_for(db, action: str, status: str, unit: str = UNIT) -> dict:  # noqa: ANN001
    """A ticket in ``status``; for AFTER_REQUEST actions, with the unit's request waiting."""
    ticket = make_ticket(db, status, unit=unit)
    if action in AFTER_REQUEST:
        tickets.add_event(db, ticket["id"], "rsj", "unit", "request_extension", status, status,
                          "3个工作日：需要调取监控", internal=True)
    return ticket


def expected(action: str, role: str, status: str) -> int:
    cell = TABLE[action][ROLE_COLUMN[role]]
    if cell == "—":
        return 403
    return 200 if status in cell.split() else 409


@pytest.fixture(scope="module")
def table_app(tmp_path_factory):  # noqa: ANN001, ANN201
    config = make_config(tmp_path_factory.mktemp("table"))
    app = create_app(config)
    db = get_db(config["storage.path"])
    headers = {"office": bearer(db, "office1", "office"), "admin": bearer(db, "admin1", "admin"),
               "unit": bearer(db, "rsj", "unit", UNIT), "leader": bearer(db, "lead1", "leader")}
    yield app.test_client(), db, headers
    close_all()


# A unit never sees a ticket that was not dispatched (404): see the test after this one.
CASES = [(role, status) for role in ROLE_COLUMN for status in STATUSES
         if (role, status) != ("unit", "received")]


@pytest.mark.parametrize(("role", "status"), CASES)
def test_every_action_for_every_role_and_status(table_app, role, status):  # noqa: ANN001
    client, db, headers = table_app
    outcomes = {}
    for action in TABLE:
        number = ticket_for(db, action, status)["number"]
        response = client.post(f"/api/v1/tickets/{number}/actions", headers=headers[role],
                               json={"action": action, **BODIES[action]})
        outcomes[action] = response.status_code
        assert response.is_json, (action, response.get_data(as_text=True))
    assert outcomes == {action: expected(action, role, status) for action in TABLE}


def test_a_unit_gets_404_for_tickets_not_dispatched_to_it(table_app):  # noqa: ANN001
    client, db, headers = table_app
    for action in TABLE:
        waiting = ticket_for(db, action, "received")
        elsewhere = ticket_for(db, action, "dispatched", unit=OTHER_UNIT)
        for number in (waiting["number"], elsewhere["number"]):
            response = client.post(f"/api/v1/tickets/{number}/actions", headers=headers["unit"],
                                   json={"action": action, **BODIES[action]})
            assert response.status_code == 404, action


def test_refusals_say_why(table_app):  # noqa: ANN001
    client, db, headers = table_app
    closed = make_ticket(db, "closed")["number"]
    response = client.post(f"/api/v1/tickets/{closed}/actions", headers=headers["unit"],
                           json={"action": "answer", "note": "再答一次"})
    assert response.status_code == 409 and "已办结" in response.json["error"]
    response = client.post(f"/api/v1/tickets/{closed}/actions", headers=headers["leader"],
                           json={"action": "note", "note": "看看"})
    assert response.status_code == 403 and "leader" in response.json["error"]


def test_successful_actions_write_one_event_each(table_app):  # noqa: ANN001
    client, db, headers = table_app
    ticket = make_ticket(db, "dispatched")
    steps = [("unit", {"action": "accept"}, "accepted"),
             ("unit", {"action": "answer", "note": "已办好"}, "answered")]
    for role, body, status in steps:
        response = client.post(f"/api/v1/tickets/{ticket['number']}/actions",
                               headers=headers[role], json=body)
        assert response.status_code == 200 and response.json["status"] == status
    events = tickets.events_of(db, ticket["id"])
    assert [(e["action"], e["from_status"], e["to_status"], e["actor"]) for e in events] == [
        ("create", None, "received", "citizen"),
        ("accept", "dispatched", "accepted", "rsj"),
        ("answer", "accepted", "answered", "rsj"),
    ]
    assert events[-1]["note"] == "已办好" and events[-1]["at"]


# ---------------------------------------------------------------- rules in storage


def test_visibility_rule(db):  # noqa: ANN001
    dispatched = make_ticket(db, "dispatched")
    assert can_see(UNIT_ACTOR, dispatched)
    assert not can_see(Actor("zjj", "unit", OTHER_UNIT), dispatched)
    assert not can_see(UNIT_ACTOR, make_ticket(db, "received"))
    assert not can_see(UNIT_ACTOR, make_ticket(db, "dispatched", kind="S6"))
    assert can_see(Actor("lead", "leader"), make_ticket(db, "received", kind="S6"))


def test_s6_is_never_dispatched(db, config):  # noqa: ANN001
    ticket = make_ticket(db, kind="S6", unit="区市场监管局")
    with pytest.raises(TransitionError) as refused:
        act(db, config, ticket["number"], "dispatch", OFFICE, {"unit": "区市场监管局"})
    assert refused.value.status == 409 and "区纪委" in refused.value.reason


def test_reclassify_keeps_a_correction_and_s6_pulls_the_ticket_back(db, config):  # noqa: ANN001
    ticket = make_ticket(db, "accepted")
    act(db, config, ticket["number"], "reclassify", OFFICE, {"kind": "S6"})
    after = tickets.get_ticket(db, ticket["number"])
    assert after["status"] == "received" and "discipline" in after["flags"]
    assert not can_see(UNIT_ACTOR, after)
    row = next(db.query("SELECT number, text, old_kind, new_kind, actor FROM corrections"))
    assert row == {"number": ticket["number"], "text": ticket["text"], "old_kind": "S2",
                   "new_kind": "S6", "actor": "office1"}
    actions = [e["action"] for e in tickets.events_of(db, ticket["id"])]
    assert actions[-2:] == ["reclassify", "refer"]


def test_reclassify_checks_kind_and_subtype(db, config):  # noqa: ANN001
    number = make_ticket(db)["number"]
    for params in ({"kind": "X9"}, {"kind": "D", "subtype": "P3"}, {"kind": "S2"}):
        with pytest.raises(TransitionError) as refused:
            act(db, config, number, "reclassify", OFFICE, params)
        assert refused.value.status == 400, params
    act(db, config, number, "reclassify", OFFICE, {"kind": "d", "subtype": "D5"})
    after = tickets.get_ticket(db, number)
    assert (after["kind"], after["subtype"]) == ("D", "D5")
    assert after["lead_units"] == ["区政府办公室", "区行政服务中心"]


def test_dispatch_takes_aliases_and_refuses_unknown_units(db, config):  # noqa: ANN001
    number = make_ticket(db)["number"]
    with pytest.raises(TransitionError) as refused:
        act(db, config, number, "dispatch", OFFICE, {"unit": "火星办事处"})
    assert refused.value.status == 400
    act(db, config, number, "dispatch", OFFICE, {"unit": "社保局"})
    assert tickets.get_ticket(db, number)["unit"] == "区人社局"


# ---------------------------------------------------------------- deadlines


def dispatch_at(db, config, moment: datetime, kind: str = "S2") -> dict:  # noqa: ANN001
    number = make_ticket(db, kind=kind, now=moment)["number"]
    act(db, config, number, "dispatch", OFFICE, {"unit": UNIT}, now=moment)
    return tickets.get_ticket(db, number)


def test_national_day_week_and_the_make_up_saturday(db, config):  # noqa: ANN001
    # 2026-10-01..07 are holidays; Saturday 2026-10-10 is a make-up working day.
    ticket = dispatch_at(db, config, datetime(2026, 9, 30, 10, 0, tzinfo=TZ))
    assert ticket["sign_due_at"] == "2026-10-08T10:00:00+08:00"
    assert ticket["due_at"] == "2026-10-13T10:00:00+08:00"  # 8, 9, 10 (Sat), 12, 13


def test_per_kind_override(tmp_path):  # noqa: ANN001
    config = make_config(tmp_path, "[deadlines.kinds.S1]\nanswer_working_days = 3\n")
    app = create_app(config)
    db = get_db(config["storage.path"])
    s1 = dispatch_at(db, config, datetime(2026, 9, 30, 10, 0, tzinfo=TZ), kind="S1")
    s2 = dispatch_at(db, config, datetime(2026, 9, 30, 10, 0, tzinfo=TZ), kind="S2")
    assert s1["due_at"] == "2026-10-10T10:00:00+08:00"  # the make-up Saturday counts
    assert s2["due_at"] == "2026-10-13T10:00:00+08:00"
    assert app is not None
    close_all()


def test_years_beyond_the_calendar_count_weekends_with_a_warning(monkeypatch, caplog):  # noqa: ANN001
    monkeypatch.setattr(workdays, "_warned_years", set())
    friday = datetime(2040, 1, 6, 9, 0, tzinfo=TZ)
    with caplog.at_level(logging.WARNING, logger="storage.workdays"):
        assert workdays.add_working_days(friday, 1).date().isoformat() == "2040-01-09"
    assert "2040" in caplog.text


def test_overdue_is_computed_from_the_deadlines(db, config):  # noqa: ANN001
    moment = datetime(2026, 9, 30, 10, 0, tzinfo=TZ)
    ticket = dispatch_at(db, config, moment)
    assert not is_overdue(ticket, datetime(2026, 10, 8, 9, 59, tzinfo=TZ))
    assert is_overdue(ticket, datetime(2026, 10, 8, 10, 1, tzinfo=TZ))  # not signed
    act(db, config, ticket["number"], "accept", UNIT_ACTOR,
        now=datetime(2026, 10, 8, 11, 0, tzinfo=TZ))
    signed = tickets.get_ticket(db, ticket["number"])
    assert not is_overdue(signed, datetime(2026, 10, 13, 9, 0, tzinfo=TZ))
    assert is_overdue(signed, datetime(2026, 10, 13, 10, 1, tzinfo=TZ))


# ---------------------------------------------------------------- extensions


def test_extension_requested_by_the_unit_and_approved_by_the_office(db, config):  # noqa: ANN001
    moment = datetime(2026, 9, 30, 10, 0, tzinfo=TZ)
    number = dispatch_at(db, config, moment)["number"]
    act(db, config, number, "request_extension", UNIT_ACTOR,
        {"note": "需要调取窗口监控", "days": 3}, now=moment + timedelta(days=1))
    with pytest.raises(TransitionError) as refused:
        act(db, config, number, "approve_extension", UNIT_ACTOR, {"days": 3})
    assert refused.value.status == 403
    act(db, config, number, "approve_extension", OFFICE, {"days": 3},
        now=moment + timedelta(days=2))
    ticket = tickets.get_ticket(db, number)
    assert ticket["due_at"] == "2026-10-16T10:00:00+08:00"  # 13 Oct + 14, 15, 16
    texts = [r["payload"] for r in db.query("SELECT payload FROM outbox WHERE audience ="
                                            " 'citizen'")]
    assert any("2026-10-16" in text for text in texts)


def dispatched_with_liaisons(tmp_path, liaisons: str):  # noqa: ANN001, ANN201
    """A fresh app whose 区人社局 has these liaison OpenIDs, and a ticket dispatched there."""
    config = make_config(tmp_path, f'[units.liaisons]\n"区人社局" = [{liaisons}]\n')
    create_app(config)
    db = get_db(config["storage.path"])
    moment = datetime(2026, 9, 30, 10, 0, tzinfo=TZ)
    return config, db, moment, dispatch_at(db, config, moment)["number"]


def test_approved_extension_tells_the_units_liaisons_the_new_deadline(tmp_path):  # noqa: ANN001
    config, db, moment, number = dispatched_with_liaisons(tmp_path, '"oLiaisonRSJ"')
    queued = count_outbox(db, "unit")
    act(db, config, number, "approve_extension", OFFICE, {"days": 3},
        now=moment + timedelta(days=2))
    rows = list(db.query("SELECT recipient, payload FROM outbox WHERE audience = 'unit'"
                         " ORDER BY id"))[queued:]
    assert [row["recipient"] for row in rows] == ["oLiaisonRSJ"]
    assert say("unit_approve_extension", number=number, due="2026-10-16 10:00") in (
        rows[0]["payload"])
    close_all()


@pytest.mark.parametrize("days", [0, 31, "abc", True, -1])
def test_extension_days_must_be_sensible(db, config, days):  # noqa: ANN001
    number = dispatch_at(db, config, clock.now())["number"]
    with pytest.raises(TransitionError) as refused:
        act(db, config, number, "approve_extension", OFFICE, {"days": days})
    assert refused.value.status == 400


def test_deny_extension_answers_the_request_and_changes_nothing_else(db, config):  # noqa: ANN001
    moment = datetime(2026, 9, 30, 10, 0, tzinfo=TZ)
    number = dispatch_at(db, config, moment)["number"]
    act(db, config, number, "accept", UNIT_ACTOR, now=moment + timedelta(hours=1))
    act(db, config, number, "request_extension", UNIT_ACTOR,
        {"note": "需要调取窗口监控", "days": 3}, now=moment + timedelta(days=1))
    before = tickets.get_ticket(db, number)
    assert pending_extension(tickets.events_of(db, before["id"]))["note"] == (
        "3个工作日：需要调取窗口监控")
    citizen_rows = count_outbox(db, "citizen")
    act(db, config, number, "deny_extension", OFFICE, {"note": "监控已调取，请按期答复"},
        now=moment + timedelta(days=2))
    after = tickets.get_ticket(db, number)
    assert (after["status"], after["due_at"], after["sign_due_at"]) == (
        "accepted", before["due_at"], before["sign_due_at"]) == (
        "accepted", "2026-10-13T10:00:00+08:00", "2026-10-08T10:00:00+08:00")
    events = tickets.events_of(db, after["id"])
    last = events[-1]
    assert (last["action"], last["actor"], last["role"], last["from_status"], last["to_status"],
            last["note"], last["internal"]) == (
        "deny_extension", "office1", "office", "accepted", "accepted", "监控已调取，请按期答复", 1)
    assert last["at"] == "2026-10-02T10:00:00+08:00"
    assert pending_extension(events) is None
    assert count_outbox(db, "citizen") == citizen_rows  # an internal matter: no citizen notice
    act(db, config, number, "request_extension", UNIT_ACTOR, {"note": "群众补充了新情况"},
        now=moment + timedelta(days=3))
    again = pending_extension(tickets.events_of(db, after["id"]))
    assert again is not None and again["note"] == "群众补充了新情况"


@pytest.mark.parametrize("actor", [UNIT_ACTOR, Actor("lead1", "leader")])
def test_only_the_office_may_deny_an_extension(db, config, actor):  # noqa: ANN001
    number = make_ticket(db, "accepted")["number"]
    act(db, config, number, "request_extension", UNIT_ACTOR, {"note": "需要调取监控"})
    with pytest.raises(TransitionError) as refused:
        act(db, config, number, "deny_extension", actor, {"note": "请按期答复"})
    assert refused.value.status == 403
    events = tickets.events_of(db, tickets.get_ticket(db, number)["id"])
    assert events[-1]["action"] == "request_extension" and pending_extension(events)


def test_deny_extension_needs_a_reason(db, config):  # noqa: ANN001
    number = make_ticket(db, "accepted")["number"]
    act(db, config, number, "request_extension", UNIT_ACTOR, {"note": "需要调取监控"})
    for params in ({}, {"note": ""}, {"note": "   "}):
        with pytest.raises(TransitionError) as refused:
            act(db, config, number, "deny_extension", OFFICE, params)
        assert refused.value.status == 400 and "note" in refused.value.reason
    events = tickets.events_of(db, tickets.get_ticket(db, number)["id"])
    assert pending_extension(events) is not None  # still waiting for a decision


@pytest.mark.parametrize("status", ["dispatched", "accepted", "reopened"])
def test_deny_extension_needs_a_waiting_request(db, config, status):  # noqa: ANN001
    number = make_ticket(db, status)["number"]
    reason = {"note": "请按期答复"}

    def refusal() -> TransitionError:
        with pytest.raises(TransitionError) as refused:
            act(db, config, number, "deny_extension", OFFICE, reason)
        return refused.value

    never_asked = refusal()
    assert never_asked.status == 409 and "没有待审批的延期申请" in never_asked.reason
    act(db, config, number, "request_extension", UNIT_ACTOR, {"note": "需要调取监控"})
    act(db, config, number, "approve_extension", OFFICE, {"days": 3})
    assert refusal().status == 409  # already decided: approved
    act(db, config, number, "request_extension", UNIT_ACTOR, {"note": "还需要时间"})
    act(db, config, number, "deny_extension", OFFICE, reason)
    assert refusal().status == 409  # already decided: denied
    act(db, config, number, "request_extension", UNIT_ACTOR, {"note": "再申请一次"})
    act(db, config, number, "dispatch", OFFICE, {"unit": OTHER_UNIT})
    assert refusal().status == 409  # a new dispatch drops the old unit's request
    denials = [e for e in tickets.events_of(db, tickets.get_ticket(db, number)["id"])
               if e["action"] == "deny_extension"]
    assert len(denials) == 1


def test_deny_extension_tells_the_units_liaisons(tmp_path):  # noqa: ANN001
    config, db, moment, number = dispatched_with_liaisons(tmp_path, '"oLiaisonRSJ", "oLiaison2"')
    act(db, config, number, "request_extension", UNIT_ACTOR, {"note": "需要调取监控"},
        now=moment + timedelta(hours=2))
    queued = count_outbox(db, "unit")
    act(db, config, number, "deny_extension", OFFICE, {"note": "监控已调取，请按期答复。"},
        now=moment + timedelta(days=1))
    rows = list(db.query("SELECT recipient, payload, ticket_number FROM outbox"
                         " WHERE audience = 'unit' ORDER BY id"))[queued:]
    assert sorted(row["recipient"] for row in rows) == ["oLiaison2", "oLiaisonRSJ"]
    expected = say("unit_deny_extension", number=number, note="监控已调取，请按期答复",
                   due="2026-10-13 10:00")
    for row in rows:
        assert row["ticket_number"] == number
        assert expected in row["payload"] and "未获同意" in row["payload"]
        assert "请按期答复。。" not in row["payload"]
    assert count_outbox(db, "citizen", "未获同意") == 0
    close_all()


# ---------------------------------------------------------------- citizen side


def test_unsatisfied_reopens_with_a_new_deadline(db, config):  # noqa: ANN001
    moment = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
    number = make_ticket(db, "answered", now=moment)["number"]
    citizen = Actor("citizen", "citizen")
    act(db, config, number, "rate", citizen, {"rating": "unsatisfied"}, now=moment)
    ticket = tickets.get_ticket(db, number)
    assert ticket["status"] == "reopened" and ticket["rating"] == "unsatisfied"
    assert ticket["due_at"] == "2026-11-09T09:00:00+08:00"
    liaison_rows = db.execute("SELECT count(*) FROM outbox WHERE audience = 'unit'").fetchone()
    assert liaison_rows[0] == 0  # no liaisons configured: nothing to queue, nothing fails


def test_supplement_reaches_the_unit_liaisons(tmp_path):  # noqa: ANN001
    config = make_config(tmp_path, '[units.liaisons]\n"区人社局" = ["oLiaisonRSJ"]\n')
    create_app(config)
    db = get_db(config["storage.path"])
    number = make_ticket(db, "accepted")["number"]
    act(db, config, number, "supplement", Actor("citizen", "citizen"), {"note": "当时是3号窗口"})
    row = db.execute("SELECT recipient, payload FROM outbox WHERE audience = 'unit'").fetchone()
    assert row[0] == "oLiaisonRSJ" and "当时是3号窗口" in row[1]
    close_all()
