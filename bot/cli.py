"""The command line: every subcommand registered in one explicit, ordered place."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bot.config import ConfigError


def _registrars() -> tuple:
    """Modules that add subcommands, in the order ``--help`` lists them."""
    import keywords.cli
    from bot import admin_cli, backup, calendar_cli, drain, fake_wechat, serve, simulate
    from bot.digest import cli as digest_cli

    return (serve.register, keywords.cli.register, simulate.register, fake_wechat.register,
            backup.register, admin_cli.register, digest_cli.register, calendar_cli.register,
            drain.register)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="群众办事难投诉受理平台")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _registrars():
        register(subparsers)
    return parser


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    """``--config F``: the TOML file (else $BOT_CONFIG, ./config.toml, the demo)."""
    parser.add_argument("--config", help="TOML config file (default: $BOT_CONFIG, "
                        "./config.toml, else the embedded demo config)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as error:
        print(f"配置错误 / config error: {error}", file=sys.stderr)
        return 2
