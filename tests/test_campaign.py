"""The campaign config, its validation, the office's status updates and the console pages."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot import campaign, create_app
from bot.config import ConfigError
from bot.digest.periods import period_before
from bot.digest.run import run_digest
from storage import clock, users
from storage.db import close_all
from tests.conftest import campaign_example, make_config
from tests.test_stats import NOW, seed

EXAMPLE = campaign_example()
PASSWORD = "passw0rd-long"


@pytest.fixture
def config(tmp_path):  # noqa: ANN001, ANN201
    return make_config(tmp_path, EXAMPLE)


def _plan(tmp_path, text: str) -> campaign.Campaign:  # noqa: ANN001
    return campaign.from_config(make_config(tmp_path, text))


def test_the_example_carries_the_plans_timetable(config) -> None:  # noqa: ANN001
    plan = campaign.from_config(config)
    assert [(p.name, p.start, p.end) for p in plan.phases] == [
        ("动员部署", date(2026, 6, 1), date(2026, 6, 30)),
        ("自查自纠", date(2026, 7, 1), date(2026, 10, 30)),
        ("整改落实", date(2026, 11, 1), date(2026, 12, 15)),
        ("考核验收", date(2026, 12, 16), date(2026, 12, 30))]
    assert [(t.id, t.deadline.isoformat()) for t in plan.targets] == [
        ("T1", "2026-07-15"), ("T2", "2026-10-15"), ("T3", "2026-10-31"),
        ("T4", "2026-12-31"), ("T5", "2026-12-31"), ("T6", "2026-12-31"),
        ("T7", "2026-10-30"), ("T8", "2026-12-15")]
    assert plan.targets[0].lead_units == ("区委编办", "区法制办")
    assert all(t.status == "not_started" for t in plan.targets)


def test_current_phase_and_days_left(config) -> None:  # noqa: ANN001
    plan = campaign.from_config(config)
    phase, left = campaign.current_phase(plan, date(2026, 7, 1))
    assert (phase.name, left) == ("自查自纠", 122)
    phase, left = campaign.current_phase(plan, date(2026, 12, 30))
    assert (phase.name, left) == ("考核验收", 1)
    assert campaign.current_phase(plan, date(2026, 12, 31)) == (None, None)
    assert campaign.current_phase(plan, date(2026, 10, 31)) == (None, None)  # gap in the plan


def test_full_dates_and_year(tmp_path) -> None:  # noqa: ANN001
    plan = _plan(tmp_path, """
