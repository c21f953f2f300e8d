"""Ticket lists: search with filters, the handler's unit queue, the centre's queues; all paginated and indexed."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..domain.errors import ValidationFailed
from ..domain.lifecycle import STATES
from ..domain.roles import Actor
from ..domain.tickets import normalize_phone
from ..store import all_rows, scalar
from ..store import iso as _iso

PER_PAGE = 30
COUNT_CAP = 1000
LIST_COLUMNS = (
    "t.id, t.number, t.state, t.urgency, t.channel, t.kind, t.received_at, t.caller_name, t.caller_phone, "
    "t.anonymous, t.confidential, t.title, t.lead_unit, t.sign_deadline, t.due_at, t.dispatched_at, t.replied_at, "
    "t.territory_code, t.category_code, t.version, u.name AS lead_name, tr.name AS territory_name, "
    "c.name AS category_name"
)
JOINS = (
    "LEFT JOIN units u ON u.code = t.lead_unit LEFT JOIN territories tr ON tr.code = t.territory_code "
    "LEFT JOIN categories c ON c.code = t.category_code"
)


@dataclass
class Page:
    """One page of tickets with the total count."""

    rows: list[dict]
    total: int
    page: int
    per_page: int = PER_PAGE
    filters: dict = field(default_factory=dict)
    cap: int | None = COUNT_CAP  # None: the total was counted exactly

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def capped(self) -> bool:
        """True when there are more matches than were counted."""
        return self.cap is not None and self.total > self.cap

    @property
    def total_text(self) -> str:
        return f"{self.cap}+" if self.capped else str(self.total)


def search(db, actor: Actor, f: dict, now: datetime, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Tickets matching the filters that the actor may see; newest first or by deadline."""
    where, params = [], []
    joins = JOINS
    if actor.role == "handler":
        where.append("t.id IN (SELECT ticket_id FROM ticket_units WHERE unit_code = ? AND active = 1)")
        params.append(actor.unit_code)
    number = (f.get("number") or "").strip()
    if number:
        if number.count("-") == 2:  # a whole number: the unique index answers at once
            where.append("t.number = ?")
            params.append(number.upper())
        else:
            where.append("t.number LIKE ?")
            params.append(f"%{number}%")
    phone = normalize_phone(f.get("phone") or "")
    if phone:
        where.append("t.phone_norm = ?")
        params.append(phone)
    name = (f.get("caller") or "").strip()
    if name:
        where.append("t.caller_name = ?")
        params.append(name)
    q = (f.get("q") or "").strip()
    source = "tickets t"
    if q:
        if len(q) >= 3:
            # FTS5 trigram: any Chinese substring of three characters or more, through the index; driving
            # the query from the FTS table in rowid order lets LIMIT stop early however many tickets match
            source = "tickets_fts JOIN tickets t ON t.id = tickets_fts.rowid"
            where.insert(0, "tickets_fts MATCH ?")
            params.insert(0, '"' + q.replace('"', '""') + '"')
        else:
            # % and _ typed by the user are text, not wildcards
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(t.title LIKE ? ESCAPE '\\' OR t.content LIKE ? ESCAPE '\\')")
            params += [like, like]
    state = (f.get("state") or "").strip()
    if state:
        if state not in STATES:
            raise ValidationFailed("未知的状态。", field="state")
        where.append("t.state = ?")
        params.append(state)
    for key, col in (("unit", "t.lead_unit"), ("township", "t.township_code"), ("category", "t.category_code"),
                     ("channel", "t.channel"), ("territory", "t.territory_code"), ("urgency", "t.urgency")):
        value = (f.get(key) or "").strip()
        if value:
            where.append(f"{col} = ?")
            params.append(value)
    for key, op, add in (("from", ">=", 0), ("to", "<", 1)):
        value = (f.get(key) or "").strip()
        if value:
            try:
                day = datetime.fromisoformat(value).date() + timedelta(days=add)
            except ValueError:
                raise ValidationFailed("日期格式应为 2026-11-23。", field=key) from None
            where.append(f"t.received_at {op} ?")
            params.append(day.isoformat())
    if str(f.get("overdue") or "").lower() in ("1", "true", "on", "yes"):
        where.append("t.state IN ('dispatched','in_progress') AND t.due_at < ?")
        params.append(_iso(now))
    sql_where = ("WHERE " + " AND ".join(where)) if where else ""
    if f.get("sort") == "due":
        order = "t.due_at IS NULL, t.due_at ASC, t.id DESC"
    else:
        order = "tickets_fts.rowid DESC" if source != "tickets t" else "t.id DESC"
    # counting every match of a broad search over a million tickets costs more than the page itself;
    # past COUNT_CAP the page says "1000+"
    total = scalar(db, f"SELECT COUNT(*) FROM (SELECT 1 FROM {source} {sql_where} LIMIT {COUNT_CAP + 1})", params)
    try:
        page = max(1, int(page or 1))
    except (TypeError, ValueError):
        page = 1
    rows = all_rows(
        db,
        f"SELECT {LIST_COLUMNS} FROM {source} {joins} {sql_where} ORDER BY {order} LIMIT ? OFFSET ?",
        (*params, per_page, (page - 1) * per_page),
    )
    return Page(rows, total, page, per_page, f)


UNIT_TABS = {
    "to_sign": "待签收",
    "in_progress": "办理中",
    "due_soon": "即将到期",
    "overdue": "已超期",
    "sent_back": "退回重办",
    "pending": "申请审核中",
    "done": "已答复待回访",
}


# the partial index ticket_units_open holds exactly these rows: a unit's assignments on open tickets
UNIT_OPEN = "tu.unit_code = ? AND tu.open = 1 AND tu.active = 1"


