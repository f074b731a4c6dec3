"""Operator commands: ``user …`` accounts and tokens, ``unit …`` liaisons, ``sweep``.

Passwords are read from stdin when it is not a terminal (scripts, CI), else
prompted twice without echo. A new API token is printed once, as the last
line, because only its hash is kept.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from bot import config as config_module
from storage import clock, units, users, workdays
from storage.db import get_db

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A refused command; the message goes to stderr and the exit code is 1."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``user``, ``unit`` and ``sweep`` to ``python -m bot``."""
    _register_user(subparsers)
    _register_unit(subparsers)
    parser = subparsers.add_parser("sweep", help="run the deadline sweep once")
    _common(parser)
    parser.add_argument("--now", help="ISO time to run the sweep as (default: now)")
    parser.set_defaults(func=_guard(run_sweep))


def _common(parser: argparse.ArgumentParser) -> None:
    from bot.cli import add_config_argument

    add_config_argument(parser)


def _register_user(subparsers: argparse._SubParsersAction) -> None:
    user = subparsers.add_parser("user", help="accounts: add, token, passwd, disable, list")
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=users.ROLES)
    add.add_argument("--unit", help="the unit of a unit account (name or alias)")
    add.add_argument("--token", action="store_true", help="also print a new API token")
    add.set_defaults(func=_guard(user_add))
    for name, handler, help_text in (
        ("token", user_token, "print a new API token for an account"),
        ("passwd", user_passwd, "set an account's password"),
        ("disable", user_disable, "disable an account and revoke its tokens"),
        ("enable", user_enable, "enable a disabled account"),
    ):
        parser = actions.add_parser(name, help=help_text)
        parser.add_argument("name")
        parser.set_defaults(func=_guard(handler))
    listing = actions.add_parser("list", help="list accounts")
    listing.set_defaults(func=_guard(user_list))
    for parser in actions.choices.values():
        _common(parser)


def _register_unit(subparsers: argparse._SubParsersAction) -> None:
    unit = subparsers.add_parser("unit", help="units and their liaisons' OpenIDs")
    actions = unit.add_subparsers(dest="unit_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every unit with its liaisons")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=_guard(unit_list))
    for name, handler in (("add-liaison", unit_add), ("remove-liaison", unit_remove)):
        parser = actions.add_parser(name, help=f"{name.split('-')[0]} a liaison's OpenID")
        parser.add_argument("unit", help="unit name or alias")
        parser.add_argument("openid")
        parser.set_defaults(func=_guard(handler))
    for parser in actions.choices.values():
        _common(parser)


def _guard(handler: Handler) -> Handler:
    """Turn refusals into a message on stderr and exit code 1."""
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (CommandError, users.AccountError) as error:
            print(f"错误 / error: {error}", file=sys.stderr)
            return 1
    return run


def _db(args: argparse.Namespace) -> tuple[Any, config_module.Config]:
    settings = config_module.load(args.config)
    return get_db(settings["storage.path"]), settings


# ---------------------------------------------------------------- users


def read_password(prompt: str = "密码 / password: ") -> str:
    """From stdin when piped; else prompted twice without echo."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(prompt)
        if getpass.getpass("再输入一次 / again: ") != password:
            raise CommandError("两次输入的密码不一致 / passwords differ")
    if not password:
        raise CommandError("没有读到密码 / no password given")
    return password


def canonical_unit(name: str) -> str:
    """A unit's canonical name from a name or alias; CommandError when unknown."""
    from keywords import load_units

    unit = load_units().canonical(name)
    if unit is None:
        raise CommandError(f"未知单位 / unknown unit: {name}（python -m bot unit list）")
    return unit


def _user(db: Any, name: str) -> dict[str, Any]:
    user = users.get_user(db, name)
    if user is None:
        raise CommandError(f"没有账号 / no such user: {name}")
    return user


