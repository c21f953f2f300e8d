"""Admin page for API tokens: list, create (the token is shown once), revoke."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import get_db, now
from ..domain.errors import NotFound, ValidationFailed
from ..domain.roles import ROLES
from ..services import directory, tokens
from .auth import roles_required

bp = Blueprint("admin_tokens", __name__)


@bp.before_request
@roles_required("admin")
def _gate():
    """Tokens are for the admin role only."""


def _page(form=None, errors=None, created=None, status=200):
    db = get_db()
    resp = render_template(
        "admin/tokens.html", rows=tokens.list_tokens(db), roles=ROLES, units=directory.list_units(db, False),
        form=form or {}, errors=errors or {}, created=created,
    )
    return resp, status


@bp.get("/")
def index():
    return _page()


@bp.post("/")
def create():
    form = request.form
    try:
        token_id, plain = tokens.create(get_db(), current_user.actor, form.get("name", ""), form.get("role", ""),
                                        form.get("unit_code") or None, now())
    except ValidationFailed as exc:
        return _page(form, exc.errors, status=422)
    # shown once, never put in the session or a redirect: the plain token is not stored anywhere
    body, status = _page(created={"id": token_id, "name": form.get("name", "").strip(), "token": plain}, status=201)
    return body, status, {"Cache-Control": "no-store"}


@bp.post("/<int:token_id>/revoke")
def revoke(token_id: int):
    try:
        row = tokens.revoke(get_db(), current_user.actor, token_id, now())
    except (NotFound, ValidationFailed) as exc:
        flash(exc.message, "error")
    else:
        flash(f"已撤销令牌 #{token_id}（{row['name']}），它立即失效。", "success")
    return redirect(url_for("admin_tokens.index"))
