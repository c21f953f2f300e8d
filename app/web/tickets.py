"""Ticket pages: intake (with caller history and unit suggestion), the ticket page with its actions, search."""
from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from .. import get_db, htmx, now
from ..domain import lifecycle
from ..domain.errors import Conflict, InvalidTransition, NotFound, NotPermitted, ValidationFailed
from ..domain.roles import URGENCY_LABELS
from ..domain.tickets import (
    CHANNELS, CONTACT_METHODS, KINDS, REJECT_REASONS, RETURN_REASONS, SATISFACTION, TRANSFER_TARGETS,
    normalize_phone, remaining_text,
)
from ..services import attachments as attachments_svc, catalogue, directory, lists, repeats, tickets
from .auth import roles_required

bp = Blueprint("tickets", __name__)

LABELS = {
    "states": lifecycle.STATES, "actions": lifecycle.ACTIONS, "channels": CHANNELS, "kinds": KINDS,
    "urgencies": URGENCY_LABELS, "satisfaction": SATISFACTION, "contact_methods": CONTACT_METHODS,
    "return_reasons": RETURN_REASONS, "reject_reasons": REJECT_REASONS, "transfer_targets": TRANSFER_TARGETS,
}


@bp.app_context_processor
def _labels():
    return {"L": LABELS, "remaining": lambda text: remaining_text(_parse(text), now()) if text else "",
            "unit_name": _unit_name}


def _unit_name(code: str | None) -> str:
    """A unit's name for the page (codes are for machines); loaded once per request."""
    if not code:
        return ""
    if "unit_names" not in g:
        g.unit_names = {u["code"]: u["name"] for u in directory.list_units(get_db())}
    return g.unit_names.get(code, code)


def _parse(text):
    from datetime import datetime

    return datetime.fromisoformat(text)


def _cfg():
    return current_app.config["HOTLINE"]


def _actor():
    return current_user.actor


def _partial(full: str, fragment: str, **ctx):
    """The fragment for a plain htmx request, the full page otherwise (boosted requests get the page)."""
    resp = current_app.make_response(render_template(fragment if htmx and not htmx.boosted else full, **ctx))
    resp.vary.add("HX-Request")
    return resp


def _pickers(db) -> dict:
    units = directory.list_units(db, include_inactive=False)
    return {"territory_tree": directory.territory_tree(db), "leaves": catalogue.leaves(db), "units": units}


def _category_code(value: str) -> str:
    """The picker sends '0101 村组道路损坏' (or just the code); keep the code."""
    return (value or "").strip().split(" ")[0]


# ---- intake ------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@roles_required("operator", "center")
def new():
    db = get_db()
    form = request.form.to_dict() if request.method == "POST" else {"channel": "phone", "kind": "complaint", "urgency": "normal"}
    errors: dict = {}
    message = None
    if request.method == "POST":
        form["category"] = _category_code(form.get("category", ""))
        then = form.get("then", "save")
        data = {"answer": form.get("answer", ""), "lead_unit": form.get("lead_unit", ""),
                "co_units": request.form.getlist("co_units"), "note": form.get("dispatch_note", ""),
                "urgency": form.get("urgency", "")}
        if then == "dispatch" and not data["lead_unit"]:
            # "dispatch now" without a choice takes the catalogue's suggestion (lead and co-units)
            sugg = _suggest(db, form)
            data["lead_unit"] = next((s.unit_code for s in sugg if s.role == "lead"), "")
            data["co_units"] = [s.unit_code for s in sugg if s.role == "co"]
        try:
            confirmed, detached = _picked(request.form)
            out = tickets.intake(db, _cfg(), _actor(), form, now(), then=then, data=data,
                                 idempotency_key=form.get("idem") or None, links=confirmed, detached=detached)
        except ValidationFailed as exc:
            errors = exc.errors or {"_": exc.message}
            message = exc.message
        except (InvalidTransition, NotPermitted) as exc:
            message = exc.message
            errors = {"_": exc.message}
        else:
            flash(f"工单 {out.number} 已{'直接答复并办结' if out.state == 'answered_directly' else '派单' if out.state == 'dispatched' else '保存，等待派单'}。", "success")
            if out.extra.get("key_supervision"):
                flash("该来电达到重复诉求条件，已纳入重点督办。", "warning")
            return redirect(url_for("tickets.show", number=out.number, saved="intake"))
    form.setdefault("idem", uuid.uuid4().hex)
    phone = normalize_phone(form.get("caller_phone", ""))
    return render_template(
        "tickets/new.html", form=form, errors=errors, message=message, phone=phone,
        history=tickets.history(db, phone, form.get("id_number", ""), now()) if phone else [],
        suggestions=_suggest(db, form), **_pickers(db), **_repeats_ctx(db, form, request.form),
    ), (422 if errors else 200)


