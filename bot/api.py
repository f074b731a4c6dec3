"""JSON API v1: tickets for office, unit and leader accounts.

The query, visibility and serialisation rules are plain functions of
``(db, actor, …)`` so the console shows exactly what the API shows; the Flask
routes at the bottom only parse the request and wrap the result in JSON.
Visibility is ``storage.lifecycle.can_see`` written once more as SQL for lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from sqlite_utils import Database
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from bot import access
from handlers.casework import act
from storage import clock, tickets
from storage.lifecycle import (
    IN_HAND,
    STATUS_LABELS,
    STATUSES,
    TRANSITIONS,
    Actor,
    TransitionError,
    can_see,
    is_overdue,
    pending_extension,
)

API_ACTIONS = ("dispatch", "accept", "return", "answer", "reject", "reclassify", "note",
               "request_extension", "approve_extension", "deny_extension", "close")
TEXT_PARAMS = ("unit", "kind", "subtype", "note")
KINDS = ("S1", "S2", "S3", "S4", "S5", "S6", "D", "P", "NONE")
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
FULL_VIEW_ROLES = ("office", "admin")
TICKET_FIELDS = (
    "number", "status", "kind", "subtype", "unit", "classified_unit", "text", "created_at",
    "updated_at", "dispatched_at", "sign_due_at", "due_at", "signed_at", "answered_at",
    "closed_at", "flags", "lead_units", "matched", "confidence", "rating", "answer",
    "incident_time", "merged_into", "escalated_at",
)
MASKED_FIELDS = ("text", "answer", "incident_time")
PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)|(?<!\d)(0\d{2,3}-?)(\d{3,4})(\d{4})"
                   r"(?!\d)")


class ApiError(Exception):
    """A request the API refuses before any ticket is touched (bad filter, bad body)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Filters:
    """List filters; lists of statuses and kinds may be given comma-separated."""

    status: tuple[str, ...] = ()
    kind: tuple[str, ...] = ()
    unit: str | None = None
    overdue: bool | None = None


# ---------------------------------------------------------------- masking


def mask_phone(text: str | None) -> str | None:
    """138****8000 style: enough to recognise, not enough to call."""
    if not text:
        return text

    def hide(match: re.Match[str]) -> str:
        if match.group(1):
            return f"{match.group(1)}****{match.group(3)}"
        return f"{match.group(4)}{'*' * len(match.group(5))}{match.group(6)}"

    return PHONE.sub(hide, text)


def sees_identity(actor: Actor) -> bool:
    """Only the office sees who complained (OpenID, full phone); units and leaders never."""
    return actor.role in FULL_VIEW_ROLES


# ---------------------------------------------------------------- reading


def serialize(ticket: dict[str, Any], actor: Actor, now: datetime) -> dict[str, Any]:
    """One ticket as the API shows it to ``actor`` (no events)."""
    data = {name: ticket.get(name) for name in TICKET_FIELDS}
    data["status_label"] = STATUS_LABELS[ticket["status"]]
    data["overdue"] = bool(ticket["overdue"]) or is_overdue(ticket, now)
    if sees_identity(actor):
        data.update(openid=ticket["openid"], phone=ticket["phone"])
    else:
        data["phone"] = mask_phone(ticket["phone"])
        for name in MASKED_FIELDS:
            data[name] = mask_phone(data[name])
    return data


def _event(event: dict[str, Any], actor: Actor) -> dict[str, Any]:
    note = event["note"] if sees_identity(actor) else mask_phone(event["note"])
    return {"at": event["at"], "actor": event["actor"], "role": event["role"],
            "action": event["action"], "from_status": event["from_status"],
            "to_status": event["to_status"], "note": note, "internal": bool(event["internal"])}


def ticket_view(db: Database, actor: Actor, number: str,
                now: datetime | None = None) -> dict[str, Any] | None:
    """One ticket with its events and attachments, or None when missing or not visible."""
    ticket = tickets.get_ticket(db, number)
    if ticket is None or not _may_read(actor, ticket):
        return None
    events = tickets.events_of(db, ticket["id"])
    data = serialize(ticket, actor, now or clock.now())
    data["events"] = [_event(event, actor) for event in events]
    pending = pending_extension(events) if ticket["status"] in IN_HAND else None
    data["pending_extension"] = _event(pending, actor) if pending else None
    data["attachments"] = [
        {"kind": a["kind"], "at": a["at"], "url": a["url"], "label": a["label"],
         "latitude": a["latitude"], "longitude": a["longitude"]}
        for a in tickets.attachments_of(db, ticket["id"])
    ]
    return data


