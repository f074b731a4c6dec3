"""Chaos checks on the real server: duplicate deliveries, several workers, kill -9 mid-load.

Each scenario drives ``python -m bot serve`` (gunicorn, AES safe mode) over
loopback and then reads the database: every message that was acknowledged
with a ticket number must have exactly that one ticket, and every message
re-sent after a crash must end up with exactly one ticket. A message acknowledged
first in a surge (bot/surge.py) counts as answered once it is kept; the database
is read after the drain has emptied the queue. ``tests/test_chaos.py``
runs them small; ``python bench/chaos.py`` runs them bigger and prints the counts.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ is sys.path[0], where bench/queue.py hides the stdlib's queue.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from wechatpy.crypto import WeChatCrypto  # noqa: E402

from bench.webhook import (  # noqa: E402
    BenchConfig,
    Prepared,
    Server,
    bench_config,
    complaint_texts,
    prepare,
    wait_drained,
)
from handlers.texts import say  # noqa: E402

TICKET = re.compile(r"GF\d{8}-\d{4}")
FIELD = {name: re.compile(rf"<{name}>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</{name}>", re.S)
         for name in ("MsgSignature", "TimeStamp", "Nonce", "Content")}


def decrypt_reply(crypto: WeChatCrypto, body: str) -> str:
    """The reply's Content ('' for an empty or 'success' reply)."""
    if body in ("", "success"):
        return ""
    found = {name: pattern.search(body) for name, pattern in FIELD.items()}
    xml = crypto.decrypt_message(body, found["MsgSignature"].group(1),
                                 found["TimeStamp"].group(1), found["Nonce"].group(1))
    content = FIELD["Content"].search(xml)
    return content.group(1) if content else ""


def send(port: int, request: Prepared, crypto: WeChatCrypto) -> tuple[str, str]:
    """(status or error name, reply text) for one delivery."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("POST", request.path, request.body, {"Content-Type": "text/xml"})
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, ""
    finally:
        conn.close()
    if response.status != 200:
        return str(response.status), body
    return "200", decrypt_reply(crypto, body)


def ticket_of(reply: str) -> str | None:
    found = TICKET.search(reply)
    return found.group(0) if found else None


def answered(status: str, reply: str) -> bool:
    """A reply naming the ticket, or the acknowledgement of a message queued in a surge."""
    return status == "200" and (ticket_of(reply) is not None or reply == say("queued"))


def kept_keys(database: Path) -> set[str]:
    """Keys kept in the inbox or in an intake journal (acknowledged first, storage/intake.py;
    read here as an outside observer, every complete line whether taken or not)."""
    conn = sqlite3.connect(database)
    try:
        keys = {key for (key,) in conn.execute("SELECT key FROM messages")}
    finally:
        conn.close()
    return keys | journal_keys(database)


def journal_keys(database: Path) -> set[str]:
    keys = set()
    for journal in Path(f"{database}-intake").glob("*.jsonl"):
        for line in journal.read_bytes().splitlines(keepends=True):
            if line.endswith(b"\n"):
                keys.add(json.loads(line)["key"])
    return keys


def ledger(database: Path) -> dict[str, list[str]]:
    """Message key → the numbers of the tickets it opened."""
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute("SELECT source_key, number FROM tickets ORDER BY id").fetchall()
    finally:
        conn.close()
    opened: dict[str, list[str]] = defaultdict(list)
    for key, number in rows:
        opened[key].append(number)
    return opened


@dataclass
class Outcome:
    """What the senders saw and what the database holds, per MsgId."""

    replies: dict[int, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    opened: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def problems(self, expected: list[Prepared]) -> list[str]:
        """Every way the outcome breaks 'one message, one ticket'; [] when it holds."""
        found = []
        for request in expected:
            tickets = self.opened.get(str(request.msg_id), [])
            acked = {ticket_of(text) for status, text in self.replies[request.msg_id]
                     if status == "200" and ticket_of(text)}
            if len(tickets) != 1:
                found.append(f"message {request.msg_id}: {len(tickets)} tickets {tickets}")
            elif acked - set(tickets):
                found.append(f"message {request.msg_id}: replies named {sorted(acked)}, "
                             f"database has {tickets}")
        return found


def _config(folder: Path, extra: str = "") -> tuple[BenchConfig, WeChatCrypto]:
    config = bench_config(folder, extra=extra)
    return config, WeChatCrypto(config.token, config.aes_key, config.appid)


def repeated_delivery(folder: Path, messages: int = 60, copies: int = 3,
                      workers: int = 3, extra: str = "") -> tuple[Outcome, list[Prepared]]:
    """Each message delivered ``copies`` times at once, to ``workers`` gunicorn workers."""
    config, crypto = _config(folder, extra)
    requests = prepare(config, messages, complaint_texts(), first_id=3 * 10**9)
    outcome = Outcome()
    with Server.bot(config.path, folder, workers) as server:
        with ThreadPoolExecutor(max_workers=min(32, messages * copies)) as pool:
            futures = [(r.msg_id, pool.submit(send, server.port, r, crypto))
                       for r in requests for _ in range(copies)]
            for msg_id, future in futures:
                outcome.replies[msg_id].append(future.result())
        left = wait_drained(config.database)
    outcome.opened = ledger(config.database)
    queued = sum(reply == say("queued") for r in outcome.replies.values() for _, reply in r)
    outcome.notes.append(f"acknowledged first (surge): {queued} replies; "
                         f"left queued: {left}")
    outcome.notes.append(f"{messages} messages × {copies} concurrent deliveries, "
                         f"{workers} workers")
    return outcome, requests


def kill_and_restart(folder: Path, messages: int = 240, kill_after: int = 60,
                     senders: int = 12, resend_for: float = 40) -> tuple[Outcome, list[Prepared]]:
    """kill -9 the server's process group mid-load, restart, re-send what was not answered."""
    config, crypto = _config(folder)
    requests = prepare(config, messages, complaint_texts(), first_id=4 * 10**9)
    outcome = Outcome()
    server = Server.bot(config.path, folder, 2).start()
    killed = _load_until_killed(server, requests, crypto, outcome, senders, kill_after)
    before = ledger(config.database)
    outcome.notes.append(_check_acked_before_restart(outcome, before, killed,
                                                     kept_keys(config.database)))
    in_journals = {str(msg_id) for msg_id in killed} & journal_keys(config.database)
    outcome.notes.append(f"acknowledged ones kept in an intake journal at the kill: "
                         f"{len(in_journals)}")
    server = Server.bot(config.path, folder, 2).start()
    try:
        _resend_until_answered(server.port, requests, crypto, outcome, senders, resend_for)
        outcome.notes.append(f"left queued: {wait_drained(config.database)}")
    finally:
        server.stop()
    outcome.opened = ledger(config.database)
    return outcome, requests


