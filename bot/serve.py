"""``serve``: the bot behind gunicorn, a production WSGI server.

Gunicorn over waitress because its pre-fork workers use both cores (the GIL
limits one process), it restarts a crashed worker by itself, and it is the
usual choice behind nginx. The scheduler runs in exactly one worker: the one
holding an exclusive lock file (a replacement worker takes it over).
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from bot import config as config_module
from bot import logs
from bot.config import Config
from storage import clock, workdays

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    from bot.cli import add_config_argument

    parser = subparsers.add_parser("serve", help="run webhook, console and scheduler")
    add_config_argument(parser)
    parser.add_argument("--host", help="listen address (default: server.host)")
    parser.add_argument("--port", type=int, help="listen port (default: server.port)")
    parser.add_argument("--workers", type=int, help="worker processes (default: server.workers)")
    parser.set_defaults(func=run)


class GunicornServer(BaseApplication):
    """Gunicorn configured from our TOML settings instead of its own files."""

    def __init__(self, settings: Config, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):  # noqa: ANN201 - a WSGI app
        from bot import create_app

        return create_app(self.settings)  # configures the holiday file, as in the master


def _start_scheduler_if_first(settings: Config) -> None:
    """Run the scheduler in the one worker that holds the lock file."""
    if not settings["scheduler.enabled"]:
        return
    lock_path = Path(settings["storage.path"]).with_suffix(".scheduler.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = lock_path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return
    from bot import scheduler

    scheduler.start(settings, keep_alive=handle)
    log.info("scheduler started in worker %s", os.getpid())


def banner(settings: Config, host: str, port: int) -> str:
    """What a newcomer needs: where to chat, where the console is, the demo secrets."""
    base = f"http://{host}:{port}"
    lines = [
        "群众办事难投诉受理平台 Complaint Desk",
        f"  config:      {settings.source}",
        f"  webhook URL: {base}/wechat   (mode: {settings.message_mode})",
        f"  console:     {base}/console/",
        f"  health:      {base}/healthz",
    ]
    if settings.is_demo:
        lines += [
            f"  demo Token:          {settings['wechat.token']}",
            f"  demo EncodingAESKey: {settings['wechat.encoding_aes_key']}",
            f"  demo AppID:          {settings['wechat.appid']}",
        ]
    lines.append("  chat as a citizen:   python -m bot simulate   (in a second terminal)")
    return "\n".join(lines)


def _start_fake_wechat(settings: Config) -> subprocess.Popen | None:
    """The demo talks to a fake WeChat API on loopback, started beside the server."""
    if not settings["wechat.fake_api"]:
        return None
    port = str(settings["wechat.fake_api_port"])
    return subprocess.Popen([sys.executable, "-m", "bot", "fake-wechat", "--port", port])


def _start_drain(settings: Config, config_path: str | None) -> subprocess.Popen | None:
    """The drain for messages queued in a surge (bot/drain.py), beside the workers."""
    if settings["surge.mode"] == "off":
        return None
    command = [sys.executable, "-m", "bot", "drain"]
    if config_path:
        command += ["--config", config_path]
    return subprocess.Popen(command)


def run(args: argparse.Namespace) -> int:
    settings = config_module.load(args.config)
    logs.setup(settings["logging.level"], settings["logging.json"])
    host = args.host or settings["server.host"]
    port = args.port or settings["server.port"]
    from bot import create_app

    create_app(settings)  # fail fast (config, database) before forking workers
    workdays.warn_if_uncovered(clock.now().date())  # create_app configured the holiday file
    print(banner(settings, host, port), flush=True)
    options = {
        "bind": f"{host}:{port}",
        "workers": args.workers or settings["server.workers"],
        "worker_class": "gthread",
        "threads": settings["server.threads"],
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "post_worker_init": lambda worker: _start_scheduler_if_first(settings),
    }
    helpers = [p for p in (_start_fake_wechat(settings), _start_drain(settings, args.config))
               if p is not None]
    try:
        GunicornServer(settings, options).run()
    finally:
        for helper in helpers:
            helper.terminate()
        for helper in helpers:
            try:
                helper.wait(timeout=10)
            except subprocess.TimeoutExpired:
                helper.kill()
                helper.wait()
    return 0