[campaign]
year = 2015
[[campaign.phases]]
name = "动员部署"
start = "06-01"
end = "2015-06-30"
[[campaign.targets]]
id = "X"
text = "权力清单"
deadline = 2015-07-15
lead_units = ["区委编办"]
status = "done"
""")
    assert (plan.phases[0].start, plan.phases[0].end) == (date(2015, 6, 1), date(2015, 6, 30))
    assert (plan.targets[0].deadline, plan.targets[0].status) == (date(2015, 7, 15), "done")


@pytest.mark.parametrize(("toml", "key"), [
    ('[[campaign.phases]]\nname = "a"\nstart = "13-01"\nend = "12-01"',
     "campaign.phases[0].start"),
    ('[[campaign.phases]]\nname = "a"\nstart = "06-01"\nend = "05-01"',
     "campaign.phases[0].end"),
    ('[[campaign.phases]]\nstart = "06-01"\nend = "06-30"', "campaign.phases[0].name"),
    ('[[campaign.phases]]\nname = "a"\nstart = "06-01"\nend = "06-30"\n'
     '[[campaign.phases]]\nname = "b"\nstart = "06-30"\nend = "07-30"',
     "campaign.phases[1].start"),
    ('[[campaign.targets]]\ntext = "t"\ndeadline = "07-15"', "campaign.targets[0].id"),
    ('[[campaign.targets]]\nid = "T1"\ntext = "t"', "campaign.targets[0].deadline"),
    ('[[campaign.targets]]\nid = "T1"\ntext = "t"\ndeadline = "7/15"',
     "campaign.targets[0].deadline"),
    ('[[campaign.targets]]\nid = "T1"\ntext = "t"\ndeadline = "07-15"\nlead_units = "编办"',
     "campaign.targets[0].lead_units"),
    ('[[campaign.targets]]\nid = "T1"\ntext = "t"\ndeadline = "07-15"\nstatus = "finished"',
     "campaign.targets[0].status"),
    ('[[campaign.targets]]\nid = "T1"\ntext = "t"\ndeadline = "07-15"\n'
     '[[campaign.targets]]\nid = "T1"\ntext = "u"\ndeadline = "08-15"',
     "campaign.targets[1].id"),
])
def test_bad_campaign_config_names_the_key(tmp_path, toml: str, key: str) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError, match=f"'{key.replace('[', '.').replace(']', '.')}"):
        _plan(tmp_path, toml)


def test_the_app_refuses_to_start_on_a_bad_campaign(tmp_path) -> None:  # noqa: ANN001
    bad = make_config(tmp_path, '[[campaign.targets]]\nid = "T1"\ntext = "t"\n'
                                'deadline = "02-30"')
    with pytest.raises(ConfigError, match="campaign.targets.0..deadline"):
        create_app(bad)
    close_all()


def test_office_status_overrides_the_config(db, config) -> None:  # noqa: ANN001
    plan = campaign.from_config(config)
    campaign.set_status(db, plan, "T2", "in_progress", "已报区政府审定", "office1")
    campaign.set_status(db, plan, "T2", "done", "10月12日已公布", "office2")
    merged = {t.id: t for t in campaign.targets_with_status(db, plan)}
    assert (merged["T2"].status, merged["T2"].note, merged["T2"].updated_by) == (
        "done", "10月12日已公布", "office2")
    assert merged["T1"].status == "not_started"
    with pytest.raises(KeyError):
        campaign.set_status(db, plan, "T99", "done", "", "office1")
    overdue, soon = campaign.attention(list(merged.values()), date(2026, 10, 20))
    assert [t.id for t in overdue] == ["T1"]          # T2 is done
    assert [t.id for t in soon] == ["T7", "T3"]       # 10-30, 10-31


def _sign_in(client, db, role: str, unit: str | None = None) -> str:  # noqa: ANN001
    user = users.create_user(db, f"{role}1", role, PASSWORD, unit=unit)
    with client.session_transaction() as session:
        session["user_id"] = user["id"]
        session["pw"] = user["password_hash"][-16:]
        session["csrf_token"] = "tok"
    return "tok"


def test_office_updates_a_target_in_the_console(app, db) -> None:  # noqa: ANN001
    client = app.test_client()
    token = _sign_in(client, db, "office")
    page = client.get("/console/campaign")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "公布区级行政权力清单" in text and "动员部署" in text
    response = client.post("/console/campaign/T1", data={
        "status": "done", "note": "7月10日已公布", "csrf_token": token})
    assert response.status_code == 303
    row = db.execute("SELECT status, note, updated_by FROM campaign_targets").fetchone()
    assert tuple(row) == ("done", "7月10日已公布", "office1")
    assert "7月10日已公布" in client.get("/console/campaign").get_data(as_text=True)
    assert client.post("/console/campaign/T99", data={
        "status": "done", "csrf_token": token}).status_code == 404
    client.post("/console/campaign/T1", data={"status": "bogus", "csrf_token": token})
    assert db.execute("SELECT status FROM campaign_targets").fetchone()[0] == "done"


def test_leaders_read_but_do_not_update_and_units_see_neither(app, db) -> None:  # noqa: ANN001
    leader = app.test_client()
    token = _sign_in(leader, db, "leader")
    assert leader.get("/console/campaign").status_code == 200
    assert "保存" not in leader.get("/console/campaign").get_data(as_text=True)
    assert leader.post("/console/campaign/T1", data={
        "status": "done", "csrf_token": token}).status_code == 403
    unit = app.test_client()
    _sign_in(unit, db, "unit", unit="区人社局")
    assert unit.get("/console/campaign").status_code == 403
    assert unit.get("/console/digests").status_code == 403
    assert app.test_client().get("/console/digests").status_code == 302  # to the login page


def test_digest_archive_pages(app, db, config) -> None:  # noqa: ANN001
    seed(db)
    run_digest(db, config, period_before("daily", NOW), NOW)
    client = app.test_client()
    _sign_in(client, db, "leader")
    listing = client.get("/console/digests").get_data(as_text=True)
    assert "daily-2026-11-24" in listing
    page = client.get("/console/digests/daily-2026-11-24")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "新增投诉5件，办结1件，当前逾期2件，移送区纪委线索1件" in html
    assert "GF20261124-0003" not in html and "投诉正文" not in html
    markdown = client.get("/console/digests/daily-2026-11-24.md")
    assert markdown.status_code == 200 and markdown.mimetype == "text/markdown"
    assert "## 一、新增投诉 5 件" in markdown.get_data(as_text=True)
    assert client.get("/console/digests/daily-2026-11-23").status_code == 404
    kept = Path(config["storage.path"]).parent / "digests" / "daily-2026-11-24.md"
    assert kept.read_text("utf-8") == markdown.get_data(as_text=True)
    assert clock.iso(NOW)[:10] in html
