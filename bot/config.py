"""Configuration: TOML from --config, $BOT_CONFIG, ./config.toml or the embedded demo.

Every key the app reads is declared once in ``SCHEMA`` with its type and
default, so a missing or malformed key stops start-up with a message that
names the key and the file, and secrets are known (and never logged).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)

DEMO = "<embedded demo config>"
REQUIRED = object()


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the key and the file."""


AES_KEY = re.compile(r"[A-Za-z0-9+/]{43}")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _aes_key(value: str) -> str | None:
    """43 base64 characters that decode (with "=") to a 32-byte AES-256 key."""
    if not value:
        return None
    if not AES_KEY.fullmatch(value):
        return "must be 43 characters of A-Z a-z 0-9 + / (or empty for plaintext mode)"
    try:
        key = base64.b64decode(value + "=", validate=True)
    except binascii.Error:
        return "is not valid base64"
    return None if len(key) == 32 else "does not decode to a 32-byte key"


def _mode(value: str) -> str | None:
    if value not in ("", "plaintext", "compatible", "safe"):
        return 'must be "plaintext", "compatible" or "safe"'
    return None


def _port(value: int) -> str | None:
    return None if 0 < value < 65536 else "must be a port number (1-65535)"


def _positive(value: float) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _non_negative(value: float) -> str | None:
    return None if value >= 0 else "must not be negative"


def _not_empty(value: str) -> str | None:
    return None if value.strip() else "must not be empty"


def _log_level(value: str) -> str | None:
    return None if value.upper() in LOG_LEVELS else f"must be one of {', '.join(LOG_LEVELS)}"


def _surge_mode(value: str) -> str | None:
    from bot.surge import MODES

    return None if value in MODES else f"must be one of {', '.join(MODES)}"


def _timezone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return "must be an IANA time zone such as Asia/Shanghai"
    return None


DEADLINE_KINDS = ("S1", "S2", "S3", "S4", "S5", "S6", "D", "P", "NONE")
DEADLINE_FIELDS = ("sign_working_days", "answer_working_days")


def _deadline_kinds(value: dict) -> str | None:
    """Per-kind overrides: known kinds, known fields, whole positive day counts."""
    for kind, override in value.items():
        if kind not in DEADLINE_KINDS:
            return f"has unknown kind '{kind}' (expected one of {', '.join(DEADLINE_KINDS)})"
        if not isinstance(override, dict):
            return f"'{kind}' must be a table such as [deadlines.kinds.{kind}]"
        for field, days in override.items():
            if field not in DEADLINE_FIELDS:
                return f"'{kind}' has unknown field '{field}'"
            if isinstance(days, bool) or not isinstance(days, int) or days <= 0:
                return f"'{kind}.{field}' must be a whole number of days above 0"
    return None


def _holidays_file(value: str) -> str | None:
    """The office's holiday file must read and check out ("" = the shipped one)."""
    from storage import holidays

    try:
        holidays.load(value or None)
    except holidays.HolidayFileError as error:
        return f"points to an unusable holiday file: {error}"
    return None


def _url(value: str) -> str | None:
    if value.startswith(("http://", "https://")) and value.endswith("/"):
        return None
    return "must be an http(s) URL ending with /"


@dataclass(frozen=True)
class Key:
    """One config key: dotted name, type(s), default, optional check, secret, list item type."""

    name: str
    types: tuple[type, ...]
    default: Any = REQUIRED
    check: Callable[[Any], str | None] | None = None
    secret: bool = False
    items: type | None = None


