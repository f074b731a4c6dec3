"""Console queue speed on a database of a million tickets.

Run from the repo root: ``python bench/queue.py [--rows N] [--keep PATH]``.
Seeds N tickets (default 1,000,000) into a temporary database with the real
schema and triggers (executemany in one transaction), then times, as a
median of repeated runs:

- baseline: a bare ``SELECT * FROM tickets LIMIT 50`` (the floor for 50 rows);
- the queue query and the whole queue page (HTTP through the app, office account);
- a filtered search (FTS5 trigram text + status), a short-word LIKE search,
  the overdue filter, a kind filter and a unit account's queue;

and prints each figure with its ratio to the baseline. Target: < 100 ms each;
a rare word under 3 characters (no trigram: LIKE over every row) is the known
exception and is printed too.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This file is named queue.py: keep its folder off the path so ``import queue``
# (urllib3 needs it) finds the standard library, not this script.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

from bot import create_app  # noqa: E402
from bot.config import parse_text  # noqa: E402
from bot.console import query  # noqa: E402
from keywords import load_units  # noqa: E402
from storage import clock, search_index, users  # noqa: E402
from storage.db import connect, get_db  # noqa: E402
from storage.lifecycle import Actor  # noqa: E402

KINDS = ["S1", "S2", "S3", "S4", "S5", "S6", "D", "P", "NONE"]
KIND_WEIGHTS = [20, 18, 15, 10, 6, 3, 12, 8, 8]
STATUSES = ["received", "dispatched", "accepted", "returned", "answered", "reopened", "closed",
            "rejected"]
STATUS_WEIGHTS = [3, 10, 25, 2, 15, 2, 40, 3]  # the last month's mix
# older than a month: settled, but a few stragglers stay open (and overdue) for good
OLD_STATUS_WEIGHTS = [0.1, 0.1, 0.2, 0.1, 0.5, 0.1, 93.9, 5]
PLACES = ["窗口", "大厅", "办事处", "服务台", "审批科", "档案室"]
TROUBLES = ["工作人员不理人", "让我跑了三趟还没办好", "态度很差还骂人", "上班时间玩手机",
            "材料要求没有公示", "说不归他们管互相推诿", "收费没有依据", "审批拖了两个月",
            "一次性告知没有做到", "中午提前下班没人", "要我请吃饭才给办", "网上办事系统打不开"]
PASSWORD = "bench-passw0rd"


def text_for(rng: random.Random, unit: str) -> str:
    return (f"{unit}{rng.choice(PLACES)}{rng.choice(TROUBLES)}，"
            f"我办{rng.choice(['社保', '房产证', '营业执照', '医保', '户口', '公积金'])}的事，"
            f"编号{rng.randrange(10**6):06d}。")


def status_for(rng: random.Random, age: timedelta) -> str:
    """Old tickets are mostly settled; only the last month's are still being handled."""
    if age > timedelta(days=30):
        return rng.choices(STATUSES, OLD_STATUS_WEIGHTS)[0]
    return rng.choices(STATUSES, STATUS_WEIGHTS)[0]


def rows(count: int, now: datetime, seed: int = 7):  # noqa: ANN201 - a generator of tuples
    """Synthetic tickets over the two years up to ``now``, oldest first (ids in time order)."""
    rng = random.Random(seed)
    unit_names = [u.name for u in load_units().all()]
    start = now - timedelta(days=730)
    step = timedelta(days=730) / count
    in_hand = ("dispatched", "accepted", "reopened")
    for index in range(count):
        created = start + step * index
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        status = status_for(rng, now - created)
        unit = rng.choice(unit_names)
        flags = '["discipline"]' if kind == "S6" else ("[]" if rng.random() > 0.01 else
                                                       '["repeat"]')
        dispatched = created + timedelta(hours=1) if status != "received" else None
        due = created + timedelta(days=7) if dispatched else None
        sign_due = created + timedelta(days=1) if dispatched else None
        late = status in in_hand and due is not None and due < now
        stamp = clock.iso(created)
        yield (f"GF{created:%Y%m%d}-{index % 10000:04d}-{index}", f"o{rng.randrange(10**5)}",
               text_for(rng, unit), kind, unit if dispatched or rng.random() < .5 else None,
               0.7, "[]", "[]", "[]", flags, status, stamp, stamp,
               clock.iso(dispatched) if dispatched else None,
               clock.iso(sign_due) if sign_due else None,
               clock.iso(due) if due else None, int(late and rng.random() < 0.9))


