"""Placeholder views, replaced module by module as the console grows."""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from bot.console.auth import login_required


@login_required("office", "unit", "leader", "admin")
def queue() -> ResponseReturnValue:
    return render_template("console/placeholder.html", title="工单队列")


@login_required("office", "leader", "admin")
def dashboard() -> ResponseReturnValue:
    return render_template("console/placeholder.html", title="统计看板")
