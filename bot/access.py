"""Who is asking: one code path for the JSON API and the console.

A request is authenticated by ``Authorization: Bearer TOKEN`` or by a
console session; both give an ``Actor`` and the same visibility rules
(``storage.lifecycle.can_see``) and actions (``handlers.casework.act``).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request, session

from storage import users
from storage.db import get_db
from storage.lifecycle import Actor


def db():  # noqa: ANN201 - a sqlite-utils Database
    """This thread's connection to the configured database."""
    return get_db(current_app.config["BOT"]["storage.path"])


def actor_for(user: dict[str, Any]) -> Actor:
    return Actor(user["username"], user["role"], user["unit"])


def current_user() -> dict[str, Any] | None:
    """The account behind this request (bearer token first, then session), or None."""
    if "current_user" in g:
        return g.current_user
    user = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user = users.user_for_token(db(), header[7:].strip())
    elif session.get("user_id"):
        found = users.get_user_by_id(db(), session["user_id"])
        if found and not found["disabled"] and found["password_hash"][-16:] == session.get(
                "pw"):
            user = found
    g.current_user = user
    return user


def current_actor() -> Actor | None:
    user = current_user()
    return actor_for(user) if user else None
