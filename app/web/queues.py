"""Work queues: a handler's unit queue (mobile first) and the hotline centre's queues."""
from __future__ import annotations

from flask import Blueprint, abort, request
from flask_login import current_user

from .. import get_db, now
from ..domain.errors import ValidationFailed
from ..services import lists
from .auth import roles_required
from .tickets import _partial

bp = Blueprint("queues", __name__)


@bp.get("/unit")
@roles_required("handler")
def unit():
    db = get_db()
    tab = request.args.get("tab", "to_sign")
    try:
        page = lists.unit_queue(db, current_user.unit_code, tab, now(), request.args.get("page", 1, type=int))
    except ValidationFailed:
        abort(404)
    counts = lists.unit_counts(db, current_user.unit_code, now())
    return _partial("queues/unit.html", "queues/_unit_list.html", page=page, tab=tab, counts=counts,
                    tabs=lists.UNIT_TABS)


@bp.get("/center")
@roles_required("center", "operator", "leader")
def center():
    db = get_db()
    default = "replies" if current_user.role == "operator" else "to_dispatch"
    tab = request.args.get("tab", default)
    try:
        page = lists.center_queue(db, tab, now(), request.args.get("page", 1, type=int))
    except ValidationFailed:
        abort(404)
    counts = lists.center_counts(db, now())
    return _partial("queues/center.html", "queues/_center_list.html", page=page, tab=tab, counts=counts,
                    tabs=lists.CENTER_TABS)
