"""Shared helpers for the console tests: accounts of every role, a few tickets, a login.

Plain functions (not fixtures) so each test module states its own fixtures.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlite_utils import Database

from handlers import casework
from storage import tickets, users

PASSWORD = "console-passw0rd"
ROLES = ("office", "unit", "leader", "admin")
UNIT = "区人社局"
OTHER_UNIT = "区市场监管局"
XSS = "<img src=x onerror=alert(1)>"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_ticket(db: Database, config: dict[str, Any], text: str, kind: str = "S2",
               unit: str | None = UNIT, phone: str | None = None,
               route: bool = True) -> dict[str, Any]:
    """A ticket as intake keeps it; dispatched at once when it has a unit (like intake)."""
    ticket = tickets.create_ticket(
        db, prefix="GF", openid="o-citizen-1", text=text,
        classification={"kind": kind, "unit": unit, "confidence": 0.82,
                        "matched": ["不理人", "窗口"]},
        lead_units=["区政府办公室", "区行政服务中心"],
        flags=["discipline"] if kind == "S6" else ())
    if phone:
        tickets.update_ticket(db, ticket["id"], phone=phone)
    if route:
        casework.route_new_ticket(db, config, ticket["number"])
    return tickets.get_ticket(db, ticket["number"])


def seed(db: Database, config: dict[str, Any]) -> dict[str, Any]:
    """One account per role (plus a second unit) and tickets the access rules tell apart."""
    for role in ROLES:
        users.create_user(db, role, role, PASSWORD, unit=UNIT if role == "unit" else None)
    users.create_user(db, "unit2", "unit", PASSWORD, unit=OTHER_UNIT)
    own = add_ticket(db, config, f"区人社局窗口的人不理人 {XSS} 我的电话13812345678",
                     phone="13812345678")
    other = add_ticket(db, config, "区市场监管局办营业执照拖了两个月", kind="S1",
                       unit=OTHER_UNIT)
    waiting = add_ticket(db, config, "不知道找哪个部门，办事难", kind="S2", unit=None)
    secret = add_ticket(db, config, "区人社局科长要我请吃饭才给办", kind="S6")
    return {"own": own, "other": other, "waiting": waiting, "s6": secret}


def csrf_of(page: str) -> str:
    return CSRF.search(page).group(1)


def login(app: Flask, username: str, password: str = PASSWORD) -> FlaskClient:
    """A test client signed in as ``username``; ``client.csrf`` is its form token."""
    client = app.test_client()
    token = csrf_of(client.get("/console/login").get_data(as_text=True))
    reply = client.post("/console/login", data={"username": username, "password": password,
                                                "csrf_token": token})
    assert reply.status_code == 302, (username, reply.status_code)
    client.csrf = csrf_of(client.get("/console/logout").get_data(as_text=True))
    return client


def act(client: FlaskClient, number: str, action: str, **fields: str):  # noqa: ANN201
    """Post one action form from the ticket page, as the browser would."""
    return client.post(f"/console/tickets/{number}/actions",
                       data={"action": action, "csrf_token": client.csrf, **fields})
