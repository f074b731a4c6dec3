"""The office console (整治办工作台): queue, tickets, dashboard, exports, admin.

One blueprint; every route is listed once in ``ROUTES`` (path, endpoint, view,
methods), so the access-rule tests can check each one. Views are small
functions in sibling modules; the role rules and masking come from the JSON
API's functions (``bot.api``), so the console and the API cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request
from flask.blueprints import BlueprintSetupState

from bot.console import auth, security, views

blueprint = Blueprint("console", __name__, url_prefix="/console",
                      template_folder="templates", static_folder="static")

ROUTES: tuple[tuple[str, str, Callable[..., Any], tuple[str, ...]], ...] = (
    ("/login", "login", auth.login, ("GET", "POST")),
    ("/logout", "logout", auth.logout, ("GET", "POST")),
    ("/", "queue", views.queue, ("GET",)),
    ("/dashboard", "dashboard", views.dashboard, ("GET",)),
)

for path, endpoint, view, methods in ROUTES:
    blueprint.add_url_rule(path, endpoint, view, methods=list(methods))

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
