"""Administration (role ``admin``): accounts, API tokens, unit liaisons.

Secrets (a generated password, a new API token) are rendered once in the
POST response and never put in the flash cookie or a redirect URL: Flask's
session cookie is signed, not encrypted.
"""

from __future__ import annotations

import re
import secrets
import string

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot.access import current_user, db
from bot.console.auth import ROLE_LABELS, login_required
from keywords import load_units
from storage import units, users

OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
USERNAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,32}$")


def temporary_password() -> str:
    """A random password that meets the policy (letters and digits, 14 characters)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(14))
        if any(c.isalpha() for c in candidate) and any(c.isdigit() for c in candidate):
            return candidate


def _user_or_404(username: str) -> dict:
    user = users.get_user(db(), username)
    if user is None:
        abort(404, description=f"账号 {username} 不存在")
    return user


def _users_page(secret: dict | None = None, status: int = 200) -> ResponseReturnValue:
    rows = list(db().query(
        "SELECT users.*, (SELECT count(*) FROM api_tokens WHERE user_id = users.id"
        " AND revoked = 0) AS tokens FROM users ORDER BY role, username"))
    unit_names = [unit.name for unit in load_units().all()]
    return render_template("console/admin_users.html", users=rows, roles=ROLE_LABELS,
                           unit_names=unit_names, secret=secret), status


@login_required("admin")
def users_index() -> ResponseReturnValue:
    return _users_page()


@login_required("admin")
def users_create() -> ResponseReturnValue:
    """New account; a blank password field means "generate one and show it once"."""
    form = request.form
    username = form.get("username", "").strip()
    if not USERNAME.match(username):
        flash("用户名需为 2–32 位字母、数字、汉字或 . _ -", "error")
        return _users_page(status=400)
    password = form.get("password", "") or temporary_password()
    try:
        users.create_user(db(), username, form.get("role", ""), password,
                          form.get("unit") or None)
    except users.AccountError as error:
        flash(f"未能创建账号：{error}", "error")
        return _users_page(status=400)
    flash(f"已创建账号 {username}", "success")
    if form.get("password"):
        return redirect(url_for("console.users_index"), 303)
    return _users_page({"label": f"{username} 的初始密码", "value": password})


@login_required("admin")
def users_disable(username: str) -> ResponseReturnValue:
    """Disable or re-enable an account; its sessions and tokens stop working at once."""
    user = _user_or_404(username)
    if user["id"] == current_user()["id"]:
        flash("不能停用自己的账号。", "error")
        return redirect(url_for("console.users_index"), 303)
    disable = request.form.get("disabled") == "1"
    users.set_disabled(db(), username, disable)
    flash(f"已{'停用' if disable else '启用'}账号 {username}", "success")
    return redirect(url_for("console.users_index"), 303)


@login_required("admin")
def users_password(username: str) -> ResponseReturnValue:
    """Reset a password: typed by the admin, or generated and shown once. Ends its sessions."""
    _user_or_404(username)
    password = request.form.get("password", "") or temporary_password()
    try:
        users.set_password(db(), username, password)
    except users.AccountError as error:
        flash(f"未能重置密码：{error}", "error")
        return _users_page(status=400)
    flash(f"已重置 {username} 的密码，原有登录已失效。", "success")
    if request.form.get("password"):
        return redirect(url_for("console.users_index"), 303)
    return _users_page({"label": f"{username} 的新密码", "value": password})


@login_required("admin")
def users_token(username: str) -> ResponseReturnValue:
    """Issue an API token, shown once (only its hash is kept); or revoke all of them."""
    user = _user_or_404(username)
    if request.form.get("revoke") == "1":
        count = users.revoke_tokens(db(), user["id"])
        flash(f"已吊销 {username} 的 {count} 个 API 令牌", "success")
        return redirect(url_for("console.users_index"), 303)
    token = users.issue_token(db(), user["id"])
    return _users_page({"label": f"{username} 的 API 令牌（只显示这一次）", "value": token})


@login_required("admin")
def units_index() -> ResponseReturnValue:
    """Each unit of the classifier's directory with its liaison OpenIDs."""
    settings = current_app.config["BOT"]
    known = [(unit.name, unit.kind) for unit in load_units().all()]
    return render_template("console/admin_units.html",
                           units=units.directory(db(), settings, known))


@login_required("admin")
def units_update(name: str) -> ResponseReturnValue:
    """Replace a unit's stored liaison OpenIDs with the lines of the form."""
    unit = load_units().get(name)
    if unit is None:
        abort(404, description=f"单位 {name} 不在单位目录中")
    wanted = list(dict.fromkeys(
        line.strip() for line in request.form.get("openids", "").splitlines() if line.strip()))
    bad = [openid for openid in wanted if not OPENID.match(openid)]
    if bad:
        flash(f"OpenID 格式不正确：{bad[0]}", "error")
        return redirect(url_for("console.units_index"), 303)
    conn = db()
    current = units.stored_liaisons(conn, name)
    for openid in current:
        if openid not in wanted:
            units.remove_liaison(conn, name, openid)
    for openid in wanted:
        if openid not in current:
            units.add_liaison(conn, name, unit.kind, openid)
    flash(f"已更新 {name} 的联络人（{len(wanted)} 个）", "success")
    return redirect(url_for("console.units_index") + f"#unit-{unit.name}", 303)
