"""Key supervision (重点督办): items and their member tickets, the item timeline, closing, manual items, clue transfers.

Items grow from the repeat-appeal rules (services.repeats) or are made by the centre by hand. Every
change to an item is a row in its timeline (`supervision_notes`, append-only); every ticket that joins
or leaves an item gets an event in its own timeline. The centre writes; leaders read; handlers do not
see the list at all.
"""
from __future__ import annotations

import json
from datetime import date, datetime

from exports.letters import clue_transfer_letter

from ..domain import repeats as rules_mod
from ..domain.errors import InvalidTransition, NotFound, NotPermitted, ValidationFailed
from ..domain.lifecycle import FINAL_STATES
from ..domain.roles import Actor
from ..domain.tickets import mask_phone
from ..store import all_rows, one, scalar, write
from ..store import iso as _iso
from . import notify as notify_svc
from . import tickets as tickets_svc
from .lists import Page

READERS = ("center", "leader")
WRITERS = ("center",)
STATUSES = {"open": "督办中", "closed": "已结束"}
CLOSE_KINDS = {"all_closed": "工单全部办结", "decision": "中心决定结束", "merged": "并入其他督办事项",
               "dissolved": "不再满足条件"}
TARGETS = {"discipline": "纪委监委", "petition": "信访"}
PER_PAGE = 30


def may_read(actor: Actor) -> None:
    """Centre and leaders read key supervision; everyone else is refused."""
    if actor.role not in READERS:
        raise NotPermitted("只有热线中心和领导可以查看重点督办。")


def may_write(actor: Actor) -> None:
    """Only the centre changes key supervision."""
    if actor.role not in WRITERS:
        raise NotPermitted("只有热线中心可以办理重点督办。")


# ---- low-level writes, used inside the caller's transaction ----------------------------------------


def note(db, item_id: int, actor: Actor, now: datetime, kind: str, text: str = "", details: dict | None = None) -> int:
    """Append one row to the item's timeline."""
    cur = db.conn.execute(
        "INSERT INTO supervision_notes (item_id, at, actor_id, actor_name, role, kind, text, details) VALUES (?,?,?,?,?,?,?,?)",
        (item_id, _iso(now), actor.id, actor.name, actor.role, kind, text,
         json.dumps(details or {}, ensure_ascii=False)),
    )
    return cur.lastrowid


def ticket_event(db, ticket_id: int, actor: Actor, now: datetime, action: str, note_text: str = "",
                 details: dict | None = None) -> int:
    """An event in a ticket's own timeline that does not change its state."""
    ticket = one(db, "SELECT id, state FROM tickets WHERE id = ?", (ticket_id,))
    return tickets_svc._event(db, ticket, actor, now, action, ticket["state"], note_text, details)


def create(db, actor: Actor, now: datetime, rule: str, title: str, first: dict, *, caller_key: str = "") -> int:
    """A new open item shaped after its first ticket (place and category); members are added separately."""
    cur = db.conn.execute(
        "INSERT INTO supervision_items (rule, status, title, caller_key, territory_code, township_code, category_code,"
        " first_at, last_at, created_at, created_by, created_by_name, updated_at) VALUES (?,'open',?,?,?,?,?,?,?,?,?,?,?)",
        (rule, title, caller_key, first["territory_code"], first["township_code"], first["category_code"],
         first["received_at"], first["received_at"], _iso(now), actor.id, actor.name, _iso(now)),
    )
    return cur.lastrowid


def add_member(db, item: dict, ticket_id: int, how: str, actor: Actor, now: datetime, why: str = "") -> bool:
    """Put a ticket into an item (once); its timeline records it. False when it was already there."""
    cur = db.conn.execute(
        "INSERT OR IGNORE INTO supervision_members (item_id, ticket_id, how, added_at, added_by, added_by_name)"
        " VALUES (?,?,?,?,?,?)", (item["id"], ticket_id, how, _iso(now), actor.id, actor.name),
    )
    if cur.rowcount != 1:
        return False
    label = rules_mod.RULES[item["rule"]]
    ticket_event(db, ticket_id, actor, now, "key_supervision", why or f"纳入重点督办 #{item['id']}（{label}）",
                 {"item": item["id"], "rule": item["rule"], "rule_label": label, "how": how})
    return True


