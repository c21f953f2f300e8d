"""Repeat appeals (一人多次 / 一事多人) over the store: candidates through indexes, evaluation, links, rescan.

The intake-time check never scans the tickets table: candidates come from the indexes on
(phone_norm, received_at), (id_number, received_at) and (township_code, category_code, received_at),
plus the tickets explicitly linked to the one evaluated and their items' members. The pure rules in
app.domain.repeats decide; this module writes what they decided into key supervision items
(services.supervision) inside the caller's transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..config import Config
from ..domain import repeats as rules_mod
from ..domain.errors import NotFound, ValidationFailed
from ..domain.lifecycle import FINAL_STATES
from ..domain.repeats import Appeal, Finding, Relations, Rules, pair
from ..domain.roles import SYSTEM, Actor
from ..domain.tickets import ID_RE, mask_phone, normalize_phone
from ..store import all_rows, one, scalar, write
from ..store import iso as _iso
from . import supervision

COLUMNS = ("id, number, state, received_at, caller_name, caller_phone, phone_norm, id_number, anonymous, territory_code,"
           " township_code, category_code, title, content")
# A correction of any of these may make or break a group.
MATCH_FIELDS = frozenset({"phone_norm", "id_number", "anonymous", "territory_code", "township_code", "category_code",
                          "title", "content"})
LINK_EDITORS = ("center",)


def rules_for(cfg: Config) -> Rules:
    """The domain rules from config [repeats]."""
    r = cfg.repeats
    return Rules(r.repeat_caller_threshold, timedelta(days=r.repeat_caller_window_days), r.mass_event_threshold,
                 timedelta(hours=r.mass_event_window_hours), r.similarity)


def appeal(row: dict) -> Appeal:
    """A ticket row as the rules see it."""
    return Appeal(id=row["id"], received_at=datetime.fromisoformat(row["received_at"]), phone=row["phone_norm"],
                  id_number=row["id_number"], anonymous=bool(row["anonymous"]), territory_code=row["territory_code"],
                  township_code=row["township_code"], category_code=row["category_code"], title=row["title"],
                  content=row["content"], number=row["number"])


def _in(ids) -> str:
    return ",".join("?" * len(ids))


def _candidate_rows(db, rules: Rules, t: Appeal) -> dict[int, dict]:
    """Tickets that could be in the ticket's groups, each query on an index with a time range."""
    out: dict[int, dict] = {}
    rc, me = rules.repeat_caller_window, rules.mass_event_window
    queries = [(f"SELECT {COLUMNS} FROM tickets WHERE township_code = ? AND category_code = ? AND received_at BETWEEN ? AND ?",
                (t.township_code, t.category_code, _iso(t.received_at - me), _iso(t.received_at + me)))]
    if t.phone:
        queries.append((f"SELECT {COLUMNS} FROM tickets WHERE phone_norm = ? AND received_at BETWEEN ? AND ?",
                        (t.phone, _iso(t.received_at - rc), _iso(t.received_at + rc))))
    if t.id_number:
        # the index is partial (id_number != ''), so the condition must be spelled out for the planner to use it
        queries.append((f"SELECT {COLUMNS} FROM tickets WHERE id_number = ? AND id_number != '' AND received_at BETWEEN ? AND ?",
                        (t.id_number, _iso(t.received_at - rc), _iso(t.received_at + rc))))
    for sql, params in queries:
        for row in all_rows(db, sql, params):
            out[row["id"]] = row
    # people's explicit links, and the other members of the items those tickets are in
    if t.id:
        linked = {r[0] for r in db.conn.execute(
            "SELECT b_id FROM ticket_links WHERE a_id = ? AND state = 'linked' "
            "UNION SELECT a_id FROM ticket_links WHERE b_id = ? AND state = 'linked'", (t.id, t.id))}
        seeds = linked | {t.id}
        mates = {r[0] for r in db.conn.execute(
            f"SELECT m2.ticket_id FROM supervision_members m1 JOIN supervision_members m2 ON m2.item_id = m1.item_id "
            f"WHERE m1.ticket_id IN ({_in(seeds)})", tuple(seeds))}
        extra = (linked | mates) - set(out)
        if extra:
            for row in all_rows(db, f"SELECT {COLUMNS} FROM tickets WHERE id IN ({_in(extra)})", tuple(extra)):
                out[row["id"]] = row
    return out