def _load_until_killed(server: Server, requests: list[Prepared], crypto: WeChatCrypto,
                       outcome: Outcome, senders: int, kill_after: int) -> set[int]:
    """Send until ``kill_after`` messages are acknowledged, then SIGKILL the group."""
    acked: set[int] = set()
    lock, stop, queue = threading.Lock(), threading.Event(), iter(requests)

    def sender() -> None:
        while not stop.is_set():
            with lock:
                request = next(queue, None)
            if request is None:
                return
            status, reply = send(server.port, request, crypto)
            with lock:
                outcome.replies[request.msg_id].append((status, reply))
                if answered(status, reply):
                    acked.add(request.msg_id)

    threads = [threading.Thread(target=sender) for _ in range(senders)]
    for thread in threads:
        thread.start()
    while len(acked) < kill_after and any(t.is_alive() for t in threads):
        time.sleep(0.005)
    server.kill()  # SIGKILL to the master, its workers and anything else in the group
    with lock:
        killed = set(acked)
    stop.set()
    for thread in threads:
        thread.join()
    return killed


def _check_acked_before_restart(outcome: Outcome, opened: dict[str, list[str]],
                                acked: set[int], kept: set[str]) -> str:
    """Every message answered before the kill is in the database: with the ticket its
    reply named, or (acknowledged first) kept for the drain."""
    missing = [msg_id for msg_id in acked
               if not ({ticket_of(t) for s, t in outcome.replies[msg_id]}
                       & set(opened.get(str(msg_id), [])) or str(msg_id) in kept)]
    outcome.notes.append(f"acknowledged before the kill: {len(acked)}; "
                         f"missing from the database after it: {len(missing)}")
    return f"tickets in the database right after the kill: {sum(map(len, opened.values()))}"


def _resend_until_answered(port: int, requests: list[Prepared], crypto: WeChatCrypto,
                           outcome: Outcome, senders: int, seconds: float) -> None:
    """WeChat re-sends what got no answer: every message until it is answered.

    Acknowledged ones are re-sent too: a retry must get the stored reply back.
    """
    pending = list(requests)
    deadline, rounds = time.monotonic() + seconds, 0
    with ThreadPoolExecutor(max_workers=senders) as pool:
        while pending and time.monotonic() < deadline:
            rounds += 1
            results = list(pool.map(lambda r: (r, send(port, r, crypto)), pending))
            pending = []
            for request, (status, reply) in results:
                outcome.replies[request.msg_id].append((status, reply))
                if not answered(status, reply):
                    pending.append(request)
            if pending:
                time.sleep(1)
    outcome.notes.append(f"re-sent after restart in {rounds} round(s); "
                         f"still unanswered: {len(pending)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    args = parser.parse_args(argv)
    failed = False
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        n = args.messages
        for name, scenario in (
                ("repeated delivery", lambda f: repeated_delivery(f, messages=n)),
                ("kill -9 and restart", lambda f: kill_and_restart(f, messages=n,
                                                                   kill_after=n // 3))):
            folder = Path(tmp) / name.replace(" ", "-")
            folder.mkdir()
            started = time.monotonic()
            outcome, requests = scenario(folder)
            problems = outcome.problems(requests)
            failed |= bool(problems)
            print(f"{name}: {'; '.join(outcome.notes)}; {len(requests)} messages, "
                  f"{len(problems)} problems, {time.monotonic() - started:.1f} s")
            for problem in problems[:10]:
                print(f"  {problem}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
