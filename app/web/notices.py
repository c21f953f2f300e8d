"""The county-wide overdue notices: the list to reprint, one notice as a page, its .docx, and generating one now."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from .. import get_db, now
from ..services import lists, notices
from .auth import roles_required

bp = Blueprint("notices", __name__)
PER_PAGE = 30


def _cfg():
    return current_app.config["HOTLINE"]


@bp.get("/")
@login_required
def index():
    db = get_db()
    page = max(1, request.args.get("page", 1, type=int))
    rows, total = notices.listing(db, PER_PAGE, (page - 1) * PER_PAGE)
    return render_template("notices/list.html", rows=rows, page=lists.Page(rows, total, page, PER_PAGE, cap=None),
                           next_at=notices.next_run(db, _cfg(), now()),
                           may_generate=current_user.role in ("center", "admin"))


@bp.post("/")
@roles_required("center", "admin")
def generate():
    made = notices.create(get_db(), _cfg(), now(), by=current_user.display_name)
    flash(f"已生成 {made['doc_number']}。", "success")
    return redirect(url_for("notices.show", notice_id=made["id"]))


@bp.get("/<int:notice_id>")
@login_required
def show(notice_id: int):
    return render_template("notices/show.html", n=notices.get(get_db(), notice_id))


@bp.get("/<int:notice_id>.docx")
@login_required
def docx(notice_id: int):
    from io import BytesIO

    from exports import notice as notice_doc

    n = notices.get(get_db(), notice_id)
    return send_file(BytesIO(notice_doc.build(n)), as_attachment=True, download_name=notice_doc.filename(n),
                     mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document")