def remove_member(db, item: dict, ticket_id: int, actor: Actor, now: datetime, why: str) -> bool:
    """Take a ticket out of an item; both timelines record why."""
    cur = db.conn.execute("DELETE FROM supervision_members WHERE item_id = ? AND ticket_id = ?", (item["id"], ticket_id))
    if cur.rowcount != 1:
        return False
    number = scalar(db, "SELECT number FROM tickets WHERE id = ?", (ticket_id,))
    ticket_event(db, ticket_id, actor, now, "key_supervision_removed", why, {"item": item["id"], "rule": item["rule"]})
    note(db, item["id"], actor, now, "removed", why, {"ticket": number})
    return True


def members(db, item_id: int) -> list[dict]:
    """Member tickets of an item, oldest first, with what the list and the letter show."""
    return all_rows(
        db,
        "SELECT t.id, t.number, t.state, t.received_at, t.caller_name, t.caller_phone, t.phone_norm, t.id_number,"
        " t.anonymous, t.confidential, t.title, t.content, t.territory_code, t.township_code, t.category_code,"
        " t.lead_unit, t.closed_at, u.name AS lead_name, tr.name AS territory_name, c.name AS category_name,"
        " m.how, m.added_at, m.added_by_name "
        "FROM supervision_members m JOIN tickets t ON t.id = m.ticket_id LEFT JOIN units u ON u.code = t.lead_unit "
        "LEFT JOIN territories tr ON tr.code = t.territory_code LEFT JOIN categories c ON c.code = t.category_code "
        "WHERE m.item_id = ? ORDER BY t.received_at, t.id",
        (item_id,),
    )


def refresh(db, item_id: int, now: datetime) -> dict:
    """Recount first and last time, tickets, distinct callers and open tickets from the members."""
    rows = all_rows(db, "SELECT t.id, t.received_at, t.phone_norm, t.id_number, t.state FROM supervision_members m "
                        "JOIN tickets t ON t.id = m.ticket_id WHERE m.item_id = ? ORDER BY t.received_at, t.id", (item_id,))
    if rows:
        db.conn.execute(
            "UPDATE supervision_items SET first_at = ?, last_at = ?, ticket_count = ?, caller_count = ?, open_count = ?,"
            " updated_at = ? WHERE id = ?",
            (rows[0]["received_at"], max(r["received_at"] for r in rows), len(rows),
             len({rules_mod.caller_key(r["phone_norm"], r["id_number"], r["id"]) for r in rows}),
             sum(1 for r in rows if r["state"] not in FINAL_STATES), _iso(now), item_id),
        )
    else:
        db.conn.execute("UPDATE supervision_items SET ticket_count = 0, caller_count = 0, open_count = 0, updated_at = ?"
                        " WHERE id = ?", (_iso(now), item_id))
    return one(db, "SELECT * FROM supervision_items WHERE id = ?", (item_id,))


def close_item(db, item: dict, actor: Actor, now: datetime, kind: str, reason: str, merged_into: int | None = None) -> None:
    """Close an open item with a kind from CLOSE_KINDS and a reason."""
    db.conn.execute(
        "UPDATE supervision_items SET status = 'closed', close_kind = ?, close_reason = ?, closed_at = ?, closed_by = ?,"
        " closed_by_name = ?, merged_into = ?, updated_at = ? WHERE id = ?",
        (kind, reason, _iso(now), actor.id, actor.name, merged_into, _iso(now), item["id"]),
    )
    note(db, item["id"], actor, now, "closed", reason, {"close_kind": kind, "merged_into": merged_into})