SCHEMA: tuple[Key, ...] = (
    Key("wechat.token", (str,), REQUIRED, _not_empty, secret=True),
    Key("wechat.appid", (str,), ""),
    Key("wechat.secret", (str,), "", secret=True),
    Key("wechat.encoding_aes_key", (str,), "", _aes_key, secret=True),
    Key("wechat.previous_token", (str,), "", secret=True),
    Key("wechat.previous_encoding_aes_key", (str,), "", _aes_key, secret=True),
    Key("wechat.mode", (str,), "", _mode),
    Key("wechat.api_base_url", (str,), "https://api.weixin.qq.com/cgi-bin/", _url),
    Key("wechat.fake_api", (bool,), False),
    Key("wechat.fake_api_port", (int,), 8081, _port),
    Key("wechat.plaintext_max_age_seconds", (int,), 600, _positive),
    Key("wechat.max_body_bytes", (int,), 1024 * 1024, _positive),
    Key("wechat.reply_max_bytes", (int,), 2000, _positive),
    Key("wechat.template_notice", (str,), ""),
    Key("wechat.template_digest", (str,), ""),
    Key("wechat.template_alert", (str,), ""),
    Key("wechat.request_timeout_seconds", (int, float), 5, _positive),
    Key("storage.path", (str,), "data/complaints.db", _not_empty),
    Key("storage.backup_dir", (str,), "data/backups"),
    Key("server.host", (str,), "127.0.0.1", _not_empty),
    Key("server.port", (int,), 8080, _port),
    Key("server.workers", (int,), 2, _positive),
    # 2, not more: a thread holding the database's write lock waits for the GIL behind
    # its siblings (docs/scaling.md); a second one keeps a slow console page from
    # holding up the webhook in its worker.
    Key("server.threads", (int,), 2, _positive),
    Key("server.public_url", (str,), ""),
    Key("server.proxy_hops", (int,), 0, _non_negative),
    # acknowledge first above this many messages a second in one worker (bot/surge.py)
    Key("surge.mode", (str,), "auto", _surge_mode),
    Key("surge.per_second", (int,), 100, _positive),
    Key("surge.hold_seconds", (int, float), 10, _non_negative),
    Key("surge.drain_nice", (int,), 19, _non_negative),
    Key("console.secret_key", (str,), "", secret=True),
    Key("console.login_max_failures", (int,), 5, _positive),
    Key("console.login_lockout_seconds", (int,), 300, _positive),
    Key("tickets.prefix", (str,), "GF", _not_empty),
    Key("tickets.repeat_window_days", (int,), 30, _non_negative),
    Key("conversation.timeout_minutes", (int,), 30, _positive),
    Key("deadlines.sign_working_days", (int,), 1, _positive),
    Key("deadlines.answer_working_days", (int,), 5, _positive),
    Key("deadlines.kinds", (dict,), {}, _deadline_kinds),
    Key("deadlines.remind_hours_before", (int, float), 4, _non_negative),
    Key("deadlines.escalate_to_leaders_after_working_days", (int,), 3, _non_negative),
    Key("deadlines.auto_close_days", (int,), 7, _positive),
    Key("calendar.holidays_file", (str,), "", _holidays_file),
    Key("scheduler.enabled", (bool,), True),
    Key("scheduler.timezone", (str,), "Asia/Shanghai", _timezone),
    Key("scheduler.sweep_minutes", (int,), 5, _positive),
    Key("scheduler.outbox_seconds", (int,), 5, _positive),
    Key("scheduler.digest_daily", (str,), "30 8 * * *"),
    Key("scheduler.digest_weekly", (str,), "0 9 * * mon"),
    Key("leading_group.openids", (list,), [], items=str),
    Key("leading_group.alert_openids", (list,), [], items=str),
    Key("leading_group.alert_batch_minutes", (int,), 10, _positive),
    Key("office.openids", (list,), [], items=str),
    Key("units.liaisons", (dict,), {}),
    Key("digest.top_n", (int,), 10, _positive),
    Key("campaign.year", (int,), 2026, _positive),
    Key("campaign.phases", (list,), []),
    Key("campaign.targets", (list,), []),
    Key("keywords.dir", (str,), ""),
    Key("logging.level", (str,), "INFO", _log_level),
    Key("logging.json", (bool,), True),
)
SECRET_KEYS = frozenset(key.name for key in SCHEMA if key.secret)
TABLES = frozenset(key.name.rpartition(".")[0] for key in SCHEMA)