def _relations(db, ids: set[int], leave_out: int | None = None) -> Relations:
    """Links among these tickets, and the groups their rule items form (without `leave_out`, the ticket judged)."""
    rel = Relations()
    if not ids:
        return rel
    id_list = tuple(ids)
    for a, b, state in db.conn.execute(
        f"SELECT a_id, b_id, state FROM ticket_links WHERE a_id IN ({_in(id_list)}) OR b_id IN ({_in(id_list)})",
        id_list + id_list,
    ):
        if a in ids and b in ids:
            (rel.linked if state == "linked" else rel.detached).add(pair(a, b))
    groups: dict[tuple[str, int], set[int]] = {}
    for item_id, rule, ticket_id in db.conn.execute(
        f"SELECT i.id, i.rule, m.ticket_id FROM supervision_members m JOIN supervision_items i ON i.id = m.item_id "
        f"WHERE m.ticket_id IN ({_in(id_list)}) AND i.rule != 'manual' AND i.close_kind IS NOT 'merged' "
        f"AND i.close_kind IS NOT 'dissolved'", id_list,
    ):
        if ticket_id != leave_out:
            groups.setdefault((rule, item_id), set()).add(ticket_id)
    for (rule, _), members in groups.items():
        rel.groups.setdefault(rule, []).append(members)
    return rel


@dataclass
class Change:
    """What an evaluation did to one item."""

    item_id: int
    rule: str
    what: str                     # created, grew, reopened, merged, removed, dissolved
    tickets: list[str] = field(default_factory=list)


def _title(db, rule: str, first: dict) -> str:
    names = one(db, "SELECT tr.name AS place, c.name AS category FROM territories tr, categories c "
                    "WHERE tr.code = ? AND c.code = ?", (first["territory_code"], first["category_code"])) or {}
    place, category = names.get("place", ""), names.get("category", "")
    if rule == "repeat_caller":
        who = mask_phone(first["phone_norm"]) if first["phone_norm"] else f"身份证尾号{first['id_number'][-4:]}"
        return f"{who} 反映 {place} · {category}：{first['title']}"
    return f"{place} · {category}：{first['title']}"


def _items_of(db, rule: str, ticket_ids: set[int]) -> list[dict]:
    """Items of this rule holding any of the tickets, the open and newest first (merged and dissolved ones left out)."""
    ids = tuple(ticket_ids)
    return all_rows(
        db,
        f"SELECT DISTINCT i.* FROM supervision_items i JOIN supervision_members m ON m.item_id = i.id "
        f"WHERE i.rule = ? AND m.ticket_id IN ({_in(ids)}) AND i.close_kind IS NOT 'merged' "
        f"AND i.close_kind IS NOT 'dissolved' ORDER BY i.status = 'open' DESC, i.id DESC",
        (rule, *ids),
    )


def _member_ids(db, item_id: int) -> set[int]:
    return {r[0] for r in db.conn.execute("SELECT ticket_id FROM supervision_members WHERE item_id = ?", (item_id,))}


