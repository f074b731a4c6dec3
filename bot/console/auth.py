"""Console sign-in: ``login_required(*roles)``, the login and logout views, the nav.

Other console pages (digests, campaign) build on this::

    from bot.console.auth import login_required

    @blueprint.get("/console/digests")
    @login_required("office", "leader", "admin")
    def digests(): ...

and their templates ``{% extends "console/base.html" %}`` (blocks ``title``
and ``content``). Without a session every path under ``/console/`` redirects to
the login page; a signed-in account whose role is not listed gets 403.
POST forms must carry ``<input type="hidden" name="csrf_token" value="{{ csrf_token() }}">``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from bot.access import current_user, db
from bot.console import security
from storage import users

F = TypeVar("F", bound=Callable[..., Any])
ROLE_LABELS = {"office": "整治办", "unit": "责任单位", "leader": "领导小组", "admin": "管理员"}
ALL_ROLES = tuple(ROLE_LABELS)
PUBLIC_PATHS = ("/console/login", "/console/static/")

# (path, label, roles): the nav, in order; entries whose page is not built are hidden.
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/console/", "工单队列", ALL_ROLES),
    ("/console/dashboard", "统计看板", ("office", "leader", "admin")),
    ("/console/digests", "简报", ("office", "leader", "admin")),
    ("/console/campaign", "整治进度", ("office", "leader", "admin")),
    ("/console/admin/users", "账号管理", ("admin",)),
    ("/console/admin/units", "单位管理", ("admin",)),
)


def login_required(*roles: Any) -> Any:
    """Require a signed-in account (redirect to login), and one of ``roles`` if given (403).

    Usable bare (``@login_required``) or with roles (``@login_required("office", "admin")``).
    The allowed roles are kept on the view as ``console_roles`` for the access tests.
    """
    if len(roles) == 1 and callable(roles[0]):
        return login_required()(roles[0])
    allowed = tuple(roles) or ALL_ROLES

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = current_user()
            if user is None:
                return redirect_to_login()
            if user["role"] not in allowed:
                abort(403)
            return view(*args, **kwargs)

        wrapped.console_roles = allowed  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def redirect_to_login() -> ResponseReturnValue:
    return redirect(url_for("console.login", next=request.full_path.rstrip("?")))


def is_console_path(path: str) -> bool:
    return path == "/console" or path.startswith("/console/")


def guard() -> ResponseReturnValue | None:
    """Before every request: CSRF on console forms; no session → the login page."""
    if not is_console_path(request.path):
        return None
    security.check_csrf()
    if request.path.startswith(PUBLIC_PATHS) or current_user() is not None:
        return None
    return redirect_to_login()


def safe_next(target: str | None) -> str | None:
    """Only a local console path: no open redirect to another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//") or "\\" in target:
        return None
    if not is_console_path(parts.path) or parts.path.startswith(PUBLIC_PATHS):
        return None
    return target


def home_for(user: dict[str, Any]) -> str:
    """Leaders read dashboards; everyone else starts at the queue."""
    if user["role"] == "leader":
        return url_for("console.dashboard")
    return url_for("console.queue")


def login() -> ResponseReturnValue:
    """GET: the form. POST: check throttle and password, start a fresh session."""
    if request.method == "GET":
        user = current_user()
        if user is not None:
            return redirect(safe_next(request.args.get("next")) or home_for(user))
        return render_template("console/login.html", next=request.args.get("next", ""))
    settings = current_app.config["BOT"]
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    ip = request.remote_addr or "-"
    conn = db()
    if security.is_locked(conn, username, ip, settings["console.login_max_failures"]):
        minutes = max(1, settings["console.login_lockout_seconds"] // 60)
        return _login_failed(f"登录失败次数过多，请 {minutes} 分钟后再试。", username, 429)
    user = users.authenticate(conn, username, password) if username and password else None
    if user is None:
        security.record_failure(conn, username, ip, settings["console.login_lockout_seconds"])
        return _login_failed("用户名或密码不正确。", username, 401)
    security.clear_failures(conn, username)
    _start_session(user)
    return redirect(safe_next(request.form.get("next")) or home_for(user))


def _login_failed(message: str, username: str, status: int) -> ResponseReturnValue:
    flash(message, "error")
    page = render_template("console/login.html", next=request.form.get("next", ""),
                           username=username)
    return page, status


def _start_session(user: dict[str, Any]) -> None:
    """A new session at login (no fixation): clear, then bind to the account and password."""
    session.clear()
    session.permanent = True
    session["user_id"] = user["id"]
    session["pw"] = user["password_hash"][-16:]
    security.csrf_token()


def logout() -> ResponseReturnValue:
    """GET asks (a link cannot sign anyone out); POST ends the session."""
    if request.method == "GET":
        if current_user() is None:
            return redirect(url_for("console.login"))
        return render_template("console/logout.html")
    session.clear()
    flash("您已退出登录。", "info")
    return redirect(url_for("console.login"))


def nav_items(user: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The nav entries this account may open, for pages that exist in this app."""
    if user is None:
        return []
    built = {rule.rule for rule in current_app.url_map.iter_rules()}
    return [(path, label) for path, label, roles in NAV
            if user["role"] in roles and path in built]


def template_context() -> dict[str, Any]:
    """What every console template sees: the account, its role label, the nav, csrf_token()."""
    if not is_console_path(request.path):
        return {}
    user = current_user()
    return {
        "me": user,
        "role_label": ROLE_LABELS.get(user["role"], "") if user else "",
        "nav": nav_items(user),
        "csrf_token": security.csrf_token,
    }
