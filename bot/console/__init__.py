"""The office console (整治办工作台): queue, tickets, dashboard, exports, admin.

One blueprint; every route is listed once in ``ROUTES`` (path, endpoint, view,
methods), so the access-rule tests can check each one. Views are small
functions in sibling modules; the role rules and masking come from the JSON
API's functions (``bot.api``), so the console and the API cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from bot.console import admin, auth, dashboard, queue, security, ticket

blueprint = Blueprint("console", __name__, url_prefix="/console",
                      template_folder="templates", static_folder="static")

ROUTES: tuple[tuple[str, str, Callable[..., Any], tuple[str, ...]], ...] = (
    ("/login", "login", auth.login, ("GET", "POST")),
    ("/logout", "logout", auth.logout, ("GET", "POST")),
    ("/", "queue", queue.queue, ("GET",)),
    ("/export.<fmt>", "export_queue", queue.export_queue, ("GET",)),
    ("/tickets/<number>", "ticket", ticket.ticket, ("GET",)),
    ("/tickets/<number>/actions", "ticket_act", ticket.ticket_act, ("POST",)),
    ("/dashboard", "dashboard", dashboard.dashboard, ("GET",)),
    ("/admin/users", "users_index", admin.users_index, ("GET",)),
    ("/admin/users", "users_create", admin.users_create, ("POST",)),
    ("/admin/users/<username>/disable", "users_disable", admin.users_disable, ("POST",)),
    ("/admin/users/<username>/password", "users_password", admin.users_password, ("POST",)),
    ("/admin/users/<username>/token", "users_token", admin.users_token, ("POST",)),
    ("/admin/units", "units_index", admin.units_index, ("GET",)),
    ("/admin/units/<name>", "units_update", admin.units_update, ("POST",)),
)

for path, endpoint, view, methods in ROUTES:
    blueprint.add_url_rule(path, endpoint, view, methods=list(methods))

ERROR_TITLES = {400: "请求有误", 403: "无权访问", 404: "找不到页面或工单", 405: "不支持的操作",
                429: "操作过于频繁"}
ERROR_TEXTS = {403: "您的账号无权查看这个页面。", 404: "您要找的内容不存在，或您的账号无权查看。",
               400: "请求有误，请返回重试。"}
CSP = ("default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@blueprint.record_once
def _setup(state: BlueprintSetupState) -> None:
    """Secret key and cookie flags on the app; guards run for every /console/ path."""
    security.configure_app(state.app)


@blueprint.before_app_request
def _guard() -> Any:
    return auth.guard()


@blueprint.app_context_processor
def _context() -> dict[str, Any]:
    return auth.template_context()


@blueprint.app_errorhandler(HTTPException)
def _error_page(error: HTTPException) -> Any:
    """Console errors as a readable Chinese page; other paths keep their own handling."""
    if not auth.is_console_path(request.path) or error.code is None or error.code < 400:
        return error
    custom = error.description != type(error).description  # ours, in Chinese
    message = error.description if custom else ERROR_TEXTS.get(error.code, "请求未能完成。")
    return render_template("console/error.html", code=error.code, message=message,
                           title=ERROR_TITLES.get(error.code, "出错了")), error.code


@blueprint.after_app_request
def _headers(response: Response) -> Response:
    """Console pages: no caching of citizen data, no framing, a strict CSP."""
    if auth.is_console_path(request.path):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.path.startswith("/console/static/"):
            response.headers["Cache-Control"] = "no-store"
    return response