def _apply(db, actor: Actor, now: datetime, f: Finding, rows: dict[int, dict], notify: bool) -> list[Change]:
    """Write one rule's finding: create an item, or grow / reopen / merge the one the group already has."""
    group_ids = {a.id for a in f.group}
    items = _items_of(db, f.rule, group_ids)
    want = {f.ticket.id} | ({a.id for a in f.members} if f.tripped else set())
    if not items:
        if not f.tripped:
            return []
        first = rows[f.members[0].id]
        key = first["phone_norm"] or first["id_number"] if f.rule == "repeat_caller" else ""
        item_id = supervision.create(db, actor, now, f.rule, _title(db, f.rule, first), first, caller_key=key)
        item = one(db, "SELECT * FROM supervision_items WHERE id = ?", (item_id,))
        for a in f.members:
            supervision.add_member(db, item, a.id, "rule", actor, now)
        item = supervision.refresh(db, item_id, now)
        measure = f"{f.count} 次" if f.rule == "repeat_caller" else f"{f.callers} 人"
        supervision.note(db, item_id, actor, now, "created", f"达到{rules_mod.RULES[f.rule]}条件（{measure}），纳入重点督办。",
                         {"tickets": [a.number for a in f.members]})
        if notify:
            supervision.tell_centre(db, item, f.ticket.id, now, "新增")
        return [Change(item_id, f.rule, "created", [a.number for a in f.members])]
    target, changes = items[0], []
    for other in items[1:]:
        if other["status"] == "open" and target["status"] == "open":
            for tid in _member_ids(db, other["id"]):
                supervision.add_member(db, target, tid, "rule", actor, now, f"随 #{other['id']} 并入重点督办 #{target['id']}")
            supervision.close_item(db, other, actor, now, "merged", f"与 #{target['id']} 为同一事项，已并入。", target["id"])
            supervision.note(db, target["id"], actor, now, "merged", f"并入 #{other['id']}。", {"from": other["id"]})
            changes.append(Change(target["id"], f.rule, "merged", []))
    added = [tid for tid in sorted(want - _member_ids(db, target["id"]))
             if supervision.add_member(db, target, tid, "rule", actor, now)]
    if not added and not changes:
        return []
    item = supervision.refresh(db, target["id"], now)
    numbers = [rows[tid]["number"] for tid in added]
    if added:
        supervision.note(db, target["id"], actor, now, "grew", "同一事项又有来电：" + "、".join(numbers), {"tickets": numbers})
        changes.append(Change(target["id"], f.rule, "grew", numbers))
    closed_at = target["closed_at"]
    if target["status"] == "closed" and any(rows[tid]["received_at"] > closed_at for tid in added):
        supervision.reopen_item(db, item, actor, now, "督办结束后同一事项又有来电，重新督办。")
        changes.append(Change(target["id"], f.rule, "reopened", numbers))
        if notify:
            supervision.tell_centre(db, item, f.ticket.id, now, "重新督办")
    return changes


def _prune(db, actor: Actor, now: datetime, rules: Rules, f: Finding, rows: dict[int, dict]) -> list[Change]:
    """After a correction: leave the rule's items the ticket no longer matches; end items that no longer qualify."""
    changes = []
    for item in all_rows(db, "SELECT i.* FROM supervision_items i JOIN supervision_members m ON m.item_id = i.id "
                             "WHERE m.ticket_id = ? AND m.how = 'rule' AND i.rule = ? AND i.close_kind IS NOT 'merged' "
                             "AND i.close_kind IS NOT 'dissolved'", (f.ticket.id, f.rule)):
        others = _member_ids(db, item["id"]) - {f.ticket.id}
        if not others or others & {a.id for a in f.group}:
            continue
        supervision.remove_member(db, item, f.ticket.id, actor, now,
                                  f"工单 {f.ticket.number} 更正后不再属于同一事项，移出重点督办 #{item['id']}。")
        changes.append(Change(item["id"], f.rule, "removed", [f.ticket.number]))
        changes += _dissolve_if_short(db, actor, now, rules, supervision.refresh(db, item["id"], now))
    return changes


def _dissolve_if_short(db, actor: Actor, now: datetime, rules: Rules, item: dict) -> list[Change]:
    rows = all_rows(db, f"SELECT {COLUMNS} FROM tickets WHERE id IN (SELECT ticket_id FROM supervision_members "
                        "WHERE item_id = ?)", (item["id"],))
    if item["status"] != "open" or rules_mod.best_window(item["rule"], [appeal(r) for r in rows], rules) >= rules.threshold(item["rule"]):
        return []
    supervision.close_item(db, item, actor, now, "dissolved",
                           f"调整后不再满足{rules_mod.RULES[item['rule']]}条件，自动结束督办。")
    return [Change(item["id"], item["rule"], "dissolved", [])]


