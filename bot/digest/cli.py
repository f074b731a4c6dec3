"""``python -m bot digest --now [--period daily|weekly] [--config F] [--at ISO]``.

Builds, prints and sends the digest of the period before now (``--at`` sets
the clock, for a replay or a test). Sending is the same exactly-once run as
the scheduler's: a period already sent prints its kept text, sends nothing
more and says so. Without ``--now`` it only previews (nothing kept or sent).
After queuing it tries to deliver the outbox once; rows it cannot deliver
stay queued for the server's sender.
"""

from __future__ import annotations

import argparse
import logging
import sys

from bot import config as config_module
from bot.digest import render
from bot.digest.build import build
from bot.digest.periods import KINDS, LABELS, period_before
from bot.digest.run import run_digest
from bot.digest.validate import check_config
from storage import clock, workdays
from storage.db import get_db

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    from bot.cli import add_config_argument

    parser = subparsers.add_parser("digest", help="build and send the leading group's digest")
    add_config_argument(parser)
    parser.add_argument("--now", action="store_true",
                        help="send now (without it: preview only, nothing sent)")
    parser.add_argument("--period", choices=KINDS, default="daily",
                        help="daily = the previous day, weekly = the previous Monday–Sunday")
    parser.add_argument("--at", metavar="ISO-TIME",
                        help="pretend the clock is at this time (default: now)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = config_module.load(args.config)
    check_config(settings)
    workdays.configure(settings["calendar.holidays_file"])  # overdue days as the server counts
    now = clock.parse(args.at) if args.at else clock.now()
    period = period_before(args.period, now)
    db = get_db(settings["storage.path"])
    if not args.now:
        print(render.markdown(build(db, settings, period, now)))
        print(f"（预览：{LABELS[args.period]} {period.slug} 未发送；加 --now 发送）")
        return 0
    result = run_digest(db, settings, period, now)
    print(result.markdown)
    if not result.sent:
        print(f"该期{LABELS[args.period]}（{period.slug}）已于 {result.done_at} 发送"
              f"给 {result.recipients} 人，本次不再发送。")
        return 0
    print(f"已生成{LABELS[args.period]} {period.slug}，已排队发送给 {result.recipients} 位"
          "领导小组成员。")
    _deliver(db, settings)
    return 0


def _deliver(db, settings) -> None:  # noqa: ANN001 - a Database and a Config
    """Try the outbox once now; a failure leaves the rows for the server's sender."""
    from bot.outbox_sender import deliver_due

    try:
        counts = deliver_due(db, settings)
    except Exception as error:  # the rows are kept; report and let the server retry
        print(f"暂未送达（{type(error).__name__}），消息保留在发送队列中，将自动重试。",
              file=sys.stderr)
        log.warning("digest: outbox delivery failed now, rows kept: %r", error)
        return
    print(f"发送队列：已送达 {counts['sent']}，稍后重试 {counts['retried']}，"
          f"失败 {counts['failed']}。")
