"""Webhook throughput and latency: the real server against a bare echo, in one run.

Both are served by gunicorn with the same settings (``python -m bot serve`` and
``bench/echo_app.py``), in AES mode, on loopback. Every request to the bot is a
new complaint from its own citizen with its own MsgId, so each one is a full
keep → classify → ticket → route → reply cycle. The bot runs twice: as shipped
(``surge.mode = "auto"``: under this load it acknowledges first and the drain
handles the queue, bot/surge.py; the bench then times the drain until every
message has its ticket) and answering every message in full (``"off"``).
Echo and bot are measured in turn for ``--rounds`` rounds, every other round the
bot first; each run also counts the CPU time the server's processes used.
Request bodies are signed and encrypted before the clock starts. The load comes
from ``wrk`` (a Lua script hands out the pre-built requests) when it is installed, else from Python
threads on keep-alive ``http.client`` connections; the generator shares the two
cores with the servers, so wrk, being far cheaper, is preferred.

Run: ``python bench/webhook.py [--requests N] [--connections 16]`` (``make bench``).
The server helpers here are also used by ``bench/chaos.py`` and the chaos tests.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ is sys.path[0], where bench/queue.py hides the stdlib's queue.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from wechatpy.crypto import WeChatCrypto  # noqa: E402

from bot.wxclient import WebhookClient, message_xml  # noqa: E402

TARGET_RATIO = 0.7
TARGET_P99_MS = 30.0
MSG_SIGNATURE = re.compile(r"<MsgSignature><!\[CDATA\[([0-9a-f]+)\]\]>")


@dataclass
class BenchConfig:
    """A production-like config file in a temporary folder (AES safe mode, scheduler on)."""

    path: Path
    database: Path
    token: str
    aes_key: str
    appid: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_config(folder: Path, fake_api_port: int | None = None, extra: str = "",
                 threads: int = 4) -> BenchConfig:
    """Write the config; with ``fake_api_port`` the server starts its own fake WeChat API."""
    key = base64.b64encode(os.urandom(32)).decode()[:43]
    token, appid, database = "benchtoken", "wxbench0000000001", folder / "complaints.db"
    api = (f'api_base_url = "http://127.0.0.1:{fake_api_port}/cgi-bin/"\nfake_api = true\n'
           f"fake_api_port = {fake_api_port}\n" if fake_api_port else
           'api_base_url = "http://127.0.0.1:9/cgi-bin/"\n')
    text = (f'[wechat]\ntoken = "{token}"\nappid = "{appid}"\nsecret = "bench-secret"\n'
            f'encoding_aes_key = "{key}"\nmode = "safe"\n{api}'
            f'[storage]\npath = "{database}"\nbackup_dir = "{folder / "backups"}"\n'
            f"[server]\nworkers = 2\nthreads = {threads}\n[scheduler]\nenabled = true\n"
            f'[logging]\nlevel = "INFO"\njson = true\n{extra}')
    path = folder / "config.toml"
    path.write_text(text, "utf-8")
    return BenchConfig(path, database, token, key, appid)


class Server:
    """A server process group on loopback: started, waited for, stopped or killed."""

    def __init__(self, argv: list[str], folder: Path, name: str, port: int) -> None:
        self.argv, self.name, self.port = argv, name, port
        self.log_path = folder / f"{name}-{port}.log"
        self.proc: subprocess.Popen | None = None

    @classmethod
    def bot(cls, config: Path, folder: Path, workers: int = 2, port: int = 0) -> Server:
        port = port or free_port()
        argv = [sys.executable, "-m", "bot", "serve", "--config", str(config),
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        return cls(argv, folder, "bot", port)

    @classmethod
    def echo(cls, config: Path, folder: Path, workers: int = 2) -> Server:
        port = free_port()
        argv = [sys.executable, str(ROOT / "bench" / "echo_app.py"), "--config", str(config),
                "--port", str(port), "--workers", str(workers)]
        return cls(argv, folder, "echo", port)

    def start(self, timeout: float = 60) -> Server:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=log, cwd=ROOT,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_tail()}")
            if self._healthy():
                return self
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"{self.name} not ready in {timeout} s: {self.log_tail()}")

    def _healthy(self) -> bool:
        """Serving, and the bot's drain (if any) started: its start-up (the classifier's
        dictionary) must not overlap the measured run."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            conn.request("GET", "/healthz")
            response = conn.getresponse()
            body = response.read()
            return response.status == 200 and b'"not running"' not in body
        except OSError:
            return False
        finally:
            conn.close()

    def cpu_seconds(self) -> float:
        """User + system CPU of every live process in the server's group (the master, its
        workers, the drain, the fake API)."""
        if self.proc is None:
            return 0.0
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[2] == str(self.proc.pid):  # process group: start_new_session
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_path.read_text("utf-8", "replace")[-chars:]

    def workers(self) -> list[int]:
        """Pids of the gunicorn workers (children of the master running python)."""
        if self.proc is None:
            return []
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cmdline = (stat.parent / "cmdline").read_bytes() if fields[1] == str(self.proc.pid) \
                else b""
            if fields[1] == str(self.proc.pid) and b"fake-wechat" not in cmdline \
                    and b"drain" not in cmdline:
                pids.append(int(stat.parent.name))
        return pids

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group: the master, its workers, the fake API."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
        else:
            self.kill()  # stragglers in the group (the fake API)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check_reply(self, config: BenchConfig, text: str) -> str:
        """One complaint through WebhookClient: the reply must name a ticket."""
        client = WebhookClient(f"http://127.0.0.1:{self.port}", config.token, config.aes_key,
                               config.appid)
        xml = message_xml("oBenchCheck", "gh_bench", "text",
                          {"Content": text, "MsgId": "999999999999"})
        reply = client.reply_text(client.post(xml))
        if "GF" not in reply:
            raise RuntimeError(f"the bot's reply names no ticket: {reply!r}")
        return reply

    def profile(self, output: str, seconds: int = 10) -> subprocess.Popen:
        """py-spy on one worker, collapsed stacks (flamegraph.pl's input) to ``output``."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        return subprocess.Popen([spy, "record", "--pid", str(self.workers()[0]), "--duration",
                                 str(seconds), "--format", "raw", "--output", output,
                                 "--nonblocking"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)


def profile_summary(collapsed: Path, top: int = 15) -> str:
    """The frames with the most samples (inclusive) in a py-spy collapsed-stack file."""
    inclusive: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text("utf-8", "replace").splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for frame in set(stack.split(";")):
            inclusive[frame] = inclusive.get(frame, 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda item: -item[1])[:top]
    return "\n".join(f"{100 * n / total:5.1f}%  {frame}" for frame, n in ranked)


@dataclass
class Prepared:
    """One signed, encrypted request: path with query string, body, and its MsgId."""

    path: str
    body: bytes
    msg_id: int


def prepare_one(crypto: WeChatCrypto, token: str, msg_id: int, openid: str, text: str,
                msg_type: str = "text", fields: dict[str, str] | None = None) -> Prepared:
    """Sign and encrypt one message as WeChat does in safe mode."""
    timestamp, nonce = str(int(time.time())), str(msg_id % 10**9)
    content = {"Content": text, "MsgId": str(msg_id)} if fields is None else fields
    xml = message_xml(openid, "gh_bench", msg_type, content)
    encrypted = crypto.encrypt_message(xml, nonce, timestamp)
    digest = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    query = {"signature": digest, "timestamp": timestamp, "nonce": nonce, "encrypt_type": "aes",
             "msg_signature": MSG_SIGNATURE.search(encrypted).group(1)}
    body = encrypted.replace("\n", "").encode()
    return Prepared(f"/wechat?{urlencode(query)}", body, msg_id)


def prepare(config: BenchConfig, n: int, texts: list[str], first_id: int) -> list[Prepared]:
    """``n`` complaints, each from its own citizen with its own MsgId and its own text."""
    crypto = WeChatCrypto(config.token, config.aes_key, config.appid)
    return [prepare_one(crypto, config.token, first_id + i, f"oBench{first_id + i:012d}",
                        distinct_text(texts, i)) for i in range(n)]


def distinct_text(texts: list[str], i: int) -> str:
    """The i-th complaint, never the same string twice (for i < 365 × len(texts)).

    The classifier remembers the texts it has seen; real citizens never send the
    same words twice, so repeating a few dozen lines would leave classification
    out of the measured cost. A date in the complaint varies each round.
    """
    day = date(2026, 1, 1) + timedelta(days=i // len(texts) % 365)
    return f"{texts[i % len(texts)]}（{day.month}月{day.day}日的事）"


@dataclass
class Result:
    """What one load run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    statuses: dict[str, int] = field(default_factory=dict)
    cpu_seconds: float = 0.0  # the server's processes, during the timed run

    @property
    def cpu_ms(self) -> float:
        """CPU time of the server's processes per request: steadier than req/s on a shared
        machine, where other tenants take cores away for seconds at a time."""
        return self.cpu_seconds * 1000 / self.requests if self.requests else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get("200", 0)

    def line(self) -> str:
        return (f"{self.rps:7.1f} req/s  p50 {self.p50_ms:5.1f} ms  p99 {self.p99_ms:5.1f} ms  "
                f"max {self.max_ms:6.1f} ms  {self.requests} requests in {self.seconds:.2f} s, "
                f"errors {self.errors}, server CPU {self.cpu_ms:.2f} ms/request")