def evaluate(db, cfg: Config, actor: Actor, ticket_id: int, now: datetime, *, notify: bool = True) -> list[Change]:
    """Apply both rules to one stored ticket, inside the caller's transaction; return what changed."""
    rules = rules_for(cfg)
    row = one(db, f"SELECT {COLUMNS} FROM tickets WHERE id = ?", (ticket_id,))
    t = appeal(row)
    rows = _candidate_rows(db, rules, t)
    rows[t.id] = row
    rel = _relations(db, set(rows), leave_out=t.id)
    pool = [appeal(r) for r in rows.values() if r["id"] != t.id]
    changes = []
    for f in rules_mod.evaluate(t, pool, rules, rel).values():
        changes += _prune(db, actor, now, rules, f, rows)
        changes += _apply(db, actor, now, f, rows, notify)
    return changes


# ---- links between tickets --------------------------------------------------------------------------


def _ids_of(db, numbers, me: int) -> dict[str, int]:
    wanted = sorted({(n or "").strip() for n in numbers if (n or "").strip()})
    if not wanted:
        return {}
    found = {r["number"]: r["id"] for r in all_rows(db, f"SELECT id, number FROM tickets WHERE number IN ({_in(wanted)})",
                                                        tuple(wanted))}
    return {n: i for n, i in found.items() if i != me}


def set_links(db, actor: Actor, ticket_id: int, others: dict[str, int], state: str, now: datetime, note: str = "") -> list[str]:
    """Record `linked` or `detached` between a ticket and others; one event on each ticket; return the numbers changed."""
    changed = []
    for number, other in others.items():
        a, b = sorted((ticket_id, other))
        cur = db.conn.execute(
            "INSERT INTO ticket_links (a_id, b_id, state, at, actor_id, actor_name, role, note) VALUES (?,?,?,?,?,?,?,?) "
            "ON CONFLICT(a_id, b_id) DO UPDATE SET state = excluded.state, at = excluded.at, actor_id = excluded.actor_id,"
            " actor_name = excluded.actor_name, role = excluded.role, note = excluded.note WHERE state != excluded.state",
            (a, b, state, _iso(now), actor.id, actor.name, actor.role, note),
        )
        if cur.rowcount:
            changed.append((number, other))
    if not changed:
        return []
    action = "link" if state == "linked" else "unlink"
    me = scalar(db, "SELECT number FROM tickets WHERE id = ?", (ticket_id,))
    supervision.ticket_event(db, ticket_id, actor, now, action, note, {"others": [n for n, _ in changed]})
    for _, other in changed:
        supervision.ticket_event(db, other, actor, now, action, note, {"others": [me]})
    return [n for n, _ in changed]


def after_intake(db, cfg: Config, actor: Actor, ticket_id: int, now: datetime, *, links=(), detached=()) -> list[Change]:
    """The intake hook: the operator's confirmed and detached suggestions, then both rules."""
    if links:
        set_links(db, actor, ticket_id, _ids_of(db, links, ticket_id), "linked", now, "受理时确认为同一事项")
    if detached:
        set_links(db, actor, ticket_id, _ids_of(db, detached, ticket_id), "detached", now, "受理时确认不是同一事项")
    return evaluate(db, cfg, actor, ticket_id, now)


def after_action(db, cfg: Config, actor: Actor, ticket: dict, action: str, to_state: str, details: dict,
                 now: datetime) -> list[Change]:
    """The hook after every ticket action: re-evaluate a corrected ticket; close items whose tickets are all closed."""
    changes = []
    if action == "update" and MATCH_FIELDS & set(details.get("changed", {})):
        changes = evaluate(db, cfg, actor, ticket["id"], now)
    if to_state in FINAL_STATES:
        supervision.ticket_finished(db, actor, ticket["id"], now)
    return changes


