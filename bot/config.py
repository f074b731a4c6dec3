"""Configuration: TOML from --config, $BOT_CONFIG, ./config.toml or the embedded demo.

Every key the app reads is declared once in ``SCHEMA`` with its type and
default, so a missing or malformed key stops start-up with a message that
names the key and the file, and secrets are known (and never logged).
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DEMO = "<embedded demo config>"
REQUIRED = object()


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the key and the file."""


def _aes_key(value: str) -> str | None:
    if value and len(value) != 43:
        return "must be 43 characters (or empty for plaintext mode)"
    return None


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


def _url(value: str) -> str | None:
    if value.startswith(("http://", "https://")) and value.endswith("/"):
        return None
    return "must be an http(s) URL ending with /"


@dataclass(frozen=True)
class Key:
    """One config key: dotted name, type(s), default, optional check, secret or not."""

    name: str
    types: tuple[type, ...]
    default: Any = REQUIRED
    check: Callable[[Any], str | None] | None = None
    secret: bool = False


SCHEMA: tuple[Key, ...] = (
    Key("wechat.token", (str,), REQUIRED, _not_empty, secret=True),
    Key("wechat.appid", (str,), ""),
    Key("wechat.secret", (str,), "", secret=True),
    Key("wechat.encoding_aes_key", (str,), "", _aes_key, secret=True),
    Key("wechat.mode", (str,), "", _mode),
    Key("wechat.api_base_url", (str,), "https://api.weixin.qq.com/cgi-bin/", _url),
    Key("wechat.fake_api", (bool,), False),
    Key("wechat.fake_api_port", (int,), 8081, _port),
    Key("wechat.plaintext_max_age_seconds", (int,), 600, _positive),
    Key("wechat.max_body_bytes", (int,), 1024 * 1024, _positive),
    Key("wechat.reply_max_bytes", (int,), 2000, _positive),
    Key("wechat.template_status", (str,), ""),
    Key("wechat.template_notice", (str,), ""),
    Key("wechat.template_digest", (str,), ""),
    Key("wechat.template_alert", (str,), ""),
    Key("wechat.request_timeout_seconds", (int, float), 5, _positive),
    Key("storage.path", (str,), "data/complaints.db", _not_empty),
    Key("storage.backup_dir", (str,), "data/backups"),
    Key("server.host", (str,), "127.0.0.1", _not_empty),
    Key("server.port", (int,), 8080, _port),
    Key("server.workers", (int,), 2, _positive),
    Key("server.threads", (int,), 4, _positive),
    Key("server.public_url", (str,), ""),
    Key("console.secret_key", (str,), "", secret=True),
    Key("console.login_max_failures", (int,), 5, _positive),
    Key("console.login_lockout_seconds", (int,), 300, _positive),
    Key("tickets.prefix", (str,), "GF", _not_empty),
    Key("tickets.repeat_window_days", (int,), 30, _non_negative),
    Key("conversation.timeout_minutes", (int,), 30, _positive),
    Key("deadlines.sign_working_days", (int,), 1, _positive),
    Key("deadlines.answer_working_days", (int,), 5, _positive),
    Key("deadlines.kinds", (dict,), {}),
    Key("deadlines.remind_hours_before", (int, float), 4, _non_negative),
    Key("deadlines.escalate_to_leaders_after_working_days", (int,), 3, _non_negative),
    Key("deadlines.auto_close_days", (int,), 7, _positive),
    Key("scheduler.enabled", (bool,), True),
    Key("scheduler.timezone", (str,), "Asia/Shanghai"),
    Key("scheduler.sweep_minutes", (int,), 5, _positive),
    Key("scheduler.outbox_seconds", (int,), 5, _positive),
    Key("scheduler.digest_daily", (str,), "30 8 * * *"),
    Key("scheduler.digest_weekly", (str,), "0 9 * * mon"),
    Key("leading_group.openids", (list,), []),
    Key("leading_group.alert_openids", (list,), []),
    Key("leading_group.alert_batch_minutes", (int,), 10, _positive),
    Key("office.openids", (list,), []),
    Key("units.liaisons", (dict,), {}),
    Key("digest.top_n", (int,), 10, _positive),
    Key("campaign.year", (int,), 2026, _positive),
    Key("campaign.phases", (list,), []),
    Key("campaign.targets", (list,), []),
    Key("keywords.dir", (str,), ""),
    Key("logging.level", (str,), "INFO"),
    Key("logging.json", (bool,), True),
)
SECRET_KEYS = frozenset(key.name for key in SCHEMA if key.secret)


class Config(dict):
    """Validated settings: ``cfg["wechat.token"]`` by dotted key; ``cfg.source`` the file."""

    source: str = DEMO

    @property
    def is_demo(self) -> bool:
        return self.source == DEMO

    @property
    def message_mode(self) -> str:
        """plaintext | compatible | safe; an AES key without a mode means compatible."""
        if not self["wechat.encoding_aes_key"]:
            return "plaintext"
        return self["wechat.mode"] or "compatible"

    def redacted(self) -> dict[str, Any]:
        """Settings safe to log or print: secrets replaced."""
        return {k: ("***" if k in SECRET_KEYS and v else v) for k, v in self.items()}


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    known_tables = {key.name for key in SCHEMA if dict in key.types}
    flat: dict[str, Any] = {}
    for name, value in table.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, dict) and dotted not in known_tables:
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def validate(raw: dict[str, Any], source: str) -> Config:
    """Check every key against ``SCHEMA``; raise ConfigError naming the first bad one."""
    flat = _flatten(raw)
    cfg = Config()
    cfg.source = source
    for key in SCHEMA:
        if key.name not in flat:
            if key.default is REQUIRED:
                raise ConfigError(f"{source}: missing required key '{key.name}'")
            cfg[key.name] = key.default
            continue
        value = flat[key.name]
        if isinstance(value, bool) and bool not in key.types or not isinstance(value, key.types):
            wanted = " or ".join(t.__name__ for t in key.types)
            raise ConfigError(f"{source}: key '{key.name}' must be {wanted}")
        problem = key.check(value) if key.check else None
        if problem:
            raise ConfigError(f"{source}: key '{key.name}' {problem}")
        cfg[key.name] = value
    for unknown in sorted(set(flat) - {key.name for key in SCHEMA}):
        log.warning("config %s: unknown key '%s' ignored", source, unknown)
    return cfg


def demo_text() -> str:
    """The embedded demo config (used when no file is given)."""
    return resources.files("bot").joinpath("demo_config.toml").read_text("utf-8")


def parse_text(text: str, source: str) -> Config:
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