def _picked(args) -> tuple[list[str], list[str]]:
    """Ticket numbers the operator ticked as the same matter, and suggested ones unticked (not the same)."""
    confirmed = args.getlist("link_confirm")
    return confirmed, [n for n in args.getlist("link_suggested") if n not in confirmed]


def _repeats_ctx(db, form: dict, args) -> dict:
    confirmed, detached = _picked(args)
    rp = repeats.preview(db, _cfg(), form, now(), confirmed=confirmed, detached=detached)
    return {"rp": rp, "confirmed": set(confirmed), "detached": set(detached)}


@bp.get("/new/repeats")
@roles_required("operator", "center")
def repeats_preview():
    """Repeat-appeal warnings for the call being typed: the caller's same matter, the village's same event."""
    ctx = _repeats_ctx(get_db(), request.args.to_dict(), request.args)
    return _partial("tickets/_repeats.html", "tickets/_repeats.html", **ctx)


def _suggest(db, form: dict):
    try:
        return catalogue.suggest(db, _category_code(form.get("category", "")) or None, form.get("territory") or None,
                                 (form.get("title", "") + form.get("content", "")))
    except NotFound:
        return []


@bp.get("/new/history")
@roles_required("operator", "center")
def history():
    """The caller's tickets of the last 90 days, as the phone number is typed."""
    db = get_db()
    phone = normalize_phone(request.args.get("caller_phone", ""))
    rows = tickets.history(db, phone, request.args.get("id_number", "").strip().upper(), now()) if len(phone) >= 7 else []
    return _partial("tickets/_history.html", "tickets/_history.html", history=rows, phone=phone)


@bp.get("/new/suggest")
@roles_required("operator", "center")
def suggest():
    """Units the catalogue suggests for the chosen category and territory."""
    db = get_db()
    form = request.args.to_dict()
    try:
        leaf = catalogue.get_leaf(db, _category_code(form.get("category", ""))) if form.get("category") else None
    except NotFound:
        leaf = None
    # the leaf's default urgency replaces the urgency field out of band, only when the category changed
    oob = leaf is not None and request.headers.get("HX-Trigger-Name") == "category"
    return _partial("tickets/_suggest.html", "tickets/_suggest.html", suggestions=_suggest(db, form), form=form,
                    units=directory.list_units(db, include_inactive=False), leaf=leaf, oob=oob)


# ---- one ticket ---------------------------------------------------------------


def _ticket_page(number: str, form=None, errors=None, message=None, status=200, open_action=None):
    db = get_db()
    try:
        ticket = tickets.get(db, _actor(), number)
    except NotFound:
        abort(404)
    allowed = lifecycle.allowed_actions(ticket["state"], current_user.role)
    mine = next((u for u in ticket["units"] if u["unit_code"] == current_user.unit_code and u["active"]), None)
    if current_user.role == "handler":
        allowed = _handler_actions(allowed, mine, ticket)
    ctx = dict(ticket=ticket, allowed=allowed, mine=mine, form=form or {}, errors=errors or {}, message=message,
               open_action=open_action, idem=uuid.uuid4().hex)
    if current_user.role in ("center", "operator"):
        ctx.update(_pickers(db))
        if "dispatch" in allowed:
            sugg = _suggest(db, {"category": ticket["category_code"], "territory": ticket["territory_code"]})
            ctx["suggestions"] = sugg
            if not form:  # preselect the catalogue's choice; the centre can change it
                ctx["form"] = {"lead_unit": next((x.unit_code for x in sugg if x.role == "lead"), ""),
                               "co_units": [x.unit_code for x in sugg if x.role == "co"]}
                ctx["open_action"] = "dispatch"
        if not form and not ctx["open_action"]:
            # the step this role most likely came for is open; the others stay folded
            if ticket["pending"] and f"decide_{ticket['pending'][0]['kind']}" in allowed:
                ctx["open_action"] = f"decide_{ticket['pending'][0]['kind']}"
            elif "callback" in allowed:
                ctx["open_action"] = "callback"
    return render_template("tickets/show.html", **ctx), status


