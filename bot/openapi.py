"""The OpenAPI 3 description of JSON API v1, served at ``GET /api/v1/openapi.json``.

Built from the same constants as bot/api.py (statuses, kinds, actions, fields),
so the document cannot drift from the code on those; tests check the rest.
"""

from __future__ import annotations

from typing import Any

from bot.api import API_ACTIONS, KINDS, MAX_PER_PAGE
from storage.lifecycle import RATINGS, STATUSES

NULLABLE_STRINGS = ("subtype", "unit", "classified_unit", "dispatched_at", "sign_due_at",
                    "due_at", "signed_at", "answered_at", "closed_at", "answer", "phone",
                    "incident_time", "merged_into", "escalated_at")
REQUIRED = ("number", "status", "status_label", "kind", "subtype", "unit", "text", "created_at",
            "due_at", "sign_due_at", "overdue", "flags", "lead_units", "matched", "confidence",
            "rating", "answer")


def _string(nullable: bool = False, **extra: Any) -> dict[str, Any]:
    schema = {"type": "string", **extra}
    return {**schema, "nullable": True} if nullable else schema


def _strings() -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}}


def ticket_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {name: _string(nullable=True) for name in NULLABLE_STRINGS}
    properties.update(
        number=_string(example="GF20261125-0007"),
        status=_string(enum=list(STATUSES)),
        status_label=_string(),
        kind=_string(enum=list(KINDS)),
        text=_string(),
        created_at=_string(format="date-time"),
        updated_at=_string(format="date-time"),
        overdue={"type": "boolean"},
        flags={**_strings(), "description": "`discipline` marks an S6 referral to 区纪委"},
        lead_units=_strings(),
        matched=_strings(),
        confidence={"type": "number"},
        rating=_string(nullable=True, enum=[*RATINGS, None]),
        openid=_string(description="office and admin accounts only"),
    )
    return {"type": "object", "required": list(REQUIRED), "properties": properties}


def event_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["at", "actor", "role", "action", "from_status", "to_status", "note",
                     "internal"],
        "properties": {
            "at": _string(format="date-time"), "actor": _string(), "role": _string(),
            "action": _string(), "from_status": _string(nullable=True),
            "to_status": _string(nullable=True), "note": _string(nullable=True),
            "internal": {"type": "boolean"},
        },
    }


def detail_schema() -> dict[str, Any]:
    attachment = {"type": "object", "properties": {
        "kind": _string(), "at": _string(), "url": _string(nullable=True),
        "label": _string(nullable=True), "latitude": {"type": "number", "nullable": True},
        "longitude": {"type": "number", "nullable": True}}}
    return {"allOf": [
        {"$ref": "#/components/schemas/Ticket"},
        {"type": "object", "required": ["events", "attachments", "pending_extension"],
         "properties": {
             "events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
             "attachments": {"type": "array", "items": attachment},
             "pending_extension": {"allOf": [{"$ref": "#/components/schemas/Event"}],
                                   "nullable": True}}},
    ]}


def action_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": _string(enum=list(API_ACTIONS)),
            "unit": _string(description="dispatch: the unit's name or alias"),
            "kind": _string(enum=list(KINDS), description="reclassify: the new kind"),
            "subtype": _string(description="reclassify: D1…D6 or P1…P9"),
            "note": _string(maxLength=2000, description="return/answer/reject/note/"
                            "request_extension/deny_extension: the reason, answer or text"),
            "days": {"type": "integer", "minimum": 1, "maximum": 30,
                     "description": "request_extension/approve_extension: working days"},
        },
    }


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}


def _json_response(description: str, ref: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


NUMBER = {"name": "number", "in": "path", "required": True, "schema": {"type": "string"},
          "description": "ticket number, e.g. GF20261125-0007"}


def paths() -> dict[str, Any]:
    unauthorized = _error_response("missing or invalid token")
    listing = {
        "summary": "Tickets this account may see, newest first",
        "parameters": [
            _query("status", {"type": "string"}, f"one or more of {', '.join(STATUSES)}, "
                   "comma-separated"),
            _query("kind", {"type": "string"}, f"one or more of {', '.join(KINDS)}"),
            _query("unit", {"type": "string"}, "unit name or alias"),
            _query("overdue", {"type": "string", "enum": ["1", "0"]}, "1: overdue only"),
            _query("page", {"type": "integer", "minimum": 1, "maximum": 10**6}, "from 1"),
            _query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                   "default 20"),
        ],
        "responses": {"200": _json_response("a page of tickets", "TicketPage"),
                      "400": _error_response("a filter value that makes no sense"),
                      "401": unauthorized},
    }
    detail = {
        "summary": "One ticket with its events",
        "parameters": [NUMBER],
        "responses": {"200": _json_response("the ticket", "TicketDetail"),
                      "401": unauthorized,
                      "404": _error_response("no such ticket, or not visible to this account")},
    }
    action = {
        "summary": "Act on a ticket (dispatch, accept, return, answer, reject, reclassify, …)",
        "parameters": [NUMBER],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Action"}}}},
        "responses": {
            "200": _json_response("the updated ticket", "TicketDetail"),
            "400": _error_response("malformed body, unknown action or missing parameter"),
            "401": unauthorized,
            "403": _error_response("this role may never take this action"),
            "404": _error_response("no such ticket, or not visible to this account"),
            "409": _error_response("the lifecycle forbids this action in the current status"
                                   " (deny_extension: no extension request is pending)"),
        },
    }
    me = {"summary": "The account behind the token",
          "responses": {"200": _json_response("the account", "Account"),
                        "401": unauthorized}}
    return {"/tickets": {"get": listing}, "/tickets/{number}": {"get": detail},
            "/tickets/{number}/actions": {"post": action}, "/me": {"get": me}}


def spec() -> dict[str, Any]:
    """The whole OpenAPI 3.0 document."""
    page = {"type": "object", "required": ["tickets", "page", "per_page", "total"],
            "properties": {"tickets": {"type": "array",
                                       "items": {"$ref": "#/components/schemas/Ticket"}},
                           "page": {"type": "integer"}, "per_page": {"type": "integer"},
                           "total": {"type": "integer"}}}
    error = {"type": "object", "required": ["error", "status"],
             "properties": {"error": _string(), "status": {"type": "integer"}}}
    account = {"type": "object", "required": ["username", "role", "unit"],
               "properties": {"username": _string(), "role": _string(),
                              "unit": _string(nullable=True)}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Complaint Desk API", "version": "1",
                 "description": "群众办事难投诉受理平台: tickets for office, unit and leader "
                                "accounts. See docs/api.md."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Ticket": ticket_schema(), "TicketDetail": detail_schema(),
                        "Event": event_schema(), "Action": action_schema(),
                        "TicketPage": page, "Error": error, "Account": account},
        },
    }