WRK_SCRIPT = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
end
local threads, counter = {}, 0
function setup(thread)
  thread:set("tid", counter); counter = counter + 1; table.insert(threads, thread)
end
function init(args)
  local file, nthreads, total = args[1], tonumber(args[2]), tonumber(args[3])
  marker = args[4] .. tid
  quota = math.floor(total / nthreads)
  if tid < total % nthreads then quota = quota + 1 end
  reqs, i, done_n, bad, t_first, t_last = {}, 0, 0, 0, 0, 0
  local n = 0
  for line in io.lines(file) do
    if n % nthreads == tid then
      local path, body = line:match("^([^\t]*)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", path, {["Content-Type"] = "text/xml"}, body)
    end
    n = n + 1
  end
end
function request()
  if i == 0 then t_first = now_us() end
  i = i + 1
  if i > #reqs then i = #reqs end
  return reqs[i]
end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
  done_n = done_n + 1
  if done_n == quota then
    t_last = now_us()
    io.open(marker, "w"):close()
    wrk.thread:stop()
  end
end
function done(summary, latency, requests)
  local bad_total, first, last = 0, math.huge, 0
  for _, t in ipairs(threads) do
    bad_total = bad_total + t:get("bad")
    first = math.min(first, t:get("t_first")); last = math.max(last, t:get("t_last"))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests":%d,"us":%d,"p50":%d,"p99":%d,"max":%d,"non200":%d,'
    .. '"connect":%d,"read":%d,"write":%d,"timeout":%d}\n',
    summary.requests, last - first, latency:percentile(50), latency:percentile(99),
    latency.max, bad_total, e.connect, e.read, e.write, e.timeout))