def _pair_numbers(db, number_a: str, number_b: str) -> tuple[int, int]:
    ids = {r["number"]: r["id"] for r in all_rows(db, "SELECT id, number FROM tickets WHERE number IN (?, ?)",
                                                   (number_a, number_b))}
    for n in (number_a, number_b):
        if n not in ids:
            raise NotFound(f"工单 {n or '（空）'} 不存在。")
    if ids[number_a] == ids[number_b]:
        raise ValidationFailed("不能把工单与它自己关联。", field="other", errors={"other": "请填写另一张工单的编号。"})
    return ids[number_a], ids[number_b]


def link(db, cfg: Config, actor: Actor, number_a: str, number_b: str, now: datetime, note: str = "") -> list[Change]:
    """The centre links two tickets as the same matter; items follow (a manual item takes the other ticket in)."""
    supervision.may_write(actor)
    with write(db):
        a, b = _pair_numbers(db, number_a.strip(), number_b.strip())
        set_links(db, actor, a, {number_b.strip(): b}, "linked", now, note.strip() or "中心关联为同一事项")
        for x, y in ((a, b), (b, a)):
            for item in all_rows(db, "SELECT i.* FROM supervision_items i JOIN supervision_members m ON m.item_id = i.id "
                                     "WHERE m.ticket_id = ? AND i.rule = 'manual' AND i.status = 'open'", (x,)):
                if supervision.add_member(db, item, y, "link", actor, now):
                    supervision.refresh(db, item["id"], now)
        return evaluate(db, cfg, actor, a, now) + evaluate(db, cfg, actor, b, now)


def unlink(db, cfg: Config, actor: Actor, number_a: str, number_b: str, now: datetime, note: str = "") -> list[Change]:
    """The centre says two tickets are not the same matter; an item holding both keeps its larger connected part."""
    supervision.may_write(actor)
    rules = rules_for(cfg)
    with write(db):
        a, b = _pair_numbers(db, number_a.strip(), number_b.strip())
        set_links(db, actor, a, {number_b.strip(): b}, "detached", now, note.strip() or "中心确认不是同一事项")
        changes = []
        for item in all_rows(db, "SELECT i.* FROM supervision_items i WHERE i.rule != 'manual' AND i.status = 'open' "
                                 "AND i.id IN (SELECT item_id FROM supervision_members WHERE ticket_id = ?) "
                                 "AND i.id IN (SELECT item_id FROM supervision_members WHERE ticket_id = ?)", (a, b)):
            rows = {r["id"]: r for r in all_rows(db, f"SELECT {COLUMNS} FROM tickets WHERE id IN "
                                                     "(SELECT ticket_id FROM supervision_members WHERE item_id = ?)",
                                                 (item["id"],))}
            rel = _relations(db, set(rows))
            rel.groups = {}  # membership itself is what is being questioned
            parts = rules_mod.components(item["rule"], [appeal(r) for r in rows.values()], rules, rel)
            for part in parts[1:]:
                for x in part:
                    supervision.remove_member(db, item, x.id, actor, now,
                                              f"中心解除关联后，工单 {x.number} 移出重点督办 #{item['id']}。")
                    changes.append(Change(item["id"], item["rule"], "removed", [x.number]))
            if len(parts) > 1:
                changes += _dissolve_if_short(db, actor, now, rules, supervision.refresh(db, item["id"], now))
        return changes


# ---- while the operator types ----------------------------------------------------------------------------


@dataclass
class Preview:
    """What the intake form shows beside the call: both findings, the warnings, and other similar tickets."""

    findings: dict[str, Finding]
    warnings: dict[str, str]
    rows: dict[int, dict]
    related: list[tuple[dict, float]]
    rules: Rules
    ready: bool                      # territory and category chosen: "same matter" can be judged
    held_out: dict[str, list[dict]]  # tickets the operator unticked, kept on show under the rule they were under


