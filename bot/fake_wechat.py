"""A fake of WeChat's API on 127.0.0.1, for tests and the demo.

WeChat's servers cannot be reached from here, and tests must see what the bot
sends and how it copes with outages. The fake answers the token and
message endpoints like the real API (access_token checked, errcode 40001 for
an unknown one), records every request, and can be told to fail for the next
N calls or until recovered, in-process or through ``/_fake/…`` endpoints.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)

TOKEN_TTL_SECONDS = 7200
DEFAULT_TIMEOUT_DELAY = 3.0
SEND_PATHS = ("message/custom/send", "message/template/send")
TOKEN_PATHS = ("token", "stable_token")

# Failure modes whose answer is a WeChat errcode; they affect message sends only.
ERRCODE_MODES: dict[str, tuple[int, str]] = {
    "busy": (-1, "system error"),
    "invalid_token": (40001, "invalid credential, access_token is invalid or not latest"),
    "invalid_openid": (40003, "invalid openid"),
    "unsubscribed": (43004, "require subscribe"),
    "window_closed": (45015, "response out of time limit or subscription is canceled"),
    "out_of_limit": (45047, "out of response count limit"),
}
# Failure modes of the transport; they affect every /cgi-bin/ call (the API is down).
TRANSPORT_MODES = ("http_500", "timeout")
MODES = TRANSPORT_MODES + tuple(ERRCODE_MODES)
ALIASES = {"500": "http_500", "-1": "busy"} | {
    str(code): name for name, (code, _) in ERRCODE_MODES.items()
}


def normalise_mode(mode: str | int) -> str:
    """Accept a mode name, an HTTP status or an errcode (``45015``, ``"-1"``, ``"500"``)."""
    name = ALIASES.get(str(mode), str(mode))
    if name not in MODES:
        raise ValueError(f"unknown failure mode {mode!r}; one of {', '.join(MODES)}")
    return name


@dataclass
class FakeState:
    """Everything the fake remembers; shared by the app and in-process test handles."""

    records: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, float] = field(default_factory=dict)
    stable_token: str | None = None
    mode: str | None = None
    remaining: int | None = None
    delay: float = DEFAULT_TIMEOUT_DELAY
    lock: threading.Lock = field(default_factory=threading.Lock)
    wake: threading.Event = field(default_factory=threading.Event)
    msgids: itertools.count = field(default_factory=lambda: itertools.count(1000))

    def fail(self, mode: str | int, count: int | None = None, delay: float | None = None) -> None:
        """Fail the next ``count`` affected calls (all of them when None) in ``mode``."""
        name = normalise_mode(mode)
        with self.lock:
            self.mode, self.remaining = name, count
            self.delay = DEFAULT_TIMEOUT_DELAY if delay is None else delay
            self.wake.clear()

    def recover(self) -> None:
        """Stop failing; wake any request sleeping in a simulated timeout."""
        with self.lock:
            self.mode, self.remaining = None, None
            self.wake.set()

    def reset(self) -> None:
        """Forget records, tokens and failures."""
        self.recover()
        with self.lock:
            self.records.clear()
            self.tokens.clear()
            self.stable_token = None

    def expire_tokens(self) -> None:
        """Invalidate every issued token, as when WeChat rotates them."""
        with self.lock:
            self.tokens.clear()
            self.stable_token = None

    def sent(self) -> list[dict[str, Any]]:
        """A copy of every recorded request, oldest first."""
        with self.lock:
            return [dict(record) for record in self.records]

    def record(self, path: str, query: dict[str, str], body: Any) -> dict[str, Any]:
        entry = {"path": path, "query": query, "json": body, "outcome": "pending",
                 "at": time.time()}
        with self.lock:
            self.records.append(entry)
        return entry

    def take_failure(self, transport: bool) -> str | None:
        """The failure mode this call suffers, counting it down; None when it succeeds."""
        with self.lock:
            if self.mode is None or (self.mode in TRANSPORT_MODES) != transport:
                return None
            mode = self.mode
            if self.remaining is not None:
                self.remaining -= 1
                if self.remaining <= 0:
                    self.mode, self.remaining = None, None
            return mode

    def issue_token(self) -> str:
        token = "FAKE-" + secrets.token_hex(12)
        with self.lock:
            self.tokens[token] = time.time() + TOKEN_TTL_SECONDS
        return token

    def token_valid(self, token: str | None) -> bool:
        with self.lock:
            return bool(token) and self.tokens.get(token, 0) > time.time()


def create_app(state: FakeState | None = None) -> Flask:
    """The fake as a Flask app; its state is ``app.extensions["fake_wechat"]``."""
    app = Flask(__name__)
    app.extensions["fake_wechat"] = state = state or FakeState()

    @app.route("/cgi-bin/<path:endpoint>", methods=["GET", "POST"])
    def api(endpoint: str) -> Response | tuple[Response, int]:
        body = request.get_json(silent=True, force=True)
        entry = state.record("/cgi-bin/" + endpoint, request.args.to_dict(), body)
        failure = state.take_failure(transport=True)
        if failure:
            entry["outcome"] = failure
            return _transport_failure(state, failure)
        result = _answer(state, endpoint, body)
        entry["outcome"] = "ok" if result.get("errcode", 0) == 0 else result["errcode"]
        return jsonify(result)

    _add_control_routes(app, state)
    return app


def _transport_failure(state: FakeState, mode: str) -> tuple[Response, int]:
    if mode == "timeout":
        state.wake.wait(state.delay)
        return jsonify({"errcode": -1, "errmsg": "gateway timeout"}), 504
    return jsonify({"errcode": -1, "errmsg": "internal server error"}), 500


def _answer(state: FakeState, endpoint: str, body: Any) -> dict[str, Any]:
    if endpoint == "token":
        return _token(state, request.args.to_dict())
    if endpoint == "stable_token":
        return _stable_token(state, body if isinstance(body, dict) else {})
    if endpoint not in SEND_PATHS:
        return {"errcode": 48001, "errmsg": "api unauthorized (not faked)"}
    if not state.token_valid(request.args.get("access_token")):
        return _error(40001)
    failure = state.take_failure(transport=False)
    if failure:
        code, message = ERRCODE_MODES[failure]
        return {"errcode": code, "errmsg": message}
    return _send(state, endpoint, body)


def _error(code: int) -> dict[str, Any]:
    name = next(name for name, (c, _) in ERRCODE_MODES.items() if c == code)
    return {"errcode": code, "errmsg": ERRCODE_MODES[name][1]}


def _credentials_problem(grant_type: Any, appid: Any, secret: Any) -> dict[str, Any] | None:
    if grant_type != "client_credential":
        return {"errcode": 40002, "errmsg": "invalid grant_type"}
    if not appid:
        return {"errcode": 41002, "errmsg": "appid missing"}
    if not secret:
        return {"errcode": 41004, "errmsg": "appsecret missing"}
    return None


def _token(state: FakeState, query: dict[str, str]) -> dict[str, Any]:
    problem = _credentials_problem(query.get("grant_type"), query.get("appid"),
                                   query.get("secret"))
    if problem:
        return problem
    return {"access_token": state.issue_token(), "expires_in": TOKEN_TTL_SECONDS}


def _stable_token(state: FakeState, body: dict[str, Any]) -> dict[str, Any]:
    problem = _credentials_problem(body.get("grant_type"), body.get("appid"), body.get("secret"))
    if problem:
        return problem
    if body.get("force_refresh") or not state.token_valid(state.stable_token):
        state.stable_token = state.issue_token()
    return {"access_token": state.stable_token, "expires_in": TOKEN_TTL_SECONDS}


def _send(state: FakeState, endpoint: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        return {"errcode": 47001, "errmsg": "data format error"}
    if not body.get("touser"):
        return _error(40003)
    if endpoint == "message/template/send":
        if not body.get("template_id"):
            return {"errcode": 40037, "errmsg": "invalid template_id"}
        if not isinstance(body.get("data"), dict):
            return {"errcode": 47001, "errmsg": "data format error"}
    elif body.get("msgtype") == "text" and not (body.get("text") or {}).get("content"):
        return {"errcode": 44003, "errmsg": "empty news data"}
    return {"errcode": 0, "errmsg": "ok", "msgid": next(state.msgids)}


def _add_control_routes(app: Flask, state: FakeState) -> None:
    """``/_fake/…``: drive the fake from tests in other processes."""

    @app.post("/_fake/fail")
    def fail() -> Response | tuple[Response, int]:
        body = request.get_json(silent=True, force=True) or {}
        try:
            state.fail(body.get("mode", ""), body.get("count"), body.get("delay"))
        except ValueError as error:
            return jsonify({"ok": False, "error": str(error)}), 400
        return jsonify({"ok": True, "mode": state.mode, "count": state.remaining})

    @app.post("/_fake/recover")
    def recover() -> Response:
        state.recover()
        return jsonify({"ok": True})

    @app.post("/_fake/reset")
    def reset() -> Response:
        state.reset()
        return jsonify({"ok": True})

    @app.post("/_fake/expire_tokens")
    def expire_tokens() -> Response:
        state.expire_tokens()
        return jsonify({"ok": True})

    @app.get("/_fake/sent")
    def sent() -> Response:
        return jsonify({"sent": state.sent()})


class QuietRequestHandler(WSGIRequestHandler):
    """Logs method and path only: the token query carries the app secret."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        log.info("fake-wechat %s %s %s", self.command, path, code)