end
"""


def run_wrk(port: int, requests: list[Prepared], quota: int, connections: int,
            folder: Path) -> Result:
    """Each wrk thread stops after its share of ``quota`` and leaves a marker file;
    when all have, wrk gets SIGINT (else it sleeps out ``-d``). The rest are spares."""
    threads = 2 if connections >= 2 else 1
    tag = f"{requests[0].msg_id}"
    lines, script = folder / f"requests-{tag}.txt", folder / "requests.lua"
    lines.write_bytes(b"".join(r.path.encode() + b"\t" + r.body + b"\n" for r in requests))
    script.write_text(WRK_SCRIPT, "utf-8")
    markers = [folder / f"done-{tag}-{n}" for n in range(threads)]
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", "600s", "--timeout", "10s",
            "-s", str(script), f"http://127.0.0.1:{port}", "--", str(lines), str(threads),
            str(quota), str(folder / f"done-{tag}-")]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None and not all(marker.exists() for marker in markers):
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    if "WRK " not in out:
        raise RuntimeError(f"wrk failed: {out} {err}")
    data = json.loads(out.split("WRK ", 1)[1].splitlines()[0])
    transport = data["connect"] + data["read"] + data["write"] + data["timeout"]
    return Result(data["requests"], data["us"] / 1e6, data["p50"] / 1000, data["p99"] / 1000,
                  data["max"] / 1000, data["non200"] + transport,
                  {"200": data["requests"] - data["non200"], "other": data["non200"]})


def run_python(port: int, requests: list[Prepared], quota: int, connections: int) -> Result:
    """Threads, one keep-alive connection each, taking requests in turn."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock, items = threading.Lock(), iter(requests[:quota])

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        while True:
            with lock:
                item = next(items, None)
            if item is None:
                break
            start = time.perf_counter()
            try:
                conn.request("POST", item.path, item.body, {"Content-Type": "text/xml"})
                response = conn.getresponse()
                response.read()
                status = str(response.status)
            except (OSError, http.client.HTTPException) as error:
                status, conn = type(error).__name__, http.client.HTTPConnection(
                    "127.0.0.1", port, timeout=10)
            mine.append(time.perf_counter() - start)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    seconds = time.perf_counter() - started
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    errors = sum(n for status, n in statuses.items() if status != "200")
    return Result(len(latencies), seconds, pick(0.5), pick(0.99), latencies[-1] * 1000, errors,
                  statuses)


