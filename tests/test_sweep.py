"""The deadline sweep with a fixed clock: overdue, reminders, escalation, auto-close, twice."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from bot import create_app
from bot.cli import main
from bot.config import load
from bot.sweep import sweep
from handlers.casework import act
from storage import clock, conversations, tickets
from storage.db import close_all, get_db
from storage.lifecycle import Actor
from tests.conftest import make_config
from tests.test_lifecycle import OFFICE, UNIT, UNIT_ACTOR, make_ticket

TZ = clock.TZ
DISPATCHED = datetime(2026, 9, 30, 10, 0, tzinfo=TZ)  # sign by 10-08 10:00, answer by 10-13
EXTRA = """
[units.liaisons]
"区人社局" = ["oLiaisonRSJ"]

[office]
openids = ["oOffice1"]

[deadlines]
remind_hours_before = 4
auto_close_days = 7
"""
ZERO = {"overdue": 0, "escalated": 0, "reminded": 0, "closed": 0, "conversations_expired": 0}


@pytest.fixture
def setup(tmp_path):  # noqa: ANN001, ANN201
    config = make_config(tmp_path, EXTRA)
    create_app(config)
    yield get_db(config["storage.path"]), config
    close_all()


def dispatched(db, config, moment: datetime = DISPATCHED) -> str:  # noqa: ANN001
    number = make_ticket(db, now=moment)["number"]
    act(db, config, number, "dispatch", OFFICE, {"unit": UNIT}, now=moment)
    return number


def outbox(db, audience: str) -> list[tuple[str, str]]:  # noqa: ANN001
    rows = db.query("SELECT recipient, payload FROM outbox WHERE audience = ? ORDER BY id",
                    [audience])
    return [(row["recipient"], json.loads(row["payload"])["text"]) for row in rows]


def test_nothing_to_do(setup):  # noqa: ANN001
    db, config = setup
    assert sweep(db, config, DISPATCHED) == ZERO


def test_unsigned_ticket_becomes_overdue_escalates_once_and_twice_changes_nothing(setup):  # noqa: ANN001
    db, config = setup
    number = dispatched(db, config)
    late = datetime(2026, 10, 8, 10, 30, tzinfo=TZ)
    counts = sweep(db, config, late)
    assert counts["overdue"] == 1 and counts["escalated"] == 1
    assert sweep(db, config, late) == ZERO
    assert sweep(db, config, late + timedelta(hours=1)) == ZERO
    ticket = tickets.get_ticket(db, number)
    assert ticket["overdue"] and ticket["escalated_at"] == clock.iso(late)
    assert ticket["alerted_at"] is None  # leaders' alerts belong to the digest
    events = [(e["action"], e["note"]) for e in tickets.events_of(db, ticket["id"])]
    assert [action for action, _ in events][-2:] == ["overdue", "escalate"]
    assert "签收期限" in events[-2][1]
    assert [recipient for recipient, _ in outbox(db, "office")] == ["oOffice1"]
    assert number in outbox(db, "office")[0][1]


def test_reminder_before_the_deadline_once_per_deadline(setup):  # noqa: ANN001
    db, config = setup
    number = dispatched(db, config)
    assert sweep(db, config, datetime(2026, 10, 8, 5, 59, tzinfo=TZ))["reminded"] == 0
    soon = datetime(2026, 10, 8, 6, 30, tzinfo=TZ)  # within 4 hours of signing
    assert sweep(db, config, soon)["reminded"] == 1
    assert sweep(db, config, soon + timedelta(hours=1)) == ZERO
    assert tickets.get_ticket(db, number)["reminded_at"] == clock.iso(soon)
    act(db, config, number, "accept", UNIT_ACTOR, now=soon + timedelta(hours=2))
    # the answer deadline (10-13 10:00) is a new deadline: one more reminder
    assert sweep(db, config, datetime(2026, 10, 13, 7, 0, tzinfo=TZ))["reminded"] == 1
    reminders = [text for recipient, text in outbox(db, "unit") if "请及时" in text]
    assert len(reminders) == 2 and "签收" in reminders[0] and "答复" in reminders[1]


def test_answer_deadline_missed_after_signing(setup):  # noqa: ANN001
    db, config = setup
    number = dispatched(db, config)
    act(db, config, number, "accept", UNIT_ACTOR, now=DISPATCHED + timedelta(hours=1))
    assert sweep(db, config, datetime(2026, 10, 13, 9, 0, tzinfo=TZ))["overdue"] == 0
    assert sweep(db, config, datetime(2026, 10, 13, 10, 1, tzinfo=TZ))["overdue"] == 1
    note = tickets.events_of(db, tickets.get_ticket(db, number)["id"])[-2]["note"]
    assert "答复期限" in note


def test_answering_clears_overdue_and_extension_rearms_escalation(setup):  # noqa: ANN001
    db, config = setup
    number = dispatched(db, config)
    sweep(db, config, datetime(2026, 10, 9, 9, 0, tzinfo=TZ))
    act(db, config, number, "approve_extension", OFFICE, {"days": 5},
        now=datetime(2026, 10, 9, 10, 0, tzinfo=TZ))
    ticket = tickets.get_ticket(db, number)
    assert not ticket["overdue"] and ticket["escalated_at"] is None


def test_auto_close_after_the_configured_days(setup):  # noqa: ANN001
    db, config = setup
    answered_at = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
    silent = make_ticket(db, "answered", now=answered_at)["number"]
    rated = make_ticket(db, "answered", now=answered_at)["number"]
    act(db, config, rated, "rate", Actor("citizen", "citizen"), {"rating": "basically"},
        now=answered_at)
    assert sweep(db, config, answered_at + timedelta(days=6))["closed"] == 0
    assert sweep(db, config, answered_at + timedelta(days=7))["closed"] == 1
    assert sweep(db, config, answered_at + timedelta(days=8)) == ZERO
    ticket = tickets.get_ticket(db, silent)
    assert ticket["status"] == "closed" and ticket["rating"] is None
    assert tickets.events_of(db, ticket["id"])[-1]["actor"] == "system"
    assert any("已办结" in text for _, text in outbox(db, "citizen"))


def test_idle_conversations_expire(setup):  # noqa: ANN001
    db, config = setup
    moment = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
    conversations.touch(db, "oCitizen1", "ask_phone", {"ticket": "GF1"}, moment)
    assert sweep(db, config, moment + timedelta(minutes=29))["conversations_expired"] == 0
    assert sweep(db, config, moment + timedelta(minutes=31))["conversations_expired"] == 1
    assert conversations.load(db, "oCitizen1")["state"] == "idle"


def test_discipline_referrals_are_left_alone(setup):  # noqa: ANN001
    db, config = setup
    ticket = make_ticket(db, "received", kind="S6", now=DISPATCHED)
    assert sweep(db, config, DISPATCHED + timedelta(days=60)) == ZERO
    assert tickets.get_ticket(db, ticket["number"])["overdue"] is False


def test_sweep_runs_on_the_scheduler(setup):  # noqa: ANN001
    from bot import jobs
    from bot import sweep as sweep_module

    _, config = setup
    wired = {name: (function, trigger) for name, function, trigger in jobs.extra_jobs(config)}
    function, trigger = wired["sweep"]
    assert function is sweep_module.scheduled
    assert trigger == {"trigger": "interval", "minutes": config["scheduler.sweep_minutes"]}
    function(config)  # runs against the configured database without error


def test_command_line_prints_the_counts(tmp_path, capsys):  # noqa: ANN001
    config_file = tmp_path / "bot.toml"
    config_file.write_text(f'[wechat]\ntoken = "t"\n[storage]\npath = "{tmp_path / "c.db"}"\n'
                           + EXTRA, "utf-8")
    settings = load(str(config_file))
    create_app(settings)
    db = get_db(settings["storage.path"])
    dispatched(db, settings)
    three_weeks = (DISPATCHED + timedelta(weeks=3)).isoformat()
    assert main(["sweep", "--config", str(config_file), "--now", three_weeks]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["overdue"] == 1 and first["escalated"] == 1
    assert main(["sweep", "--config", str(config_file), "--now", three_weeks]) == 0
    assert json.loads(capsys.readouterr().out) == ZERO
    assert main(["sweep", "--config", str(config_file), "--now", "next tuesday"]) == 1
    close_all()
