"""Console pages: the digest archive (/console/digests) and the campaign tracker.

A blueprint of its own, beside the console's, using its ``login_required``
and ``console/base.html``. Leaders read; the office (and admin) update a
target's status, which is kept in ``campaign_targets``.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from bot import campaign
from bot.access import current_user, db
from bot.console.auth import login_required
from bot.digest import archive, render
from bot.digest.periods import LABELS
from bot.digest.validate import check_config
from storage import clock
from storage.lifecycle import STATUS_LABELS
from storage.stats import KINDS

blueprint = Blueprint("digest", __name__, template_folder="templates")
READERS = ("office", "leader", "admin")


@blueprint.record_once
def _check(state: BlueprintSetupState) -> None:
    """A bad cron line or ``[campaign]`` stops the app at start-up, naming the key."""
    check_config(state.app.config["BOT"])


def _kept_or_404(slug: str) -> dict:
    """The archived digest, or 404 for a slug that was never sent."""
    kept = archive.get(db(), slug)
    if kept is None:
        abort(404)
    return kept


@blueprint.get("/console/digests")
@login_required(*READERS)
def digests() -> ResponseReturnValue:
    return render_template("digest/list.html", rows=archive.listing(db()), labels=LABELS)


@blueprint.get("/console/digests/<slug>")
@login_required(*READERS)
def digest(slug: str) -> ResponseReturnValue:
    data = _kept_or_404(slug)["data"]
    return render_template("digest/show.html", d=data, slug=slug, title=render.title(data),
                           headline=render.headline(data), kinds=KINDS,
                           kind_name=render.kind_name, status_labels=STATUS_LABELS,
                           percent=render.percent, change=render.change,
                           no_unit=render.NO_UNIT)


@blueprint.get("/console/digests/<slug>.md")
@login_required(*READERS)
def digest_markdown(slug: str) -> ResponseReturnValue:
    return Response(_kept_or_404(slug)["markdown"], mimetype="text/markdown; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={slug}.md"})


@blueprint.get("/console/campaign")
@login_required(*READERS)
def campaign_page() -> ResponseReturnValue:
    plan = campaign.from_config(current_app.config["BOT"])
    today = clock.now().date()
    phase, days_left = campaign.current_phase(plan, today)
    targets = campaign.targets_with_status(db(), plan)
    overdue, soon = campaign.attention(targets, today)
    user = current_user()
    return render_template(
        "digest/campaign.html", plan=plan, phase=phase, days_left=days_left, today=today,
        targets=targets, overdue_ids={t.id for t in overdue}, soon_ids={t.id for t in soon},
        statuses=campaign.TARGET_STATUSES, can_edit=user["role"] in ("office", "admin"))


@blueprint.post("/console/campaign/<target_id>")
@login_required("office", "admin")
def campaign_update(target_id: str) -> ResponseReturnValue:
    plan = campaign.from_config(current_app.config["BOT"])
    status = request.form.get("status", "")
    if target_id not in {t.id for t in plan.targets}:
        abort(404)
    if status not in campaign.TARGET_STATUSES:
        flash("请选择有效的状态。", "error")
        return redirect(url_for("digest.campaign_page")), 303
    campaign.set_status(db(), plan, target_id, status, request.form.get("note", ""),
                        current_user()["username"])
    flash(f"目标 {target_id} 已更新为“{campaign.TARGET_STATUSES[status]}”。", "success")
    return redirect(url_for("digest.campaign_page")), 303