def reopen_item(db, item: dict, actor: Actor, now: datetime, why: str) -> None:
    """Open a closed item again (a new call on the same matter)."""
    db.conn.execute(
        "UPDATE supervision_items SET status = 'open', close_kind = NULL, close_reason = '', closed_at = NULL,"
        " closed_by = NULL, closed_by_name = '', updated_at = ? WHERE id = ?", (_iso(now), item["id"]),
    )
    note(db, item["id"], actor, now, "reopened", why)


def tell_centre(db, item: dict, ticket_id: int, now: datetime, what: str) -> None:
    """Notify the hotline centre (in-app, SMS and file outbox) about an item that appeared or came back."""
    label = rules_mod.RULES[item["rule"]]
    text = (f"重点督办 #{item['id']}（{label}）{what}：{item['title']}；"
            f"{item['ticket_count']} 张工单、{item['caller_count']} 位诉求人。")
    notify_svc.notify(db, kind="key_supervision", ticket_id=ticket_id, text=text, now=now, role="center")


def ticket_finished(db, actor: Actor, ticket_id: int, now: datetime) -> None:
    """A member ticket reached a final state: close each open item whose tickets are now all closed."""
    for item in all_rows(db, "SELECT i.* FROM supervision_items i JOIN supervision_members m ON m.item_id = i.id "
                             "WHERE m.ticket_id = ? AND i.status = 'open'", (ticket_id,)):
        item = refresh(db, item["id"], now)
        if item["open_count"] == 0:
            close_item(db, item, actor, now, "all_closed", "督办事项的工单已全部办结，自动结束督办。")


# ---- reading ------------------------------------------------------------------------------------------


