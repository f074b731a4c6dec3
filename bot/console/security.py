"""Console security plumbing: the secret key, CSRF tokens and login throttling.

The secret key is never a default in code: it comes from ``console.secret_key``
or is generated once into ``<db dir>/instance/secret_key`` (mode 0600) so every
worker process and every restart signs sessions with the same key. Login
failures are counted in the shared SQLite ``kv`` table, so a lockout holds
across gunicorn workers.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask, Request, abort, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from sqlite_utils import Database

from storage.db import write_transaction

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_HOURS = 8
# Many staff share one office NAT address: an address is locked only after
# this many times the per-account limit, so one colleague's typos lock no one else.
IP_FACTOR = 3


def secret_key_path(storage_path: str) -> Path:
    """Where a generated key lives: the instance folder next to the database."""
    return Path(storage_path).resolve().parent / "instance" / "secret_key"


def load_or_create_secret(path: Path) -> str:
    """Read the key file, or create it once (O_EXCL, 0600) so concurrent workers agree."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker may be writing it right now
            key = path.read_text("utf-8").strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path}: empty secret key file; delete it to regenerate") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(key)
    return key


class NoWebhookSessions(SecureCookieSessionInterface):
    """Signed-cookie sessions, but none for WeChat's requests: they never carry a cookie,
    and unpacking the signer on each message of a surge costs more than the message's
    own database write."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(SESSIONLESS_PATHS):
            return self.make_null_session(app)
        return super().open_session(app, request)


SESSIONLESS_PATHS = ("/wechat", "/healthz")


def configure_app(app: Flask) -> None:
    """Secret key and cookie flags for console sessions (HttpOnly, SameSite=Lax)."""
    settings = app.config["BOT"]
    app.session_interface = NoWebhookSessions()
    key = settings["console.secret_key"] or load_or_create_secret(
        secret_key_path(settings["storage.path"]))
    app.secret_key = key
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["server.public_url"].startswith("https://"),
        SESSION_COOKIE_NAME="cd_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
    )


def csrf_token() -> str:
    """This session's CSRF token (created on first use); forms carry it back."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """400 unless a state-changing request carries this session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get(CSRF_FIELD) or ""
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="表单已过期或来源不明，请刷新页面后重试。")


# --- login throttling ---------------------------------------------------------

def _keys(username: str, ip: str) -> tuple[str, str]:
    return f"login_fail:user:{username.strip().lower()}", f"login_fail:ip:{ip}"


def _count(db: Database, key: str, now: float) -> int:
    row = db.execute("SELECT value, expires_at FROM kv WHERE key = ?", [key]).fetchone()
    if row is None or (row[1] is not None and row[1] <= now):
        return 0
    return int(row[0])


def is_locked(db: Database, username: str, ip: str, max_failures: int,
              now: float | None = None) -> bool:
    """True while this account or this address has too many recent failures."""
    moment = time.time() if now is None else now
    user_key, ip_key = _keys(username, ip)
    return (_count(db, user_key, moment) >= max_failures
            or _count(db, ip_key, moment) >= max_failures * IP_FACTOR)


def record_failure(db: Database, username: str, ip: str, lockout_seconds: int,
                   now: float | None = None) -> None:
    """Count one failure for the account and the address; the window slides."""
    moment = time.time() if now is None else now
    with write_transaction(db):
        for key in _keys(username, ip):
            count = _count(db, key, moment) + 1
            db.execute(
                "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT(key)"
                " DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                [key, str(count), moment + lockout_seconds])


def clear_failures(db: Database, username: str) -> None:
    """A right password resets the account's counter (not the address's)."""
    db.execute("DELETE FROM kv WHERE key = ?", [_keys(username, "")[0]])
