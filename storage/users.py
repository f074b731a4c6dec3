"""Accounts and API tokens. Passwords use werkzeug's scrypt; tokens are stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlite_utils import Database
from werkzeug.security import check_password_hash, generate_password_hash

from storage import clock

ROLES = ("office", "unit", "leader", "admin")
MIN_PASSWORD_LENGTH = 10


class AccountError(ValueError):
    """A refused account change (bad role, weak password, unknown user)."""


def check_password_policy(password: str) -> None:
    """At least 10 characters, with letters and digits."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少 {MIN_PASSWORD_LENGTH} 位")
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        raise AccountError("密码需同时包含字母和数字")


def create_user(db: Database, username: str, role: str, password: str,
                unit: str | None = None) -> dict[str, Any]:
    if role not in ROLES:
        raise AccountError(f"角色必须是 {'/'.join(ROLES)} 之一")
    if role == "unit" and not unit:
        raise AccountError("单位账号必须指定 --unit")
    check_password_policy(password)
    if get_user(db, username):
        raise AccountError(f"账号 {username} 已存在")
    db.execute(
        "INSERT INTO users (username, role, unit, password_hash, created_at) VALUES (?,?,?,?,?)",
        [username, role, unit if role == "unit" else None,
         generate_password_hash(password, method="scrypt"), clock.iso(clock.now())],
    )
    return get_user(db, username)


def get_user(db: Database, username: str) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM users WHERE username = ?", [username]))
    return rows[0] if rows else None


def get_user_by_id(db: Database, user_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM users WHERE id = ?", [user_id]))
    return rows[0] if rows else None


def authenticate(db: Database, username: str, password: str) -> dict[str, Any] | None:
    """The user for a right password on an enabled account, else None."""
    user = get_user(db, username)
    if user is None or user["disabled"]:
        check_password_hash(_DUMMY_HASH, password)  # same work either way: no user probing
        return None
    return user if check_password_hash(user["password_hash"], password) else None


def set_password(db: Database, username: str, password: str) -> None:
    check_password_policy(password)
    db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
               [generate_password_hash(password, method="scrypt"), username])


def set_disabled(db: Database, username: str, disabled: bool) -> None:
    db.execute("UPDATE users SET disabled = ? WHERE username = ?", [int(disabled), username])


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(db: Database, user_id: int) -> str:
    """A new API token; only its hash is kept, so it is shown once."""
    token = "cd_" + secrets.token_urlsafe(32)
    db.execute("INSERT INTO api_tokens (user_id, token_hash, created_at) VALUES (?,?,?)",
               [user_id, hash_token(token), clock.iso(clock.now())])
    return token


def user_for_token(db: Database, token: str) -> dict[str, Any] | None:
    rows = list(db.query(
        "SELECT users.* FROM api_tokens JOIN users ON users.id = api_tokens.user_id"
        " WHERE api_tokens.token_hash = ? AND api_tokens.revoked = 0 AND users.disabled = 0",
        [hash_token(token)],
    ))
    return rows[0] if rows else None


def revoke_tokens(db: Database, user_id: int) -> int:
    return db.execute("UPDATE api_tokens SET revoked = 1 WHERE user_id = ?", [user_id]).rowcount


_DUMMY_HASH = generate_password_hash("not-a-real-password-0", method="scrypt")