def _unit_where(tab: str, now: datetime) -> tuple[str, list]:
    soon = _iso(now + timedelta(hours=24))
    n = _iso(now)
    return {
        "to_sign": ("tu.signed_at IS NULL AND t.state IN ('dispatched','in_progress')", []),
        "in_progress": ("tu.signed_at IS NOT NULL AND t.state = 'in_progress'", []),
        "due_soon": ("t.state IN ('dispatched','in_progress') AND t.due_at >= ? AND t.due_at < ?", [n, soon]),
        "overdue": ("t.state IN ('dispatched','in_progress') AND t.due_at < ?", [n]),
        "sent_back": ("t.state = 'in_progress' AND (t.sent_back_count > 0 OR t.reopen_count > 0)", []),
        "pending": ("t.id IN (SELECT ticket_id FROM requests WHERE status = 'pending' AND unit_code = tu.unit_code)", []),
        "done": ("t.state = 'replied'", []),
    }[tab]


def unit_queue(db, unit_code: str, tab: str, now: datetime, page: int = 1, per_page: int = 50) -> Page:
    """One tab of a unit's queue, soonest deadline first."""
    if tab not in UNIT_TABS:
        raise ValidationFailed("未知的列表。")
    cond, params = _unit_where(tab, now)
    base = f"FROM ticket_units tu INDEXED BY ticket_units_open JOIN tickets t ON t.id = tu.ticket_id WHERE {UNIT_OPEN} AND {cond}"
    total = scalar(db, f"SELECT COUNT(*) {base}", (unit_code, *params))
    order = "t.replied_at DESC" if tab == "done" else "t.due_at IS NULL, t.due_at, t.id"
    rows = all_rows(
        db,
        f"SELECT {LIST_COLUMNS}, tu.role AS unit_role, tu.signed_at AS unit_signed_at "
        f"FROM ticket_units tu INDEXED BY ticket_units_open JOIN tickets t ON t.id = tu.ticket_id {JOINS} "
        f"WHERE {UNIT_OPEN} AND {cond} ORDER BY {order} LIMIT ? OFFSET ?",
        (unit_code, *params, per_page, (max(1, page) - 1) * per_page),
    )
    return Page(rows, total, max(1, page), per_page, {"tab": tab})


def unit_counts(db, unit_code: str, now: datetime) -> dict[str, int]:
    """How many tickets sit in each tab of the unit's queue."""
    out = {}
    for tab in UNIT_TABS:
        if tab == "done":
            continue
        cond, params = _unit_where(tab, now)
        out[tab] = scalar(
            db,
            f"SELECT COUNT(*) FROM ticket_units tu INDEXED BY ticket_units_open JOIN tickets t ON t.id = tu.ticket_id "
            f"WHERE {UNIT_OPEN} AND {cond}",
            (unit_code, *params),
        )
    return out


CENTER_TABS = {
    "to_dispatch": "待派单",
    "returns": "退单申请",
    "extensions": "延期申请",
    "replies": "待回访（已答复）",
    "overdue": "已超期",
    "sign_overdue": "超时未签收",
    "escalated": "上报协调",
}


def _center_where(tab: str, now: datetime) -> tuple[str, list]:
    n = _iso(now)
    return {
        "to_dispatch": ("t.state = 'received'", []),
        "returns": ("t.id IN (SELECT ticket_id FROM requests WHERE status = 'pending' AND kind = 'return')", []),
        "extensions": ("t.id IN (SELECT ticket_id FROM requests WHERE status = 'pending' AND kind = 'extension')", []),
        "replies": ("t.state = 'replied'", []),
        "overdue": ("t.state IN ('dispatched','in_progress') AND t.due_at < ?", [n]),
        "sign_overdue": ("t.state = 'dispatched' AND t.sign_deadline < ?", [n]),
        "escalated": ("t.state = 'escalated'", []),
    }[tab]


def center_queue(db, tab: str, now: datetime, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """One of the centre's queues, oldest / most urgent first."""
    if tab not in CENTER_TABS:
        raise ValidationFailed("未知的列表。")
    cond, params = _center_where(tab, now)
    total = scalar(db, f"SELECT COUNT(*) FROM tickets t WHERE {cond}", params)
    order = "t.due_at, t.id" if tab in ("overdue", "sign_overdue") else "t.replied_at, t.id" if tab == "replies" else "t.id"
    rows = all_rows(
        db,
        f"SELECT {LIST_COLUMNS} FROM tickets t {JOINS} WHERE {cond} ORDER BY {order} LIMIT ? OFFSET ?",
        (*params, per_page, (max(1, page) - 1) * per_page),
    )
    return Page(rows, total, max(1, page), per_page, {"tab": tab})


def center_counts(db, now: datetime) -> dict[str, int]:
    """How many tickets wait in each centre queue."""
    out = {}
    for tab in CENTER_TABS:
        cond, params = _center_where(tab, now)
        out[tab] = scalar(db, f"SELECT COUNT(*) FROM tickets t WHERE {cond}", params)
    return out


def county_figures(db, now: datetime) -> dict[str, int]:
    """The county's key numbers (each through an index): received today, open by state, overdue."""
    start = now.replace(hour=0, minute=0, second=0).isoformat(timespec="seconds")
    out = {"today": scalar(db, "SELECT COUNT(*) FROM tickets WHERE received_at >= ?", (start,))}
    for state, n in db.conn.execute(
        "SELECT state, COUNT(*) FROM tickets WHERE state IN ('received','dispatched','in_progress','replied','escalated')"
        " GROUP BY state"
    ):
        out[state] = n
    out["open"] = sum(out.get(s, 0) for s in ("received", "dispatched", "in_progress", "replied", "escalated"))
    out.update(center_counts(db, now))
    return out
