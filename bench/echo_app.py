"""The bench's yardstick: a bare Flask + wechatpy endpoint that only does the protocol.

verify → decrypt → parse → reply → encrypt, nothing else: no storage, no
classifier, no conversation. Served by gunicorn with the same settings as
``python -m bot serve`` (gthread, server.workers × server.threads, same
timeouts), so the difference to the real server is the application's own cost.

Run: ``python bench/echo_app.py --config F --port P [--workers N]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, bench/ is sys.path[0], where bench/queue.py hides the stdlib's queue.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from flask import Flask, Response, request  # noqa: E402
from wechatpy import parse_message  # noqa: E402
from wechatpy.crypto import WeChatCrypto  # noqa: E402
from wechatpy.exceptions import InvalidSignatureException  # noqa: E402
from wechatpy.replies import create_reply  # noqa: E402
from wechatpy.utils import check_signature  # noqa: E402


def create_app(token: str, aes_key: str, appid: str) -> Flask:
    """The echo endpoint: answers every text with its own content."""
    app = Flask(__name__)
    crypto = WeChatCrypto(token, aes_key, appid)

    @app.post("/wechat")
    def echo() -> Response:
        args = request.args
        try:
            check_signature(token=token, signature=args.get("signature", ""),
                            timestamp=args.get("timestamp", ""), nonce=args.get("nonce", ""))
            xml = crypto.decrypt_message(request.get_data(), args.get("msg_signature", ""),
                                         args.get("timestamp", ""), args.get("nonce", ""))
        except InvalidSignatureException:
            return Response("invalid signature", status=403)
        message = parse_message(xml)
        reply = create_reply(getattr(message, "content", "") or "收到", message).render()
        body = crypto.encrypt_message(reply, args.get("nonce", ""), args.get("timestamp", ""))
        return Response(body, mimetype="application/xml")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response('{"status": "ok"}', mimetype="application/json")

    return app


def gunicorn_options(settings, host: str, port: int, workers: int | None) -> dict:  # noqa: ANN001
    """The options ``bot.serve.run`` gives gunicorn, minus the scheduler hook."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers or settings["server.workers"],
        "worker_class": "gthread",
        "threads": settings["server.threads"],
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
    }


def main(argv: list[str] | None = None) -> int:
    from bot import config as config_module
    from bot.serve import GunicornServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int)
    args = parser.parse_args(argv)
    settings = config_module.load(args.config)
    if not settings["wechat.encoding_aes_key"]:
        parser.error("the echo endpoint measures AES mode: set wechat.encoding_aes_key")
    app = create_app(settings["wechat.token"], settings["wechat.encoding_aes_key"],
                     settings["wechat.appid"])

    class EchoServer(GunicornServer):
        def load(self) -> Flask:  # the echo app instead of the bot
            return app

    EchoServer(settings, gunicorn_options(settings, args.host, args.port, args.workers)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
