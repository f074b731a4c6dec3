"""Every figure of storage.stats on a seeded database whose answers are worked out by hand.

``seed`` is shared with the digest tests: the period is Tuesday 2026-11-24,
``NOW`` is the next morning at 08:30.
"""

from __future__ import annotations

import json
from typing import Any

from storage import clock, stats

NOW = clock.parse("2026-11-25T08:30:00+08:00")
DAY = ("2026-11-24T00:00:00+08:00", "2026-11-25T00:00:00+08:00")
A, B, C = "区人社局", "区市场监管局", "区不动产登记中心"


def _t(day: str, hour: str = "09:00") -> str:
    return f"2026-11-{day}T{hour}:00+08:00"


def add_ticket(db: Any, number: str, kind: str, status: str, created_at: str,
               **fields: Any) -> int:
    """Insert one ticket row as the lifecycle would have left it."""
    row = {"number": number, "openid": f"o-{number}", "text": f"投诉正文 {number}",
           "kind": kind, "status": status, "created_at": created_at,
           "updated_at": created_at, **fields}
    if "flags" in row:
        row["flags"] = json.dumps(row["flags"])
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cursor = db.execute(f"INSERT INTO tickets ({columns}) VALUES ({marks})", list(row.values()))
    return cursor.lastrowid


def add_event(db: Any, ticket_id: int, action: str, at: str, note: str | None) -> None:
    db.execute("INSERT INTO events (ticket_id, at, actor, role, action, note)"
               " VALUES (?, ?, 'citizen', 'citizen', ?, ?)", [ticket_id, at, action, note])


def seed(db: Any) -> None:
    """Eleven tickets (one a greeting) and a few events; figures in the tests below."""
    t1 = add_ticket(db, "GF20261124-0001", "S1", "accepted", _t("24", "08:50"), unit=A,
                    dispatched_at=_t("24"), sign_due_at=_t("25"), signed_at=_t("24", "10:00"),
                    due_at=_t("30"))
    add_ticket(db, "GF20261124-0002", "S2", "dispatched", _t("24", "09:50"), unit=A,
               dispatched_at=_t("24", "10:00"), sign_due_at=_t("25", "10:00"),
               due_at="2026-12-01T10:00:00+08:00")
    add_ticket(db, "GF20261124-0003", "S6", "received", _t("24", "11:00"), unit=B,
               flags=["discipline"])
    add_ticket(db, "GF20261124-0004", "D", "received", _t("24", "12:00"))
    add_ticket(db, "GF20261124-0005", "NONE", "received", _t("24", "13:00"))
    add_ticket(db, "GF20261124-0006", "P", "rejected", _t("24", "09:20"), unit=B,
               dispatched_at=_t("24", "09:30"), sign_due_at=_t("25", "09:30"),
               due_at="2026-12-01T09:30:00+08:00", closed_at=_t("24", "17:00"))
    add_ticket(db, "GF20261110-0001", "S3", "closed", _t("10", "08:00"), unit=A,
               dispatched_at=_t("10"), sign_due_at=_t("11"), signed_at=_t("11", "08:00"),
               due_at=_t("17"), answered_at=_t("16"), closed_at=_t("24", "12:00"),
               rating="satisfied")
    add_ticket(db, "GF20261110-0002", "S4", "dispatched", _t("10", "08:10"), unit=B,
               dispatched_at=_t("10"), sign_due_at=_t("11"), due_at=_t("17"), overdue=1)
    t9 = add_ticket(db, "GF20261112-0001", "S5", "accepted", _t("12", "08:00"), unit=B,
                    dispatched_at=_t("12"), sign_due_at=_t("13"), signed_at=_t("13", "10:00"),
                    due_at=_t("19"))
    add_ticket(db, "GF20261112-0002", "S1", "reopened", _t("12", "08:10"), unit=A,
               dispatched_at=_t("12"), sign_due_at=_t("13"), signed_at=_t("12", "15:00"),
               due_at=_t("30"), rating="unsatisfied")
    add_ticket(db, "GF20261110-0003", "S2", "closed", _t("10", "08:20"), unit=C,
               dispatched_at=_t("10"), sign_due_at=_t("11"), signed_at=_t("10", "11:00"),
               due_at=_t("17"), answered_at=_t("14"), closed_at=_t("20"), rating="basically")
    add_event(db, t1, "supplement", _t("24", "15:00"), "并单：又去了一次还是不办")
    add_event(db, t1, "supplement", _t("24", "16:00"), "并单：第三次反映")
    add_event(db, t1, "supplement", _t("24", "16:30"), "补充：窗口是5号")
    add_event(db, t9, "supplement", _t("23", "16:00"), "并单：前一天的")


def test_new_complaints_by_kind_and_unit_leave_out_greetings(db) -> None:  # noqa: ANN001
    seed(db)
    assert stats.new_complaints(db, *DAY) == 5
    assert stats.counts_by_kind(db, *DAY) == {
        "S1": 1, "S2": 1, "S3": 0, "S4": 0, "S5": 0, "S6": 1, "D": 1, "P": 1}
    assert list(stats.counts_by_unit(db, *DAY).items()) == [(A, 2), (B, 2), (None, 1)]


