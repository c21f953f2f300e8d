"""/api/v1 key supervision: the item list, and linking / unlinking two tickets (centre tokens)."""
from __future__ import annotations

from flask import current_app, request

from .. import get_db, now
from ..domain.errors import ValidationFailed
from ..domain.repeats import RULES
from ..services import repeats, supervision, tickets
from . import body, bp, serialize
from .auth import actor

FILTERS = ("rule", "status", "township", "unit", "from", "to")


def item(row: dict) -> dict:
    """One key supervision item as JSON."""
    return {k: row[k] for k in ("id", "rule", "status", "title", "first_at", "last_at", "ticket_count", "caller_count",
                                "open_count", "created_at", "closed_at", "close_kind", "close_reason")} | {
        "rule_label": RULES[row["rule"]], "township_code": row["township_code"],
        "territory_code": row["territory_code"], "category_code": row["category_code"]}


@bp.get("/key-supervision")
def key_supervision():
    """Key supervision items (centre and leader tokens), open first, newest activity first."""
    raw = request.args.get("page", "1").strip() or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise ValidationFailed("页码应为正整数。", errors={"page": "页码应为正整数。"})
    page = supervision.list_items(get_db(), actor(), {k: request.args.get(k, "") for k in FILTERS}, int(raw))
    return {"items": [item(r) for r in page.rows], "total": page.total, "page": page.page, "pages": page.pages,
            "per_page": page.per_page}


def _link_view(fn, name: str, doc: str):
    def view(number: str):
        data, _ = body.read()
        other = (data.get("other") or "").strip()
        if not other:
            raise ValidationFailed("请填写另一张工单的编号。", errors={"other": "请填写另一张工单的编号。"})
        db = get_db()
        fn(db, current_app.config["HOTLINE"], actor(), number, other, now(), data.get("note") or "")
        return serialize.ticket(tickets.get(db, actor(), number))

    view.__name__, view.__doc__ = name, doc
    return view


bp.add_url_rule("/tickets/<number>/link", view_func=_link_view(repeats.link, "link", "关联为同一事项（中心）。"),
                methods=["POST"])
bp.add_url_rule("/tickets/<number>/unlink", view_func=_link_view(repeats.unlink, "unlink", "确认不是同一事项（中心）。"),
                methods=["POST"])