def _may_read(actor: Actor, ticket: dict[str, Any]) -> bool:
    return actor.role in ("office", "admin", "leader", "unit") and can_see(actor, ticket)


def visibility_sql(actor: Actor) -> tuple[str, list[Any]]:
    """``can_see`` as a WHERE clause, for lists and counts."""
    if actor.role in ("office", "admin", "leader"):
        return "1 = 1", []
    if actor.role == "unit" and actor.unit:
        return ("unit = ? AND dispatched_at IS NOT NULL AND kind != 'S6' AND NOT EXISTS"
                " (SELECT 1 FROM json_each(tickets.flags) WHERE value = 'discipline')",
                [actor.unit])
    return "1 = 0", []


def overdue_sql(now: datetime) -> tuple[str, list[Any]]:
    """Stored flag or live deadline check (``is_overdue``) as SQL."""
    stamp = clock.iso(now)
    marks = ", ".join("?" for _ in IN_HAND)
    # "IS NOT NULL" keeps every branch true or false (never NULL), so NOT (...) is exact
    return (f"(overdue = 1"
            f" OR (status = 'dispatched' AND sign_due_at IS NOT NULL AND sign_due_at < ?)"
            f" OR (status IN ({marks}) AND due_at IS NOT NULL AND due_at < ?))",
            [stamp, *sorted(IN_HAND), stamp])


def list_tickets(db: Database, actor: Actor, filters: Filters, page: int = 1,
                 per_page: int = DEFAULT_PER_PAGE,
                 now: datetime | None = None) -> dict[str, Any]:
    """A page of the tickets ``actor`` may see, newest first, with the total."""
    now = now or clock.now()
    where, args = _where(actor, filters, now)
    total = db.execute(f"SELECT count(*) FROM tickets WHERE {where}", args).fetchone()[0]
    rows = db.query(
        f"SELECT * FROM tickets WHERE {where} ORDER BY created_at DESC, id DESC"
        " LIMIT ? OFFSET ?", [*args, per_page, (page - 1) * per_page])
    return {"tickets": [serialize(tickets.decode(row), actor, now) for row in rows],
            "page": page, "per_page": per_page, "total": total}


def _where(actor: Actor, filters: Filters, now: datetime) -> tuple[str, list[Any]]:
    clause, args = visibility_sql(actor)
    parts = [clause]
    for column, values in (("status", filters.status), ("kind", filters.kind)):
        if values:
            parts.append(f"{column} IN ({', '.join('?' for _ in values)})")
            args += list(values)
    if filters.unit:
        parts.append("unit = ?")
        args.append(filters.unit)
    if filters.overdue is not None:
        late, late_args = overdue_sql(now)
        parts.append(late if filters.overdue else f"NOT {late}")
        args += late_args
    return " AND ".join(parts), args


# ---------------------------------------------------------------- acting