def _handler_actions(allowed: set, mine: dict | None, ticket: dict) -> set:
    """Trim the lifecycle's actions to what this unit can do now (lead vs co-unit, signed or not)."""
    if mine is None:
        return set()
    out = set(allowed)
    if mine["signed_at"]:
        out.discard("sign")
    else:
        out &= {"sign", "request_return"}
    if mine["role"] == "co":
        out -= {"reply", "request_extension"}
    else:
        out.discard("co_reply")
    if ticket["pending"]:
        out -= {"request_extension", "request_return", "reply"}
    # offer only what can succeed: one extension, asked before the deadline
    if ticket["extension_count"] >= _cfg().limits.extension_max_count or (
        ticket["due_at"] and now() > _parse(ticket["due_at"])
    ):
        out.discard("request_extension")
    return out


@bp.get("/<number>")
@login_required
def show(number: str):
    return _ticket_page(number)


@bp.post("/<number>/act/<action>")
@login_required
def act(number: str, action: str):
    if action not in lifecycle.ACTIONS or action in lifecycle.RECORD_ONLY:
        abort(404)
    form = request.form.to_dict()
    data = dict(form)
    if action == "dispatch":
        data["co_units"] = request.form.getlist("co_units")
    if action == "update":
        data["category"] = _category_code(form.get("category", ""))
    files = [tickets.Upload(f.read(), f.filename or "") for f in request.files.getlist("files") if f and f.filename]
    try:
        out = tickets.act(get_db(), _cfg(), _actor(), number, action, data, now(),
                          version=form.get("version") or None, files=files, idempotency_key=form.get("idem") or None)
    except NotFound:
        abort(404)
    except ValidationFailed as exc:
        return _ticket_page(number, form, exc.errors or {"_": exc.message}, exc.message, exc.status, action)
    except attachments_svc.TooLarge as exc:
        return _ticket_page(number, form, {"files": exc.message}, exc.message, 413, action)
    except (Conflict, InvalidTransition) as exc:
        # someone else acted first: show the ticket as it is now, keeping what this user typed
        return _ticket_page(number, form, {}, exc.message, 409, action)
    except NotPermitted as exc:
        return _ticket_page(number, form, {}, exc.message, 403, action)
    if out.repeated:
        flash("这次提交之前已经成功保存过，没有重复保存。", "info")
    elif action in ("decide_extension", "decide_return"):
        kind = "延期" if action == "decide_extension" else "退单"
        flash(f"已{'同意' if out.extra.get('approve') else '不同意'}{kind}申请。", "success")
    else:
        flash(f"已{lifecycle.ACTIONS[action]}。", "success")
    return redirect(url_for("tickets.show", number=number, saved=f"{number}-{action}") + f"#event-{out.event_id}")


@bp.get("/<number>/attachments/<int:attachment_id>")
@login_required
def attachment(number: str, attachment_id: int):
    try:
        row = tickets.attachment_for(get_db(), _actor(), number, attachment_id)
    except NotFound:
        abort(404)
    path = attachments_svc.path_for(_cfg().data_path, row["sha256"])
    if not path.exists():
        abort(404)
    ext = attachments_svc.EXTENSIONS.get(row["mime"], "bin")
    inline = row["mime"].startswith("image/") or row["mime"] == "application/pdf"
    resp = send_file(path, mimetype=row["mime"], as_attachment=not inline,
                     download_name=f"{number}-附件{attachment_id}.{ext}", max_age=3600)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.cache_control.private = True
    return resp


# ---- search ---------------------------------------------------------------------


@bp.get("/")
@login_required
def search():
    db = get_db()
    f = request.args.to_dict()
    f.pop("page", None)
    try:
        page = lists.search(db, _actor(), f, now(), request.args.get("page", 1, type=int))
        error = None
    except ValidationFailed as exc:
        page, error = lists.Page([], 0, 1, filters=f), exc.message
    ctx = dict(page=page, f=f, error=error, townships=directory.townships(db),
               units=directory.list_units(db, include_inactive=False), leaves=catalogue.leaves(db))
    return _partial("tickets/search.html", "tickets/_results.html", **ctx)