def make_fake_server(host: str = "127.0.0.1", port: int = 0) -> BaseWSGIServer:
    """A threaded WSGI server for the fake (port 0 picks a free one)."""
    return make_server(host, port, create_app(), threaded=True,
                       request_handler=QuietRequestHandler)


def base_url_of(server: BaseWSGIServer) -> str:
    """The ``api_base_url`` that points a client at this server."""
    return f"http://{server.host}:{server.server_port}/cgi-bin/"


def start_in_thread(
    host: str = "127.0.0.1", port: int = 0, poll_interval: float = 0.5
) -> tuple[BaseWSGIServer, threading.Thread, str]:
    """Serve the fake from a daemon thread (demo mode, tests); stop with ``server.shutdown()``.

    ``shutdown()`` waits up to ``poll_interval``: tests pass a short one.
    """
    server = make_fake_server(host, port)
    thread = threading.Thread(target=server.serve_forever, args=(poll_interval,),
                              name="fake-wechat", daemon=True)
    thread.start()
    return server, thread, base_url_of(server)


def state_of(server: BaseWSGIServer) -> FakeState:
    """The state behind a server made here (records, failure switches)."""
    return server.app.extensions["fake_wechat"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``fake-wechat [--host H] [--port P]`` to the CLI."""
    parser = subparsers.add_parser("fake-wechat", help="serve a fake WeChat API (tests, demo)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serve the fake until interrupted."""
    server = make_fake_server(args.host, args.port)
    print(f"fake WeChat API at {base_url_of(server)} (control: /_fake/…)", flush=True)
    server.serve_forever()
    return 0
