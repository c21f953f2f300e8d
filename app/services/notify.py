"""In-app notifications (to a unit, a user or everyone of a role) and their queueing for SMS and the file channel.

Other features call `notify()`. It writes one notification and, in the same transaction, one outbox
row per mobile number of the recipients plus one row for the file channel; `services.outbox.deliver`
sends them later (or marks them skipped when that channel is not configured), so a notification is
never lost and never blocks on a slow gateway. Read state is per user: each member of a unit or a
role marks a shared notification read for themselves only.
"""
from __future__ import annotations

import re
from datetime import datetime

from ..domain.reminders import kind_label
from ..domain.tickets import normalize_phone
from ..store import all_rows, one, scalar, write
from ..store import iso as _iso

MOBILE_RE = re.compile(r"1[3-9]\d{9}")
PER_PAGE = 30


def mobile(phone: str) -> str | None:
    """The normalised mobile number, or None for a landline / empty / malformed one (SMS needs a mobile)."""
    p = normalize_phone(phone or "")
    return p if MOBILE_RE.fullmatch(p) else None


def recipients(db, *, unit_code: str | None = None, user_id: int | None = None, role: str | None = None) -> list[str]:
    """Mobile numbers to text: a unit's own phone and its active handlers', one user's, or a role's users'."""
    if unit_code is not None:
        phones = [scalar(db, "SELECT phone FROM units WHERE code = ?", (unit_code,)) or ""]
        phones += [r["phone"] for r in all_rows(
            db, "SELECT phone FROM users WHERE role = 'handler' AND unit_code = ? AND disabled = 0 ORDER BY id",
            (unit_code,))]
    elif user_id is not None:
        phones = [scalar(db, "SELECT phone FROM users WHERE id = ? AND disabled = 0", (user_id,)) or ""]
    else:
        phones = [r["phone"] for r in all_rows(
            db, "SELECT phone FROM users WHERE role = ? AND disabled = 0 ORDER BY id", (role,))]
    out: list[str] = []
    for p in phones:
        m = mobile(p)
        if m and m not in out:
            out.append(m)
    return out


def notify(
    db, *, kind: str, ticket_id: int | None, text: str, now: datetime, unit_code: str | None = None,
    user_id: int | None = None, role: str | None = None, deadline: datetime | str | None = None,
    late: bool = False, reminder_id: int | None = None,
) -> int:
    """Notify exactly one of a unit, a user or a role; queue SMS and file delivery; return the notification id.

    `kind` is a short id: one of domain.reminders.KINDS, or a feature's own (e.g. "repeat_caller"; add it to
    KINDS for its Chinese label, else it shows as “通知”).
    Runs in its own transaction, or inside the caller's (as a savepoint) when one is open.
    """
    if sum(x is not None for x in (unit_code, user_id, role)) != 1:
        raise ValueError("notify() needs exactly one of unit_code, user_id, role")
    if not text.strip():
        raise ValueError("notify() needs a text")
    stamp = _iso(now)
    with write(db):
        cur = db.conn.execute(
            "INSERT INTO notifications (kind, ticket_id, unit_code, user_id, role, text, deadline, late, reminder_id,"
            " created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (kind, ticket_id, unit_code, user_id, role, text, _iso(deadline), int(late), reminder_id, stamp),
        )
        nid = cur.lastrowid
        rows = [("sms", phone) for phone in recipients(db, unit_code=unit_code, user_id=user_id, role=role)]
        rows.append(("file", ""))
        for channel, recipient in rows:
            db.conn.execute(
                "INSERT OR IGNORE INTO outbox (notification_id, channel, recipient, text, next_attempt_at, created_at)"
                " VALUES (?,?,?,?,?,?)",
                (nid, channel, recipient, text, stamp, stamp),
            )
    return nid


# ---- reading and marking read -------------------------------------------------------------------


def _audience(user: dict) -> tuple[str, list]:
    """Who a user is for notifications: themselves, their unit (handlers) and their role; only since they joined."""
    cond = "(n.user_id = ? OR n.unit_code = ? OR n.role = ?) AND n.created_at >= ?"
    unit = user.get("unit_code") if user.get("role") == "handler" else None
    return cond, [user["id"], unit, user["role"], user.get("created_at") or ""]


def _unread(user_id: int) -> tuple[str, list]:
    return "NOT EXISTS (SELECT 1 FROM notification_reads r WHERE r.notification_id = n.id AND r.user_id = ?)", [user_id]


def unread_count(db, user: dict) -> int:
    """How many of the user's notifications they have not read (the navigation badge)."""
    cond, params = _audience(user)
    unread, p2 = _unread(user["id"])
    return scalar(db, f"SELECT COUNT(*) FROM notifications n WHERE {cond} AND {unread}", (*params, *p2)) or 0


def for_user(db, user: dict, *, unread_only: bool = False, page: int = 1, per_page: int = PER_PAGE) -> tuple[list[dict], int]:
    """The user's notifications, newest first, with `read_at` and the ticket number; and the total."""
    cond, params = _audience(user)
    if unread_only:
        unread, p2 = _unread(user["id"])
        cond, params = f"{cond} AND {unread}", [*params, *p2]
    total = scalar(db, f"SELECT COUNT(*) FROM notifications n WHERE {cond}", params) or 0
    rows = all_rows(
        db,
        "SELECT n.*, t.number, r.read_at FROM notifications n LEFT JOIN tickets t ON t.id = n.ticket_id "
        "LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.user_id = ? "
        f"WHERE {cond} ORDER BY n.id DESC LIMIT ? OFFSET ?",
        (user["id"], *params, per_page, (max(1, page) - 1) * per_page),
    )
    for r in rows:
        r["kind_label"] = kind_label(r["kind"])
    return rows, total


def mark_read(db, user: dict, now: datetime, notification_id: int | None = None) -> int:
    """Mark one notification (or, with None, all of them) read for this user; return how many changed."""
    cond, params = _audience(user)
    unread, p2 = _unread(user["id"])
    extra, p3 = ("AND n.id = ?", [notification_id]) if notification_id is not None else ("", [])
    with write(db):
        cur = db.conn.execute(
            f"INSERT OR IGNORE INTO notification_reads (notification_id, user_id, read_at) "
            f"SELECT n.id, ?, ? FROM notifications n WHERE {cond} AND {unread} {extra}",
            (user["id"], _iso(now), *params, *p2, *p3),
        )
        return cur.rowcount


def for_token(db, role: str, unit_code: str | None, *, since_id: int = 0, limit: int = 50) -> list[dict]:
    """An API token's own notifications (its unit's for a handler token, its role's otherwise), newest first."""
    if role == "handler":
        cond, params = "n.unit_code = ?", [unit_code]
    else:
        cond, params = "n.role = ?", [role]
    return all_rows(
        db,
        "SELECT n.id, n.kind, n.text, n.deadline, n.late, n.created_at, n.unit_code, n.role, t.number "
        f"FROM notifications n LEFT JOIN tickets t ON t.id = n.ticket_id WHERE {cond} AND n.id > ? "
        "ORDER BY n.id DESC LIMIT ?",
        (*params, since_id, limit),
    )


def get(db, notification_id: int) -> dict | None:
    """One notification row."""
    return one(db, "SELECT * FROM notifications WHERE id = ?", (notification_id,))