def seed(path: Path, count: int) -> float:
    """Insert ``count`` tickets in one transaction and index them; the seconds taken."""
    db = connect(path)
    began = time.perf_counter()
    with db.conn:
        db.conn.executemany(
            "INSERT INTO tickets (number, openid, text, kind, unit, confidence, matched, also,"
            " lead_units, flags, status, created_at, updated_at, dispatched_at, sign_due_at,"
            " due_at, overdue) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows(count, clock.now()))
    # intake leaves the full-text index to a background job; build it as that job would
    search_index.index_pending(db)
    # no ANALYZE: a production database never gets one, so the planner is timed as it runs there
    users.create_user(db, "bench-office", "office", PASSWORD)
    users.create_user(db, "bench-unit", "unit", PASSWORD, unit="区人社局")
    db.conn.close()
    return time.perf_counter() - began


def timed(fn, repeat: int = 15) -> float:  # noqa: ANN001
    """Median milliseconds of ``repeat`` calls after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def client_for(app, username: str):  # noqa: ANN001, ANN201
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    reply = client.post("/console/login", data={"username": username, "password": PASSWORD,
                                                "csrf_token": token})
    assert reply.status_code == 302, reply.status_code
    return client


def measure(path: Path) -> list[tuple[str, float]]:
    config = parse_text(f'[wechat]\ntoken = "bench"\n[storage]\npath = "{path}"\n'
                        "[scheduler]\nenabled = false\n[logging]\njson = false\n", "bench")
    app = create_app(config)
    db = get_db(path)
    office = Actor("bench-office", "office")
    http, unit_http = client_for(app, "bench-office"), client_for(app, "bench-unit")

    def page(actor: Actor, **args: str):  # noqa: ANN202
        return lambda: query.page(db, actor, query.parse(args))

    def get(client, url: str):  # noqa: ANN001, ANN202
        def call() -> None:
            assert client.get(url).status_code == 200
        return call

    return [
        ("baseline: SELECT * FROM tickets LIMIT 50", timed(
            lambda: db.execute("SELECT * FROM tickets LIMIT 50").fetchall())),
        ("queue query (office, newest first)", timed(page(office))),
        ("queue page over HTTP (office)", timed(get(http, "/console/"))),
        ("filtered search: FTS '工作人员不理人' + status", timed(
            page(office, q="工作人员不理人", status="closed"))),
        ("filtered search page over HTTP", timed(
            get(http, "/console/?q=%E4%B8%8D%E7%90%86%E4%BA%BA&status=closed"))),
        ("rare FTS search: '编号000123'", timed(page(office, q="编号000123"))),
        ("short LIKE search: '骂人' (2 chars)", timed(page(office, q="骂人"))),
        ("rare short word: '魑魅' (no match: full scan)", timed(page(office, q="魑魅"), 5)),
        ("overdue filter", timed(page(office, overdue="1"))),
        ("kind S5 + date range", timed(page(office, kind="S5", **{"from": "2025-06-01",
                                                                   "to": "2025-06-30"}))),
        ("flagged only", timed(page(office, flagged="1"))),
        ("page 100 (offset 4950)", timed(page(office, page="100"))),
        ("sorted by deadline (in hand)", timed(page(office, sort="due"))),
        ("deadline sort + word '工作人员不理人'", timed(page(office, sort="due",
                                                         q="工作人员不理人"))),
        ("unit account queue page over HTTP", timed(get(unit_http, "/console/"))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="seed into this file and keep it")
    parser.add_argument("--reuse", action="store_true", help="time an existing --keep file")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = options.keep or Path(scratch) / "bench.db"
        if not (options.reuse and path.exists()):
            seconds = seed(path, options.rows)
            print(f"seeded {options.rows:,} tickets in {seconds:.1f} s "
                  f"({path.stat().st_size / 2**20:.0f} MB)")
        results = measure(path)
    baseline = results[0][1]
    print(f"{'measurement':52} {'median ms':>10} {'× baseline':>11}")
    for name, ms in results:
        flag = "" if ms < 100 else "  <-- over 100 ms"
        print(f"{name:52} {ms:10.2f} {ms / baseline:11.1f}{flag}")
    print(json.dumps({name: round(ms, 2) for name, ms in results}, ensure_ascii=False))


if __name__ == "__main__":
    main()