def preview(db, cfg: Config, form: dict, now: datetime, *, confirmed=(), detached=()) -> Preview:
    """Judge a call that is not saved yet (id 0) against the stored tickets; nothing is written."""
    rules = rules_for(cfg)
    phone = normalize_phone(form.get("caller_phone") or "")
    id_number = (form.get("id_number") or "").strip().upper()
    terr = one(db, "SELECT code, COALESCE(parent_code, code) AS township_code FROM territories WHERE code = ?",
               ((form.get("territory") or "").strip(),))
    category = (form.get("category") or "").strip().split(" ")[0]
    anonymous = str(form.get("anonymous") or "").lower() in ("1", "true", "on", "yes")
    t = Appeal(id=0, received_at=now, phone=phone if len(phone) >= 7 else "",
               id_number=id_number if ID_RE.match(id_number) else "", anonymous=anonymous,
               territory_code=terr["code"] if terr else "", township_code=terr["township_code"] if terr else "",
               category_code=category, title=form.get("title") or "", content=form.get("content") or "")
    ready = bool(terr and category)
    rows = _candidate_rows(db, rules, t) if (ready or t.phone or t.id_number) else {}
    rel = _relations(db, set(rows))
    ids = {r["number"]: i for i, r in rows.items()}
    rel.linked |= {pair(0, ids[n]) for n in confirmed if n in ids}
    rel.detached |= {pair(0, ids[n]) for n in detached if n in ids}
    appeals = {i: appeal(r) for i, r in rows.items()}
    findings = rules_mod.evaluate(t, list(appeals.values()), rules, rel)
    warnings = {rule: rules_mod.warning(f, rules) for rule, f in findings.items()
                if ready and len(f.group) > 1 and not (rule == "repeat_caller" and (t.anonymous or not (t.phone or t.id_number)))}
    grouped = {a.id for f in findings.values() for a in f.group}
    related = []
    if ready:
        for a in appeals.values():
            if (a.id not in grouped and a.category_code == t.category_code and rules_mod.same_place(a, t)
                    and abs(a.received_at - now) <= rules.mass_event_window):
                related.append((rows[a.id], rules_mod.similarity(a, t)))
        related.sort(key=lambda x: -x[1])
    held_out: dict[str, list[dict]] = {"repeat_caller": [], "mass_event": []}
    for n in detached:
        if n in ids and ids[n] not in grouped:
            mine = rules_mod.same_caller(t, appeals[ids[n]]) and not t.anonymous
            held_out["repeat_caller" if mine else "mass_event"].append(rows[ids[n]])
    return Preview(findings, warnings, rows, related[:5], rules, ready, held_out)


# ---- rescan ----------------------------------------------------------------------------------------------


def rescan(db, cfg: Config, since: datetime, now: datetime, *, batch: int = 500) -> dict:
    """Re-evaluate every ticket received since `since`, oldest first; a second run changes nothing."""
    ids = [r[0] for r in db.conn.execute("SELECT id FROM tickets WHERE received_at >= ? ORDER BY received_at, id",
                                         (_iso(since),))]
    counts: dict[str, int] = {}
    for start in range(0, len(ids), batch):
        with write(db):
            for tid in ids[start:start + batch]:
                for c in evaluate(db, cfg, SYSTEM, tid, now):
                    counts[c.what] = counts.get(c.what, 0) + 1
    rules = rules_for(cfg)
    short = 0
    for item in all_rows(db, "SELECT * FROM supervision_items WHERE status = 'open' AND rule != 'manual' AND last_at >= ?",
                         (_iso(since),)):
        rows = all_rows(db, f"SELECT {COLUMNS} FROM tickets WHERE id IN (SELECT ticket_id FROM supervision_members "
                            "WHERE item_id = ?)", (item["id"],))
        if rules_mod.best_window(item["rule"], [appeal(r) for r in rows], rules) < rules.threshold(item["rule"]):
            short += 1
    return {"tickets": len(ids), "changes": counts, "below_threshold": short}