def load(port: int, requests: list[Prepared], quota: int, args: argparse.Namespace,
         folder: Path) -> Result:
    if args.generator == "wrk":
        return run_wrk(port, requests, quota, args.connections, folder)
    return run_python(port, requests, quota, args.connections)


def complaint_texts() -> list[str]:
    """Real-looking complaints: the classifier's evaluation lines that it files as one."""
    from keywords import classify

    path = ROOT / "keywords" / "eval" / "extra_lines.jsonl"
    lines = [json.loads(line)["text"] for line in path.read_text("utf-8").splitlines() if line]
    kept = [text for text in lines if classify(text).kind != "NONE" and "GF" not in text]
    return kept or ["区人社局窗口的人不理人，办个社保卡跑了三趟还没办好"]


def measure(name: str, server: Server, requests: list[Prepared], args: argparse.Namespace,
            folder: Path) -> Result:
    """Warm up (untimed), then the timed run; spares at the end keep MsgIds unique."""
    spare = args.connections * 2
    warm, timed = requests[:args.warmup + spare], requests[args.warmup + spare:]
    if args.warmup:
        load(server.port, warm, args.warmup, args, folder)
    cpu = server.cpu_seconds()
    result = load(server.port, timed, args.requests, args, folder)
    result.cpu_seconds = server.cpu_seconds() - cpu
    print(f"{name:>5}: {result.line()}", flush=True)
    return result


def queued_count(database: Path) -> int:
    """Messages acknowledged and not yet handled: queued in the inbox or still only in an
    intake journal (storage/intake.py)."""
    from storage.intake import waiting_count

    conn = sqlite3.connect(database)
    try:
        return waiting_count(conn, str(database))
    finally:
        conn.close()


def wait_drained(database: Path, seconds: float = 300) -> int:
    """Wait until no message waits (the drain caught up); how many still do."""
    deadline = time.monotonic() + seconds
    while (left := queued_count(database)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def check_tickets(db_path: Path) -> tuple[int, int, int]:
    """(tickets, handled messages, handled messages whose ticket is missing)."""
    conn = sqlite3.connect(db_path)
    try:
        tickets = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
        handled = conn.execute(
            "SELECT count(*) FROM messages WHERE status = 'handled'").fetchone()[0]
        orphans = conn.execute(
            "SELECT count(*) FROM messages m WHERE m.status = 'handled' AND (m.ticket_number"
            " IS NULL OR NOT EXISTS"
            " (SELECT 1 FROM tickets t WHERE t.number = m.ticket_number))").fetchone()[0]
    finally:
        conn.close()
    return tickets, handled, orphans


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def report(echo: list[Result], bot: list[Result], full: Result, counts: tuple[int, int, int],
           left: int) -> bool:
    """Medians over the rounds: the echo's own figure moves by half from one run to the
    next on a shared machine, so one pair of runs is not a ratio to trust. The ratio is
    the median of each round's ratio (echo and bot measured back to back, in turn first)."""
    echo_rps, bot_rps = median([r.rps for r in echo]), median([r.rps for r in bot])
    bot_p99 = median([r.p99_ms for r in bot])
    ratio = median([b.rps / e.rps for e, b in zip(echo, bot, strict=True) if e.rps])
    errors = sum(r.errors for r in bot), sum(r.errors for r in echo)
    tickets, handled, orphans = counts
    rounds = ", ".join(f"{b.rps / e.rps:.2f}" for e, b in zip(echo, bot, strict=True))
    print(f"medians of {len(bot)} rounds: echo {echo_rps:.0f} req/s, bot {bot_rps:.0f} req/s "
          f"(each round's ratio: {rounds})")
    print(f"ratio: bot/echo throughput {ratio:.2f} (target ≥ {TARGET_RATIO}); "
          f"bot p99 {bot_p99:.1f} ms, worst round {max(r.p99_ms for r in bot):.1f} ms "
          f"(target ≤ {TARGET_P99_MS:.0f} ms); errors: echo {errors[1]}, bot {errors[0]}")
    echo_cpu, bot_cpu = median([r.cpu_ms for r in echo]), median([r.cpu_ms for r in bot])
    print(f"server CPU per request (medians): echo {echo_cpu:.2f} ms, bot {bot_cpu:.2f} ms, "
          f"echo/bot {echo_cpu / bot_cpu if bot_cpu else 0:.2f} (the steadier figure; the "
          "load generator's own share is in neither)")
    print(f"answering in full: {full.rps / echo_rps if echo_rps else 0:.2f} of the echo, "
          f"p99 {full.p99_ms:.1f} ms, errors {full.errors}, "
          f"server CPU {full.cpu_ms:.2f} ms/request")
    print(f"db (as shipped): {handled} messages handled, {tickets} tickets, "
          f"{orphans} handled messages without their ticket, {left} left queued")
    return (ratio >= TARGET_RATIO and bot_p99 <= TARGET_P99_MS and errors == (0, 0)
            and orphans == 0 and tickets == handled and left == 0)


def default_threads() -> int:
    """The server's own default (``server.threads``), so the bench measures what ships."""
    from bot.config import SCHEMA

    return next(key.default for key in SCHEMA if key.name == "server.threads")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8000, help="timed requests per target")
    parser.add_argument("--warmup", type=int, default=800, help="untimed requests first")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=default_threads(),
                        help="threads per worker, for both servers (default: server.threads)")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--py-spy", metavar="FILE",
                        help="profile one bot worker (py-spy, collapsed stacks) into FILE")
    parser.add_argument("--rounds", type=int, default=5,
                        help="echo and bot measured in turn this many times; medians compared")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.generator == "auto":
        args.generator = "wrk" if shutil.which("wrk") else "python"
    return args


