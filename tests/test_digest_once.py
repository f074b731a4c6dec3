"""Exactly once per period: processes racing on one database file, restarts, missed runs."""

from __future__ import annotations

import multiprocessing
from datetime import datetime

import pytest

from bot import scheduler
from bot.config import parse_text
from bot.digest import run as digest_run
from bot.digest.periods import last_fire_time, latest_due, period_before
from bot.digest.run import run_digest, run_due
from storage import clock
from storage.db import close_all, get_db
from tests.test_stats import seed

LEADERS = ["oLeader-1", "oLeader-2"]
TZ = clock.TZ


def _config_text(tmp_path) -> str:  # noqa: ANN001
    return f"""
[wechat]
token = "t"
[storage]
path = "{tmp_path / 'race.db'}"
[scheduler]
enabled = false
[logging]
json = false
[leading_group]
openids = {LEADERS!r}
"""


@pytest.fixture
def settings(tmp_path):  # noqa: ANN001, ANN201
    yield parse_text(_config_text(tmp_path), "race")
    close_all()


def _race_worker(text: str, at: str, barrier, results) -> None:  # noqa: ANN001
    """One process: its own connection, wait for the others, then try to send."""
    cfg = parse_text(text, "race")
    db = get_db(cfg["storage.path"])
    now = clock.parse(at)
    barrier.wait()
    result = run_digest(db, cfg, period_before("daily", now), now)
    results.put(result.sent)


def test_processes_racing_send_one_digest(tmp_path, settings) -> None:  # noqa: ANN001
    seed(get_db(settings["storage.path"]))
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(4), context.Queue()
    text = _config_text(tmp_path)
    workers = [context.Process(target=_race_worker,
                               args=(text, "2026-11-25T08:30:00+08:00", barrier, results))
               for _ in range(4)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    assert sorted(outcomes) == [False, False, False, True]
    db = get_db(settings["storage.path"])
    assert [r["key"] for r in db.query("SELECT key FROM job_runs")] == [
        "digest:daily:2026-11-24"]
    rows = list(db.query("SELECT recipient FROM outbox WHERE dedupe_key LIKE 'digest:%'"))
    assert sorted(r["recipient"] for r in rows) == LEADERS
    assert db.execute("SELECT COUNT(*) FROM digests").fetchone()[0] == 1


def test_a_restart_does_not_resend(settings) -> None:  # noqa: ANN001
    db = get_db(settings["storage.path"])
    now = clock.parse("2026-11-25T08:30:00+08:00")
    assert run_digest(db, settings, period_before("daily", now), now).sent
    close_all()  # a new process would open a new connection
    db = get_db(settings["storage.path"])
    again = run_digest(db, settings, period_before("daily", now), now)
    assert not again.sent and again.recipients == 2 and "日报" in again.markdown
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 2


def test_a_failed_build_keeps_no_claim(settings, monkeypatch) -> None:  # noqa: ANN001
    db = get_db(settings["storage.path"])
    now = clock.parse("2026-11-25T08:30:00+08:00")

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(digest_run, "build", broken)
    with pytest.raises(RuntimeError):
        run_digest(db, settings, period_before("daily", now), now)
    assert db.execute("SELECT COUNT(*) FROM job_runs").fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0
    monkeypatch.undo()
    assert run_digest(db, settings, period_before("daily", now), now).sent


def _at(text: str) -> datetime:
    return clock.parse(f"2026-11-{text}:00+08:00")


def test_latest_due_period_follows_the_cron_times() -> None:
    assert last_fire_time("30 8 * * *", "Asia/Shanghai", _at("25T08:29")) == _at("24T08:30")
    assert latest_due("daily", "30 8 * * *", "Asia/Shanghai", _at("25T08:29")).slug == (
        "daily-2026-11-23")
    assert latest_due("daily", "30 8 * * *", "Asia/Shanghai", _at("25T08:30")).slug == (
        "daily-2026-11-24")
    assert latest_due("weekly", "0 9 * * mon", "Asia/Shanghai", _at("25T10:00")).slug == (
        "weekly-2026-11-16")
    assert latest_due("weekly", "0 9 * * mon", "Asia/Shanghai", _at("23T08:59")).slug == (
        "weekly-2026-11-09")


def test_catch_up_after_a_missed_run_sends_once(settings) -> None:  # noqa: ANN001
    db = get_db(settings["storage.path"])
    # the 11-25 08:30 run happened
    assert run_due(db, settings, "daily", _at("25T08:30")).period.slug == "daily-2026-11-24"
    assert run_due(db, settings, "daily", _at("25T09:00")) is None
    # the server was down at 11-26 08:30 and comes back at 11:00
    assert run_due(db, settings, "daily", _at("26T07:00")) is None
    caught = run_due(db, settings, "daily", _at("26T11:00"))
    assert caught is not None and caught.sent and caught.period.slug == "daily-2026-11-25"
    assert run_due(db, settings, "daily", _at("26T11:05")) is None
    assert run_due(db, settings, "daily", _at("27T08:00")) is None
    keys = [r[0] for r in db.execute("SELECT key FROM job_runs ORDER BY key")]
    assert keys == ["digest:daily:2026-11-24", "digest:daily:2026-11-25"]
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 4


def test_scheduler_wires_cron_times_and_a_catch_up(settings) -> None:  # noqa: ANN001
    jobs = {name: trigger for name, _, trigger in scheduler._jobs(settings)}
    daily, weekly = jobs["digest-daily"]["trigger"], jobs["digest-weekly"]["trigger"]
    assert daily.get_next_fire_time(None, _at("25T00:00")) == _at("25T08:30")
    assert weekly.get_next_fire_time(None, _at("25T00:00")) == _at("30T09:00")
    assert str(daily.timezone) == "Asia/Shanghai"
    assert jobs["digest-catch-up"]["trigger"] == "interval"
    assert "next_run_time" in jobs["digest-catch-up"]  # at start-up
    assert jobs["leader-alerts"]["trigger"] == "interval"
