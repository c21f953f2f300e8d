"""Key supervision pages (/supervision): the list and item pages for the centre and leaders, and the centre's actions.

Leaders read (and print letters); the centre also writes notes, closes items, transfers clues, puts a
ticket on key supervision by hand and links or unlinks two tickets. Handlers and operators get 403.
"""
from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from .. import get_db, now
from ..domain.errors import HotlineError, InvalidTransition, NotFound, ValidationFailed
from ..domain.repeats import RULES
from ..domain.tickets import mask_phone
from ..services import directory, repeats, supervision
from .auth import roles_required
from .tickets import _partial

bp = Blueprint("supervision", __name__)

LABELS = {"rules": RULES, "statuses": supervision.STATUSES, "close_kinds": supervision.CLOSE_KINDS,
          "targets": supervision.TARGETS}
NOTE_KINDS = {"created": "纳入重点督办", "grew": "同一事项又有来电", "merged": "合并", "note": "督办意见", "closed": "结束督办",
              "reopened": "重新督办", "transfer": "线索移送", "removed": "移出工单"}


@bp.app_context_processor
def _labels():
    # the intake form's repeat-appeal box and the ticket page use these too
    return {"KS": LABELS | {"note_kinds": NOTE_KINDS}, "mask_phone": mask_phone}


def _cfg():
    return current_app.config["HOTLINE"]


def _actor():
    return current_user.actor


@bp.get("/")
@roles_required("center", "leader")
def index():
    """The key supervision list with filters; the rows alone for an htmx filter request."""
    db = get_db()
    f = {k: v for k, v in request.args.to_dict().items() if k != "page"}
    f.setdefault("status", "open")
    try:
        page = supervision.list_items(db, _actor(), f, request.args.get("page", 1, type=int))
        error = None
    except ValidationFailed as exc:
        page, error = supervision.Page([], 0, 1, filters=f), exc.message
    return _partial("supervision/index.html", "supervision/_list.html", page=page, f=f, error=error,
                    townships=directory.townships(db), units=directory.list_units(db, include_inactive=False))


def _item_page(item_id: int, errors=None, message=None, form=None, status=200):
    try:
        item = supervision.get_item(get_db(), _actor(), item_id)
    except NotFound:
        abort(404)
    return render_template("supervision/item.html", item=item, errors=errors or {}, message=message,
                           form=form or {}), status


@bp.get("/<int:item_id>")
@roles_required("center", "leader")
def item(item_id: int):
    """One item: members, clue transfers, the timeline; the centre's forms."""
    return _item_page(item_id)


def _write(item_id: int, fn, done: str):
    """Run one centre action; re-render the item page with the user's text on a refused or invalid input."""
    try:
        fn()
    except NotFound:
        abort(404)
    except ValidationFailed as exc:
        return _item_page(item_id, exc.errors or {"_": exc.message}, exc.message, request.form.to_dict(), 422)
    except InvalidTransition as exc:
        return _item_page(item_id, {}, exc.message, request.form.to_dict(), 409)
    flash(done, "success")
    return redirect(url_for("supervision.item", item_id=item_id))


@bp.post("/<int:item_id>/note")
@roles_required("center")
def add_note(item_id: int):
    """A supervision note (督办意见)."""
    return _write(item_id, lambda: supervision.add_note(get_db(), _actor(), item_id, request.form.get("note", ""), now()),
                  "已记录督办意见。")


@bp.post("/<int:item_id>/close")
@roles_required("center")
def close(item_id: int):
    """End key supervision of the item by a centre decision with a reason."""
    return _write(item_id, lambda: supervision.close(get_db(), _actor(), item_id, request.form.get("reason", ""), now()),
                  "已结束督办。")


@bp.post("/<int:item_id>/transfer")
@roles_required("center")
def transfer(item_id: int):
    """Record a clue transfer to 纪委监委 or 信访."""
    form = request.form
    return _write(item_id, lambda: supervision.transfer(
        get_db(), _cfg(), _actor(), item_id, form.get("target", ""), form.get("summary", ""), form.get("materials", ""),
        now()), "已记录线索移送，可打印移送函。")


@bp.get("/transfers/<int:transfer_id>.docx")
@roles_required("center", "leader")
def letter(transfer_id: int):
    """The clue transfer letter as .docx (phone numbers masked unless ?full=1 from the centre)."""
    full = request.args.get("full") == "1" and current_user.role == "center"
    try:
        name, data = supervision.transfer_letter(get_db(), _cfg(), _actor(), transfer_id, mask=not full)
    except NotFound:
        abort(404)
    return send_file(BytesIO(data), as_attachment=True, download_name=name,
                     mimetype="application/vnd.openxmlformats-officedocument.wordprocessingml.document")


@bp.post("/manual")
@roles_required("center")
def manual():
    """Put a ticket on key supervision by hand (from the ticket page)."""
    number = request.form.get("number", "").strip()
    try:
        item_id = supervision.put_manual(get_db(), _actor(), number, request.form.get("reason", ""), now())
    except NotFound:
        abort(404)
    except HotlineError as exc:
        flash(exc.message, "error")
        return redirect(url_for("tickets.show", number=number) + "#supervision")
    flash(f"已纳入重点督办 #{item_id}。", "success")
    return redirect(url_for("supervision.item", item_id=item_id))


def _back(number: str) -> str:
    nxt = request.form.get("next", "")
    # only our own item pages: never redirect to a URL the form supplied
    if nxt.isdigit():
        return url_for("supervision.item", item_id=int(nxt))
    return url_for("tickets.show", number=number) + "#supervision"


@bp.post("/link")
@roles_required("center")
def link():
    """Link two tickets as the same matter."""
    return _link(repeats.link, "已关联")


@bp.post("/unlink")
@roles_required("center")
def unlink():
    """Record that two tickets are not the same matter."""
    return _link(repeats.unlink, "已解除关联")


def _link(fn, done: str):
    a, b = request.form.get("number", "").strip(), request.form.get("other", "").strip()
    try:
        changes = fn(get_db(), _cfg(), _actor(), a, b, now(), request.form.get("note", ""))
    except HotlineError as exc:
        flash(exc.message, "error")
        return redirect(_back(a))
    grown = [c for c in changes if c.what in ("created", "grew", "reopened")]
    flash(f"{done}：{a} 与 {b}。" + ("重点督办事项已更新。" if grown else ""), "success")
    return redirect(_back(a))
