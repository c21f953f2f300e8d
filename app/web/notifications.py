"""The user's notifications: the list page, marking read, and the unread count shown as a badge in the menu."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import get_db, now
from ..services import lists, notify

bp = Blueprint("notifications", __name__)


def me() -> dict:
    """The logged-in user as the notify service sees them."""
    return {"id": current_user.id, "role": current_user.role, "unit_code": current_user.unit_code,
            "created_at": current_user.row.get("created_at")}


@bp.app_context_processor
def _badge():
    """nav_badge for base.html: the number of unread notifications (None hides the badge)."""
    if not current_user.is_authenticated:
        return {}
    count = notify.unread_count(get_db(), me())
    return {"nav_badge": count or None, "unread_notifications": count}


@bp.get("/")
@login_required
def index():
    unread_only = request.args.get("unread") == "1"
    page = max(1, request.args.get("page", 1, type=int))
    rows, total = notify.for_user(get_db(), me(), unread_only=unread_only, page=page)
    return render_template("notifications/list.html", rows=rows, page=lists.Page(rows, total, page, notify.PER_PAGE, cap=None),
                           unread_only=unread_only)


@bp.post("/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    notify.mark_read(get_db(), me(), now(), notification_id)
    nxt = request.form.get("next", "")
    if not nxt.startswith("/") or nxt.startswith("//"):  # only back to a page of this site
        nxt = url_for("notifications.index")
    return redirect(nxt)


@bp.post("/read-all")
@login_required
def read_all():
    notify.mark_read(get_db(), me(), now())
    return redirect(url_for("notifications.index"))
