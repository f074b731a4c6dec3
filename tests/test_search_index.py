"""The queue's full-text index is filled in batches, off the intake transaction.

Intake no longer indexes a complaint's trigrams under the write lock
(storage/search_index.py): these tests pin what must still hold — a search
never misses a ticket, the job indexes each ticket once, an edited text is
re-indexed, and a read-only database still answers searches.
"""

from __future__ import annotations

import sqlite3

from bot.jobs import index_search
from storage import search_index, tickets


def make(db, text: str) -> dict:  # noqa: ANN001
    return tickets.create_ticket(
        db, prefix="GF", openid="o-search", text=text,
        classification={"kind": "S1", "unit": "区人社局", "confidence": 0.9, "matched": ["拖"]},
        lead_units=["区政府办公室"])


def fts_ids(db, phrase: str) -> list[int]:  # noqa: ANN001
    rows = db.conn.execute("SELECT rowid FROM tickets_fts WHERE tickets_fts MATCH ?",
                           [f'"{phrase}"'])
    return sorted(row[0] for row in rows)


def test_intake_leaves_indexing_to_the_job_which_indexes_each_ticket_once(db, config) -> None:
    first = make(db, "养老保险转移拖了好几个月")
    second = make(db, "社保卡补办也拖了好几个月")
    assert search_index.pending(db) == 2
    assert fts_ids(db, "好几个月") == []  # not indexed in the intake transaction
    index_search(config)
    assert fts_ids(db, "好几个月") == [first["id"], second["id"]]
    assert search_index.pending(db) == 0
    assert search_index.index_pending(db) == 0  # idempotent: nothing twice
    assert fts_ids(db, "好几个月") == [first["id"], second["id"]]


def test_batches_cover_every_ticket(db) -> None:
    made = [make(db, f"第{n}号投诉：窗口办事拖拉")["id"] for n in range(7)]
    assert search_index.index_pending(db, batch=3) == 7
    assert fts_ids(db, "办事拖拉") == made


def test_an_edited_text_is_reindexed_only_once_indexed(db) -> None:
    indexed = make(db, "公积金提取被退回三次")
    search_index.index_pending(db)
    waiting = make(db, "居住证办理一直没有回音")
    tickets.update_ticket(db, indexed["id"], text="公积金提取改成线上办理")
    tickets.update_ticket(db, waiting["id"], text="居住证线上办理补充材料后仍无回音")
    assert fts_ids(db, "退回三次") == []
    assert fts_ids(db, "改成线上") == [indexed["id"]]
    search_index.index_pending(db)
    assert fts_ids(db, "补充材料") == [waiting["id"]]
    assert fts_ids(db, "线上办理") == [indexed["id"], waiting["id"]]  # no duplicate rows


def test_a_read_only_database_still_answers_searches(db, monkeypatch, caplog) -> None:
    make(db, "不动产证办了半年还没拿到")

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(search_index, "index_pending", refuse)
    search_index.catch_up(db)  # logs, does not raise
    assert "newest tickets may be missing" in caplog.text