def user_add(args: argparse.Namespace) -> int:
    db, _ = _db(args)
    unit = canonical_unit(args.unit) if args.unit else None
    if unit and args.role != "unit":
        raise CommandError("--unit 只用于 unit 角色 / --unit is for --role unit only")
    user = users.create_user(db, args.name, args.role, read_password(), unit)
    print(f"created {user['username']} ({user['role']}{', ' + unit if unit else ''})")
    if args.token:
        print(users.issue_token(db, user["id"]))
    return 0


def user_token(args: argparse.Namespace) -> int:
    db, _ = _db(args)
    user = _user(db, args.name)
    if user["disabled"]:
        raise CommandError(f"账号已停用 / account disabled: {args.name}")
    print(users.issue_token(db, user["id"]))
    return 0


def user_passwd(args: argparse.Namespace) -> int:
    db, _ = _db(args)
    _user(db, args.name)
    users.set_password(db, args.name, read_password("新密码 / new password: "))
    print(f"password changed for {args.name}")
    return 0


def user_disable(args: argparse.Namespace) -> int:
    db, _ = _db(args)
    user = _user(db, args.name)
    users.set_disabled(db, args.name, True)
    revoked = users.revoke_tokens(db, user["id"])
    print(f"disabled {args.name}; {revoked} token(s) revoked")
    return 0


def user_enable(args: argparse.Namespace) -> int:
    db, _ = _db(args)
    _user(db, args.name)
    users.set_disabled(db, args.name, False)
    print(f"enabled {args.name} (issue a new token with: user token {args.name})")
    return 0


def user_list(args: argparse.Namespace) -> int:
    db, _ = _db(args)
    for row in db.query("SELECT username, role, unit, disabled FROM users ORDER BY username"):
        state = "disabled" if row["disabled"] else "active"
        print("\t".join([row["username"], row["role"], row["unit"] or "-", state]))
    return 0


# ---------------------------------------------------------------- units


def unit_list(args: argparse.Namespace) -> int:
    from keywords import load_units

    db, settings = _db(args)
    known = [(unit.name, unit.kind) for unit in load_units().all()]
    for entry in units.directory(db, settings, known):
        if args.json:
            print(json.dumps(entry, ensure_ascii=False))
            continue
        liaisons = entry["config_liaisons"] + [f"{o}*" for o in entry["stored_liaisons"]]
        print("\t".join([entry["name"], entry["kind"], ",".join(liaisons) or "-"]))
    if not args.json:
        print("(* = added with unit add-liaison; the others come from units.liaisons in the "
              "config file)", file=sys.stderr)
    return 0


def unit_add(args: argparse.Namespace) -> int:
    from keywords import load_units

    db, _ = _db(args)
    name = canonical_unit(args.unit)
    added = units.add_liaison(db, name, load_units().get(name).kind, args.openid)
    print(f"{'added' if added else 'already there'}: {args.openid} → {name}")
    return 0


def unit_remove(args: argparse.Namespace) -> int:
    db, settings = _db(args)
    name = canonical_unit(args.unit)
    if units.remove_liaison(db, name, args.openid):
        print(f"removed: {args.openid} from {name}")
        return 0
    if args.openid in units.configured_liaisons(settings, name):
        raise CommandError(f"{args.openid} 来自配置文件 units.liaisons，请在 {settings.source} "
                           "中删除 / it comes from the config file: edit it there")
    raise CommandError(f"{name} 没有联络人 / has no liaison {args.openid}")


# ---------------------------------------------------------------- sweep


def run_sweep(args: argparse.Namespace) -> int:
    from bot.sweep import sweep

    db, settings = _db(args)
    workdays.configure(settings["calendar.holidays_file"])  # deadlines as the server counts them
    try:
        now = clock.parse(args.now) if args.now else clock.now()
    except ValueError:
        raise CommandError(f"--now 不是 ISO 时间 / not an ISO time: {args.now}") from None
    print(json.dumps(sweep(db, settings, now), ensure_ascii=False))
    return 0