def run(args: argparse.Namespace, folder: Path) -> bool:
    config = bench_config(folder, fake_api_port=free_port(), threads=args.threads)
    full_folder = folder / "full"
    full_folder.mkdir()
    full_config = bench_config(full_folder, fake_api_port=free_port(), threads=args.threads,
                               extra='[surge]\nmode = "off"\n')
    total = args.warmup + args.requests + 4 * args.connections
    texts = complaint_texts()
    echo, bot = [], []
    with Server.echo(config.path, folder, args.workers) as echo_server, \
            Server.bot(config.path, folder, args.workers) as bot_server:
        bot_server.check_reply(config, texts[0])
        for round_ in range(args.rounds):
            first = (round_ + 1) * 10**8

            def measure_echo(first: int = first) -> None:
                echo.append(measure("echo", echo_server,
                                    prepare(config, total, texts, first_id=10**9 + first),
                                    args, folder))

            if round_ % 2:  # every other round the bot goes first: drift favours neither
                left = measure_bot(bot_server, config, total, texts, first, args, folder, bot,
                                   spy=None)
                measure_echo()
            else:
                measure_echo()
                spy = bot_server.profile(args.py_spy) if args.py_spy and not round_ else None
                left = measure_bot(bot_server, config, total, texts, first, args, folder, bot,
                                   spy=spy)
        time.sleep(1)  # let requests abandoned at the end of the run finish
    with Server.bot(full_config.path, full_folder, args.workers) as full_server:
        full = measure("full", full_server,
                       prepare(full_config, total, texts, first_id=3 * 10**9), args, folder)
        time.sleep(1)
    return report(echo, bot, full, check_tickets(config.database), left)


def measure_bot(server: Server, config: BenchConfig, total: int, texts: list[str], first: int,
                args: argparse.Namespace, folder: Path, results: list[Result],
                spy: subprocess.Popen | None) -> int:
    """One timed run of the bot, then wait for the drain; how many messages it left."""
    results.append(measure("bot", server, prepare(config, total, texts,
                                                  first_id=2 * 10**9 + first), args, folder))
    ended, queued = time.monotonic(), queued_count(config.database)
    left = wait_drained(config.database)
    drained = time.monotonic() - ended
    print(f"drain: {queued} messages still queued when the load ended, {left} left "
          f"{drained:.1f} s later ({queued / drained if drained else 0:.0f} messages/s after "
          "the load)", flush=True)
    if spy is not None:
        spy.wait(timeout=120)
        print(profile_summary(Path(args.py_spy)))
    return left


def _exit_on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: stop the servers


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_term)
    print(f"webhook bench: {args.requests} timed requests (+{args.warmup} warm-up) per target, "
          f"{args.connections} connections, {args.workers} gunicorn workers × "
          f"{args.threads} threads, "
          f"load from {args.generator}, {os.cpu_count()} CPUs, AES safe mode", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    try:
        ok = run(args, folder)
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print("targets met" if ok else "TARGETS NOT MET")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