def list_items(db, actor: Actor, f: dict, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Items for the list page, newest activity first; filters rule, township, unit, status, period (from/to)."""
    may_read(actor)
    where, params = ["i.close_kind IS NOT 'merged'"], []
    rule = (f.get("rule") or "").strip()
    if rule:
        if rule not in rules_mod.RULES:
            raise ValidationFailed("未知的督办类型。", field="rule")
        where.append("i.rule = ?")
        params.append(rule)
    status = (f.get("status") or "").strip()
    if status:
        if status not in STATUSES:
            raise ValidationFailed("未知的督办状态。", field="status")
        where.append("i.status = ?")
        params.append(status)
    if (f.get("township") or "").strip():
        where.append("i.township_code = ?")
        params.append(f["township"].strip())
    if (f.get("unit") or "").strip():
        where.append("i.id IN (SELECT m.item_id FROM supervision_members m JOIN tickets t ON t.id = m.ticket_id "
                     "WHERE t.lead_unit = ?)")
        params.append(f["unit"].strip().upper())
    for key, cond in (("from", "i.last_at >= ?"), ("to", "i.first_at < ?")):
        value = (f.get(key) or "").strip()
        if value:
            try:
                day = date.fromisoformat(value)
            except ValueError:
                raise ValidationFailed("日期格式应为 2026-11-23。", field=key) from None
            where.append(cond)
            params.append(day.isoformat() if key == "from" else date.fromordinal(day.toordinal() + 1).isoformat())
    sql_where = " AND ".join(where)
    total = scalar(db, f"SELECT COUNT(*) FROM supervision_items i WHERE {sql_where}", params)
    page = max(1, int(page or 1))
    rows = all_rows(
        db,
        "SELECT i.*, tr.name AS territory_name, tw.name AS township_name, c.name AS category_name "
        "FROM supervision_items i LEFT JOIN territories tr ON tr.code = i.territory_code "
        "LEFT JOIN territories tw ON tw.code = i.township_code LEFT JOIN categories c ON c.code = i.category_code "
        f"WHERE {sql_where} ORDER BY i.status = 'open' DESC, i.last_at DESC, i.id DESC LIMIT ? OFFSET ?",
        (*params, per_page, (page - 1) * per_page),
    )
    return Page(rows, total, page, per_page, f, cap=None)  # items are few: always counted exactly


def get_item(db, actor: Actor, item_id: int) -> dict:
    """One item with members, timeline and clue transfers; NotFound when missing."""
    may_read(actor)
    item = one(
        db,
        "SELECT i.*, tr.name AS territory_name, tw.name AS township_name, c.name AS category_name "
        "FROM supervision_items i LEFT JOIN territories tr ON tr.code = i.territory_code "
        "LEFT JOIN territories tw ON tw.code = i.township_code LEFT JOIN categories c ON c.code = i.category_code "
        "WHERE i.id = ?", (item_id,),
    )
    if item is None:
        raise NotFound(f"重点督办事项 #{item_id} 不存在。")
    item["members"] = members(db, item_id)
    for m in item["members"]:
        m["phone_masked"] = mask_phone(m["caller_phone"])
    item["notes"] = all_rows(db, "SELECT * FROM supervision_notes WHERE item_id = ? ORDER BY id", (item_id,))
    for n in item["notes"]:
        n["details"] = json.loads(n["details"])
    item["transfers"] = all_rows(db, "SELECT * FROM clue_transfers WHERE item_id = ? ORDER BY id", (item_id,))
    return item


def for_ticket(db, ticket_id: int) -> dict:
    """What the ticket page and the API show: flags, the current item id, all items, and explicit links."""
    items = all_rows(
        db,
        "SELECT i.id, i.rule, i.status, i.title, i.ticket_count, i.caller_count, i.close_kind FROM supervision_items i "
        "JOIN supervision_members m ON m.item_id = i.id WHERE m.ticket_id = ? AND i.close_kind IS NOT 'merged' "
        "AND i.close_kind IS NOT 'dissolved' ORDER BY i.status = 'open' DESC, i.id DESC", (ticket_id,),
    )
    links = all_rows(
        db,
        "SELECT t.number, t.title, t.state, l.state AS link_state, l.at, l.actor_name FROM ticket_links l "
        "JOIN tickets t ON t.id = CASE WHEN l.a_id = ? THEN l.b_id ELSE l.a_id END "
        "WHERE (l.a_id = ? OR l.b_id = ?) AND l.state = 'linked' ORDER BY l.at", (ticket_id, ticket_id, ticket_id),
    )
    flags = sorted({i["rule"] for i in items if i["rule"] != "manual"})
    return {"flags": flags, "key_supervision": items[0]["id"] if items else None, "memberships": items, "links": links}


# ---- the centre's actions ----------------------------------------------------------------------------------


def _open_item(db, item_id: int) -> dict:
    item = one(db, "SELECT * FROM supervision_items WHERE id = ?", (item_id,))
    if item is None:
        raise NotFound(f"重点督办事项 #{item_id} 不存在。")
    return item


def _required(text: str, key: str, label: str, limit: int = 2000) -> str:
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(f"请填写{label}。", field=key, errors={key: f"请填写{label}。"})
    if len(text) > limit:
        raise ValidationFailed(f"{label}不能超过 {limit} 个字。", field=key, errors={key: f"不能超过 {limit} 个字。"})
    return text


def add_note(db, actor: Actor, item_id: int, text: str, now: datetime) -> int:
    """A supervision note (督办意见) in the item's timeline."""
    may_write(actor)
    text = _required(text, "note", "督办意见")
    with write(db):
        _open_item(db, item_id)
        return note(db, item_id, actor, now, "note", text)


def close(db, actor: Actor, item_id: int, reason: str, now: datetime) -> None:
    """The centre ends key supervision of an item, with a reason."""
    may_write(actor)
    reason = _required(reason, "reason", "结束督办的理由")
    with write(db):
        item = _open_item(db, item_id)
        if item["status"] != "open":
            raise InvalidTransition(f"重点督办事项 #{item_id} 已经结束。")
        close_item(db, item, actor, now, "decision", reason)


def put_manual(db, actor: Actor, number: str, reason: str, now: datetime) -> int:
    """The centre puts any ticket on key supervision by hand; returns the (new) item id."""
    may_write(actor)
    reason = _required(reason, "reason", "纳入重点督办的理由")
    with write(db):
        ticket = one(db, "SELECT t.*, tr.name AS territory_name, c.name AS category_name FROM tickets t "
                         "LEFT JOIN territories tr ON tr.code = t.territory_code "
                         "LEFT JOIN categories c ON c.code = t.category_code WHERE t.number = ?", (number,))
        if ticket is None:
            raise NotFound(f"工单 {number} 不存在。")
        existing = scalar(db, "SELECT i.id FROM supervision_items i JOIN supervision_members m ON m.item_id = i.id "
                              "WHERE m.ticket_id = ? AND i.rule = 'manual' AND i.status = 'open'", (ticket["id"],))
        if existing:
            raise InvalidTransition(f"工单 {number} 已在重点督办事项 #{existing} 中。")
        title = f"{ticket['territory_name']} · {ticket['category_name']}：{ticket['title']}"
        item_id = create(db, actor, now, "manual", title, ticket)
        item = one(db, "SELECT * FROM supervision_items WHERE id = ?", (item_id,))
        note(db, item_id, actor, now, "created", reason, {"ticket": number})
        add_member(db, item, ticket["id"], "manual", actor, now, f"中心指定纳入重点督办 #{item_id}：{reason}")
        refresh(db, item_id, now)
        return item_id


def _next_doc_number(db, cfg, now: datetime) -> tuple[int, int, str]:
    year = now.year
    seq = (scalar(db, "SELECT MAX(seq) FROM clue_transfers WHERE year = ?", (year,)) or 0) + 1
    return year, seq, f"{cfg.county.name}热线移〔{year}〕{seq}号"


def transfer(db, cfg, actor: Actor, item_id: int, target: str, summary: str, materials: str, now: datetime) -> int:
    """Clue transfer (线索移送) of an item to 纪委监委 or 信访: recorded with what, when, who and to whom."""
    may_write(actor)
    if target not in TARGETS:
        raise ValidationFailed("请选择移送去向。", field="target", errors={"target": "请选择移送去向（纪委监委或信访）。"})
    summary = _required(summary, "summary", "线索摘要", 3000)
    materials = (materials or "").strip()[:1000]
    with write(db):
        item = _open_item(db, item_id)
        year, seq, doc_number = _next_doc_number(db, cfg, now)
        recipient = f"{cfg.county.name}{'纪委监委' if target == 'discipline' else '信访局'}"
        cur = db.conn.execute(
            "INSERT INTO clue_transfers (item_id, target, recipient, summary, materials, year, seq, doc_number, at,"
            " actor_id, actor_name) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (item_id, target, recipient, summary, materials, year, seq, doc_number, _iso(now), actor.id, actor.name),
        )
        tid = cur.lastrowid
        note(db, item_id, actor, now, "transfer", summary, {"target": target, "target_label": TARGETS[target],
                                                              "doc_number": doc_number, "transfer": tid})
        for m in members(db, item_id):
            ticket_event(db, m["id"], actor, now, "clue_transfer", f"随重点督办 #{item['id']} 移送{TARGETS[target]}",
                         {"item": item_id, "target": target, "target_label": TARGETS[target], "doc_number": doc_number})
        return tid


def transfer_letter(db, cfg, actor: Actor, transfer_id: int, *, mask: bool = True) -> tuple[str, bytes]:
    """(file name, .docx bytes) of the transfer letter, rebuilt from the record so it prints the same every time."""
    may_read(actor)
    row = one(db, "SELECT * FROM clue_transfers WHERE id = ?", (transfer_id,))
    if row is None:
        raise NotFound("移送记录不存在。")
    item = get_item(db, actor, row["item_id"])
    data = clue_transfer_letter(cfg.county.name, item, row, mask_phones=mask)
    return f"线索移送函-{row['doc_number']}.docx", data