def test_closed_rejected_referrals_and_repeats(db) -> None:  # noqa: ANN001
    seed(db)
    assert stats.closed_count(db, *DAY) == 1
    assert stats.rejected_count(db, *DAY) == 1
    assert stats.discipline_referrals(db, *DAY) == 1
    assert stats.repeat_complaints(db, *DAY) == {"messages": 2, "tickets": 1}


def test_counts_by_status_cover_every_complaint(db) -> None:  # noqa: ANN001
    seed(db)
    assert stats.counts_by_status(db) == {
        "received": 2, "dispatched": 2, "accepted": 2, "returned": 0, "answered": 0,
        "reopened": 1, "closed": 2, "rejected": 1}


def test_daily_trend_includes_empty_days(db) -> None:  # noqa: ANN001
    seed(db)
    trend = stats.daily_trend(db, "2026-11-22T00:00:00+08:00", DAY[1])
    assert trend == [{"day": "2026-11-22", "count": 0}, {"day": "2026-11-23", "count": 0},
                     {"day": "2026-11-24", "count": 5}]


def test_overdue_tickets_longest_first_with_days_over(db) -> None:  # noqa: ANN001
    seed(db)
    overdue = stats.overdue_tickets(db, NOW)
    assert [(o["number"], o["unit"], o["days_over"], o["deadline"]) for o in overdue] == [
        ("GF20261110-0002", B, 14, _t("11")),   # never signed: since the signing deadline
        ("GF20261112-0001", B, 6, _t("19")),    # signed late, unanswered: answer deadline
    ]
    # working days after 11-11 up to 11-25: 10 (two weekends); after 11-19: 4
    assert [o["working_days_over"] for o in overdue] == [10, 4]
    assert len(stats.overdue_tickets(db, NOW, limit=1)) == 1


def test_unit_rates_and_ranking(db) -> None:  # noqa: ANN001
    seed(db)
    units = stats.unit_rates(db, _t("10", "00:00"), DAY[1], NOW)
    by_unit = {u["unit"]: u for u in units}
    assert [(u["unit"], u["rank"]) for u in units] == [(C, 1), (A, 2), (B, 3)]
    a = by_unit[A]
    assert (a["dispatched"], a["sign_due"], a["signed_on_time"], a["response_rate"]) == (
        4, 3, 3, 1.0)
    assert (a["answer_due"], a["resolved"], a["resolution_rate"]) == (1, 1, 1.0)
    assert (a["rated"], a["satisfied"], a["satisfaction_rate"]) == (2, 1, 0.5)
    assert a["score"] == 80.0
    b = by_unit[B]
    assert (b["dispatched"], b["sign_due"], b["signed_on_time"], b["answer_due"],
            b["resolved"], b["rated"]) == (3, 2, 0, 2, 0, 0)
    assert (b["response_rate"], b["resolution_rate"], b["satisfaction_rate"], b["score"]) == (
        0.0, 0.0, None, 0.0)
    assert by_unit[C]["score"] == 100.0


def test_unit_rates_leave_tickets_not_yet_due_out(db) -> None:  # noqa: ANN001
    seed(db)
    by_unit = {u["unit"]: u for u in stats.unit_rates(db, *DAY, NOW)}
    assert (by_unit[A]["dispatched"], by_unit[A]["sign_due"], by_unit[A]["response_rate"],
            by_unit[A]["resolution_rate"], by_unit[A]["score"]) == (2, 1, 1.0, None, 100.0)
    assert (by_unit[B]["score"], by_unit[B]["rank"]) == (None, None)


def test_rank_ties_share_a_position_and_change_is_against_previous() -> None:
    def unit(name: str, value: float | None, dispatched: int = 1) -> dict:
        return {"unit": name, "dispatched": dispatched, "score": value}

    ranked = stats.rank([unit("甲", 50.0), unit("乙", 90.0), unit("丙", 90.0, 3),
                         unit("丁", None)])
    assert [(u["unit"], u["rank"]) for u in ranked] == [
        ("丙", 1), ("乙", 1), ("甲", 3), ("丁", None)]
    previous = stats.rank([unit("甲", 95.0), unit("乙", 10.0)])
    changed = stats.with_rank_change(ranked, previous)
    assert [(u["unit"], u["previous_rank"], u["change"]) for u in changed] == [
        ("丙", None, None), ("乙", 2, 1), ("甲", 1, -2), ("丁", None, None)]


def test_score_renormalises_over_available_rates() -> None:
    item = {"response_rate": 0.5, "resolution_rate": None, "satisfaction_rate": 1.0}
    assert stats.score(item) == round(100 * (0.3 * 0.5 + 0.4 * 1.0) / 0.7, 1)
