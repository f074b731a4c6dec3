"""The queue (工单队列): filters, sorting, pagination, and the filtered exports."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for
from flask.typing import ResponseReturnValue

from bot.access import current_actor, db
from bot.console import export, labels, query
from bot.console.auth import login_required
from bot.console.dashboard import calendar_notice
from storage.lifecycle import STATUS_LABELS

QUEUE_ROLES = ("office", "unit", "leader", "admin")
FILTER_KEYS = ("q", "status", "kind", "unit", "from", "to", "sort", "overdue", "flagged",
               "page")


def filter_args() -> dict[str, str]:
    """The request's known, non-empty filter arguments (never "endpoint", "_external" …)."""
    return {name: request.args[name] for name in FILTER_KEYS if request.args.get(name)}


def url_with(**changes: Any) -> str:
    """This queue URL with some arguments changed (None removes one); keeps the filters."""
    args: dict[str, Any] = filter_args()
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = value
    return url_for("console.queue", **args)


def export_url(fmt: str) -> str:
    return url_for("console.export_queue", fmt=fmt, **filter_args())


@login_required(*QUEUE_ROLES)
def queue() -> ResponseReturnValue:
    """The filtered, sorted page of tickets this account may see."""
    actor = current_actor()
    error, status = None, 200
    try:
        wanted = query.parse(request.args.to_dict())
        result = query.page(db(), actor, wanted)
    except query.FilterError as problem:
        error, status = str(problem), 400
        wanted, result = query.Query(), {"tickets": [], "page": 1, "pages": 1, "total": 0,
                                         "more": False, "has_next": False}
    return render_template(
        "console/queue.html", result=result, q=wanted, args=request.args, error=error,
        statuses=STATUS_LABELS, kinds=labels.kind_choices(), units=labels.unit_names(),
        sorts={key: label for key, (_, label) in query.SORTS.items()}, labels=labels,
        url_with=url_with, export_url=export_url, unit_account=actor.role == "unit",
        calendar_notice=calendar_notice(actor.role)), status


@login_required(*QUEUE_ROLES)
def export_queue(fmt: str) -> ResponseReturnValue:
    """The filtered queue as CSV (UTF-8 with BOM) or xlsx, by the same rules as the page."""
    if fmt not in export.FORMATS:
        abort(404)
    try:
        wanted = query.parse(request.args.to_dict())
    except query.FilterError as problem:
        abort(400, description=str(problem))
    rows = query.export_rows(db(), current_actor(), wanted)
    return export.response(fmt, rows)
