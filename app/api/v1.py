"""The /api/v1 routes: intake, one ticket, search, one POST per lifecycle action, the directory, the OpenAPI document.

Every route calls the same services as the web pages; the services decide who may see and do what.
"""
from __future__ import annotations

from flask import current_app, g, jsonify, request, url_for

from .. import get_db, now
from ..domain import lifecycle
from ..domain.errors import ValidationFailed
from ..domain.roles import UNIT_KINDS
from ..services import catalogue, directory, lists, tickets
from ..web.errors import error_response
from . import body, bp, openapi, serialize
from .auth import actor

THEN = ("save", "dispatch", "answer_directly")
ACTIONS = [a for a in lifecycle.ACTIONS if a not in lifecycle.RECORD_ONLY]
SEARCH_FILTERS = ("phone", "state", "unit", "q", "overdue")
KEY_LIMIT = 200


@bp.errorhandler(ValidationFailed)
def _invalid(exc: ValidationFailed):
    """422 with `errors` per field whenever the service named the field."""
    errors = exc.errors or ({exc.field: exc.message} if exc.field else {})
    return error_response(exc.status, exc.code, exc.message, **({"errors": errors} if errors else {}))


def _cfg():
    return current_app.config["HOTLINE"]


def _idempotency_key() -> str | None:
    """The client's Idempotency-Key, scoped to its token and URL so two clients never share a key."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return None
    if len(key) > KEY_LIMIT:
        msg = f"Idempotency-Key 不能超过 {KEY_LIMIT} 个字符。"
        raise ValidationFailed(msg, errors={"Idempotency-Key": msg})
    return f"api:{g.token['id']}:{request.path}:{key}"


def _ticket_response(db, out: tickets.Outcome, status: int):
    resp = jsonify(serialize.ticket(tickets.get(db, actor(), out.number)))
    resp.status_code = status
    if out.repeated:
        resp.headers["Idempotent-Replayed"] = "true"
    return resp


@bp.post("/tickets")
def intake():
    """Register a ticket; optionally dispatch it or answer it directly in the same transaction."""
    data, _ = body.read()
    then = data.pop("then", None) or "save"
    if then not in THEN:
        msg = "then 应为 save、dispatch 或 answer_directly。"
        raise ValidationFailed("未知的受理去向。", errors={"then": msg})
    db = get_db()
    out = tickets.intake(db, _cfg(), actor(), data, now(), then=then, data=data, idempotency_key=_idempotency_key())
    resp = _ticket_response(db, out, 201)
    resp.headers["Location"] = url_for("api.ticket", number=out.number)
    return resp


@bp.get("/tickets/<number>")
def ticket(number: str):
    """One ticket with units, pending requests and its events; another unit's ticket is a 404."""
    return serialize.ticket(tickets.get(get_db(), actor(), number))


@bp.get("/tickets")
def search():
    """A page of the tickets the token may see, newest first."""
    raw = request.args.get("page", "1").strip() or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationFailed("页码应为正整数。", errors={"page": "页码应为正整数。"})
    filters = {k: request.args.get(k, "") for k in SEARCH_FILTERS}
    result = lists.search(get_db(), actor(), filters, now(), int(raw))
    return {"items": [serialize.summary(r) for r in result.rows], "total": result.total, "page": result.page,
            "pages": result.pages, "per_page": result.per_page}


def _action_view(action: str):
    def view(number: str):
        data, files = body.read(allow_files=action in body.FILE_ACTIONS)
        version = body.version(data)
        db = get_db()
        out = tickets.act(db, _cfg(), actor(), number, action, data, now(), version=version, files=files,
                          idempotency_key=_idempotency_key())
        return _ticket_response(db, out, 200)

    view.__name__ = f"act_{action}"
    view.__doc__ = f"{lifecycle.ACTIONS[action]}（{action}）。"
    return view


for _action in ACTIONS:
    bp.add_url_rule(f"/tickets/<number>/{_action}", view_func=_action_view(_action), methods=["POST"])


@bp.get("/units")
def units():
    """Active units: code, name, kind."""
    rows = directory.list_units(get_db(), include_inactive=False)
    return {"items": [{"code": u["code"], "name": u["name"], "kind": u["kind"], "kind_label": UNIT_KINDS[u["kind"]]}
                      for u in rows]}


@bp.get("/territories")
def territories():
    """Active territories, each township followed by its villages and communities."""
    rows = directory.list_territories(get_db())
    return {"items": [{"code": t["code"], "name": t["name"], "level": t["level"], "parent_code": t["parent_code"]}
                      for t in rows if t["active"]]}


@bp.get("/categories")
def categories():
    """Active leaf categories of the dispatch catalogue, with their major category."""
    rows = catalogue.leaves(get_db())
    return {"items": [{"code": c["code"], "name": c["name"], "major_code": c["major_code"], "major_name": c["major_name"],
                       "urgency": c["urgency"]} for c in rows]}


@bp.get("/notifications")
def notifications():
    """The token's own notifications, newest first: its unit's for a handler token, its role's otherwise."""
    from ..domain.reminders import kind_label
    from ..services import notify

    params = {}
    for name, default, low, high in (("since_id", 0, 0, None), ("limit", 50, 1, 200)):
        raw = request.args.get(name, "").strip() or str(default)
        if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
            msg = f"{name} 应为 {low}" + (f"–{high} 的整数。" if high else " 或更大的整数。")
            raise ValidationFailed(msg, errors={name: msg})
        params[name] = int(raw)
    rows = notify.for_token(get_db(), g.token["role"], g.token["unit_code"], **params)
    return {"items": [{"id": r["id"], "kind": r["kind"], "kind_label": kind_label(r["kind"]),
                       "ticket": r["number"], "text": r["text"], "deadline": r["deadline"],
                       "created_at": r["created_at"], "late": bool(r["late"])} for r in rows]}


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 description of this API (no token needed)."""
    return openapi.document()