def action_params(body: Any) -> tuple[str, dict[str, Any]]:
    """The action and its parameters from a request body; ApiError(400) when malformed."""
    if not isinstance(body, dict):
        raise ApiError(400, "请求体必须是 JSON 对象")
    action = body.get("action")
    if not isinstance(action, str) or not action:
        raise ApiError(400, "缺少 action")
    if action not in TRANSITIONS:  # the citizen's own actions (rate, supplement) get 403
        raise ApiError(400, f"未知操作：{action}（可选 {', '.join(API_ACTIONS)}）")
    params: dict[str, Any] = {}
    for name in TEXT_PARAMS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise ApiError(400, f"{name} 必须是字符串")
        if value is not None:
            params[name] = value.strip()
    days = body.get("days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)):
        raise ApiError(400, "days 必须是整数")
    if days is not None:
        params["days"] = days
    return action, params


def perform(db: Database, config: dict[str, Any], actor: Actor, number: str, body: Any,
            now: datetime | None = None) -> dict[str, Any]:
    """Take one action for an API/console account; the updated ticket as ``ticket_view``."""
    action, params = action_params(body)
    if actor.role not in ("office", "admin", "leader", "unit"):
        raise ApiError(403, "该账号不能操作工单")
    act(db, config, number, action, actor, params, now=now)
    view = ticket_view(db, actor, number, now)
    if view is None:  # e.g. a unit whose ticket the office took back meanwhile
        raise ApiError(404, f"工单 {number} 不存在")
    return view


def parse_filters(args: dict[str, str]) -> tuple[Filters, int, int]:
    """Filters and paging from query arguments; ApiError(400) for values that make no sense."""
    statuses = _listed(args.get("status"), STATUSES, "status")
    kinds = _listed((args.get("kind") or "").upper() or None, KINDS, "kind")
    unit = (args.get("unit") or "").strip() or None
    if unit:
        from keywords import load_units

        unit = load_units().canonical(unit) or unit
    overdue = _flag(args.get("overdue"))
    page = _integer(args.get("page"), "page", 1, 1, 10**6)
    per_page = _integer(args.get("per_page"), "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    return Filters(statuses, kinds, unit, overdue), page, per_page


def _listed(value: str | None, allowed: tuple[str, ...], name: str) -> tuple[str, ...]:
    items = tuple(part.strip() for part in (value or "").split(",") if part.strip())
    unknown = [item for item in items if item not in allowed]
    if unknown:
        raise ApiError(400, f"{name} 取值无效：{unknown[0]}（可选 {', '.join(allowed)}）")
    return items


def _flag(value: str | None) -> bool | None:
    if value in (None, ""):
        return None
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise ApiError(400, "overdue 只能是 1 或 0")


def _integer(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value in (None, ""):
        return default
    if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
        raise ApiError(400, f"{name} 必须是 {low} 到 {high} 的整数")
    return int(value)


# ---------------------------------------------------------------- routes

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
# Routes below use merge_slashes=False: a ticket number with "/" in it must be a JSON 404,
# not a redirect to some other route.
PUBLIC_ENDPOINTS = frozenset({"api.openapi"})


def _error(status: int, reason: str) -> tuple[Response, int]:
    response = jsonify(error=reason, status=status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response, status


@blueprint.before_request
def _authenticate() -> ResponseReturnValue | None:
    """Every route but the OpenAPI document needs a bearer token or a console session."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if access.current_actor() is None:
        return _error(401, "需要有效的 API 令牌（Authorization: Bearer TOKEN）或登录")
    return None


@blueprint.app_errorhandler(NotFound)
@blueprint.app_errorhandler(MethodNotAllowed)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    """JSON for unknown API URLs and methods (e.g. a ticket number with a slash)."""
    if not request.path.startswith(blueprint.url_prefix + "/"):
        return error
    if "//" in request.path:  # an empty segment (a number with "/") names no resource
        return _error(404, "没有这个地址 / no such resource")
    response, status = _error(error.code or 404, error.description or error.name)
    for header in ("Allow",):
        if header in error.get_response().headers:
            response.headers[header] = error.get_response().headers[header]
    return response, status


@blueprint.errorhandler(ApiError)
@blueprint.errorhandler(TransitionError)
def _refused(error: ApiError | TransitionError) -> ResponseReturnValue:
    return _error(error.status, error.reason)


def _settings() -> dict[str, Any]:
    from flask import current_app

    return current_app.config["BOT"]


@blueprint.get("/tickets", merge_slashes=False)
def tickets_index() -> ResponseReturnValue:
    actor = access.current_actor()
    filters, page, per_page = parse_filters(request.args.to_dict())
    return jsonify(list_tickets(access.db(), actor, filters, page, per_page))


@blueprint.get("/tickets/<number>", merge_slashes=False)
def ticket_detail(number: str) -> ResponseReturnValue:
    view = ticket_view(access.db(), access.current_actor(), number)
    if view is None:
        return _error(404, f"工单 {number} 不存在")
    return jsonify(view)


@blueprint.post("/tickets/<number>/actions", merge_slashes=False)
def ticket_action(number: str) -> ResponseReturnValue:
    # JSON only: a browser form cannot send it cross-site without a CORS preflight,
    # so a console session cannot be abused by another site (no CSRF token needed here).
    if not request.is_json:
        return _error(400, "请求体必须是 JSON（Content-Type: application/json）")
    body = request.get_json(silent=True)
    return jsonify(perform(access.db(), _settings(), access.current_actor(), number, body))


@blueprint.get("/me", merge_slashes=False)
def me() -> ResponseReturnValue:
    actor = access.current_actor()
    return jsonify(username=actor.name, role=actor.role, unit=actor.unit)


@blueprint.get("/openapi.json", merge_slashes=False)
def openapi() -> ResponseReturnValue:
    from bot.openapi import spec

    return jsonify(spec())