class Config(dict):
    """Validated settings: ``cfg["wechat.token"]`` by dotted key; ``cfg.source`` the file."""

    source: str = DEMO

    @property
    def is_demo(self) -> bool:
        return self.source == DEMO

    @property
    def credentials(self) -> list[tuple[str, str]]:
        """(token, EncodingAESKey) pairs accepted, current first; the previous pair only
        while a rotation is under way (``previous_token`` / ``previous_encoding_aes_key``)."""
        current = (self["wechat.token"], self["wechat.encoding_aes_key"])
        previous = (self["wechat.previous_token"] or current[0],
                    self["wechat.previous_encoding_aes_key"] or current[1])
        return [current] if previous == current else [current, previous]

    @property
    def message_mode(self) -> str:
        """plaintext | compatible | safe; an AES key without a mode means compatible."""
        if not self["wechat.encoding_aes_key"]:
            return "plaintext"
        return self["wechat.mode"] or "compatible"

    def redacted(self) -> dict[str, Any]:
        """Settings safe to log or print: secrets replaced."""
        return {k: ("***" if k in SECRET_KEYS and v else v) for k, v in self.items()}


def _flatten(table: dict[str, Any], source: str, prefix: str = "") -> dict[str, Any]:
    """Dotted keys; a known table given as a plain value is an error naming it."""
    known_tables = {key.name for key in SCHEMA if dict in key.types}
    flat: dict[str, Any] = {}
    for name, value in table.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, dict) and dotted not in known_tables:
            flat.update(_flatten(value, source, dotted + "."))
        elif dotted in TABLES:
            raise ConfigError(f"{source}: key '{dotted}' must be a table ([{dotted}])")
        else:
            flat[dotted] = value
    return flat


def _check_value(key: Key, value: Any, source: str) -> None:
    """Type, list items and the key's own check; raise ConfigError naming key and file."""
    wanted = " or ".join(t.__name__ for t in key.types)
    if isinstance(value, bool) and bool not in key.types or not isinstance(value, key.types):
        raise ConfigError(f"{source}: key '{key.name}' must be {wanted}")
    if key.items is not None and not all(isinstance(item, key.items) for item in value):
        raise ConfigError(f"{source}: key '{key.name}' must be a list of {key.items.__name__}")
    problem = key.check(value) if key.check else None
    if problem:
        raise ConfigError(f"{source}: key '{key.name}' {problem}")


def _check_together(cfg: Config, source: str) -> None:
    """Keys that only make sense together: a mode needs a key, a key needs the AppID."""
    aes_key = cfg["wechat.encoding_aes_key"]
    if cfg["wechat.mode"] in ("compatible", "safe") and not aes_key:
        raise ConfigError(f"{source}: key 'wechat.mode' = \"{cfg['wechat.mode']}\" needs "
                          "'wechat.encoding_aes_key'")
    if aes_key and not cfg["wechat.appid"].strip():
        raise ConfigError(f"{source}: key 'wechat.appid' is required with an encoding_aes_key")


def validate(raw: dict[str, Any], source: str) -> Config:
    """Check every key against ``SCHEMA``; raise ConfigError naming the first bad one."""
    flat = _flatten(raw, source)
    cfg = Config()
    cfg.source = source
    for key in SCHEMA:
        if key.name not in flat:
            if key.default is REQUIRED:
                raise ConfigError(f"{source}: missing required key '{key.name}'")
            cfg[key.name] = key.default
            continue
        _check_value(key, flat[key.name], source)
        cfg[key.name] = flat[key.name]
    _check_together(cfg, source)
    for unknown in sorted(set(flat) - {key.name for key in SCHEMA}):
        log.warning("config %s: unknown key '%s' ignored", source, unknown)
    return cfg


def demo_text() -> str:
    """The embedded demo config (used when no file is given)."""
    return resources.files("bot").joinpath("demo_config.toml").read_text("utf-8")


def parse_text(text: str, source: str) -> Config:
    """Parse and validate TOML text; ``source`` names the file in every error."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{source}: not valid TOML: {error}") from None
    return validate(raw, source)


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """--config, else $BOT_CONFIG, else ./config.toml, else the embedded demo."""
    chosen = path or os.environ.get("BOT_CONFIG") or None
    if chosen is None and Path("config.toml").is_file():
        chosen = "config.toml"
    if chosen is None:
        return parse_text(demo_text(), DEMO)
    file = Path(chosen)
    try:
        text = file.read_text("utf-8")
    except OSError as error:
        raise ConfigError(f"{file}: cannot read config file: {error.strerror}") from None
    return parse_text(text, str(file))
