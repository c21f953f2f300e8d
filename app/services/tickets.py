"""The ticket loop: intake, dispatch, sign, handle, extend, return, reply, call-back, close — one transaction each.

Every action goes through `act()`: the domain lifecycle table decides whether (state, action, role)
is allowed; the change and its event are written in the same BEGIN IMMEDIATE transaction, so two
people acting at once are serialised and the second is told the ticket changed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..config import Config
from ..domain import lifecycle
from ..domain.calendar import UrgencyRule, dispatch_deadlines, end_of_workday
from ..domain.errors import Conflict, InvalidTransition, NotFound, NotPermitted, ValidationFailed
from ..domain.roles import URGENCY_LABELS, Actor
from ..domain.tickets import (
    CONTACT_METHODS, REJECT_REASONS, RETURN_REASONS, SATISFACTION, TRANSFER_TARGETS, validate_intake,
)
from ..store import all_rows, one, scalar, write
from ..store import iso as _iso, from_iso as _dt
from . import attachments as attachments_svc
from . import calendar as calendar_svc
from . import repeats as repeats_svc
from . import supervision as supervision_svc


@dataclass
class Upload:
    """A file coming with an action: its bytes and the name the user gave (display only)."""

    data: bytes
    filename: str = ""


@dataclass
class Outcome:
    """What an action did: the ticket number, its new state, and the event id."""

    number: str
    state: str
    event_id: int
    repeated: bool = False  # an idempotent retry: nothing new was applied
    extra: dict = field(default_factory=dict)


def _rule(cfg: Config, urgency: str) -> UrgencyRule:
    u = getattr(cfg.deadlines, urgency)
    return UrgencyRule(u.sign_minutes, u.complete_workdays, u.complete_hours)


# ---- reading ---------------------------------------------------------------


def _load(db, number: str) -> dict | None:
    return one(db, "SELECT * FROM tickets WHERE number = ?", (number,))


def units_of(db, ticket_id: int) -> list[dict]:
    """The ticket's lead and co-units (active first), with names and sign times."""
    return all_rows(
        db,
        "SELECT tu.*, u.name AS unit_name, u.phone AS unit_phone FROM ticket_units tu "
        "JOIN units u ON u.code = tu.unit_code WHERE tu.ticket_id = ? ORDER BY tu.active DESC, tu.role DESC, u.code",
        (ticket_id,),
    )


def can_see(db, ticket: dict, actor: Actor) -> bool:
    """A handler sees only tickets its unit holds now; a unit whose return was approved no longer sees the caller."""
    if actor.role != "handler":
        return True
    return bool(scalar(
        db, "SELECT 1 FROM ticket_units WHERE ticket_id = ? AND unit_code = ? AND active = 1", (ticket["id"], actor.unit_code)
    ))


def get(db, actor: Actor, number: str) -> dict:
    """A ticket the actor may see, with units, pending requests, attachments and timeline; else NotFound."""
    ticket = _load(db, number)
    if ticket is None or not can_see(db, ticket, actor):
        raise NotFound(f"工单 {number} 不存在。")
    ticket["units"] = units_of(db, ticket["id"])
    ticket["pending"] = all_rows(
        db, "SELECT * FROM requests WHERE ticket_id = ? AND status = 'pending' ORDER BY id", (ticket["id"],)
    )
    ticket["requests"] = all_rows(db, "SELECT * FROM requests WHERE ticket_id = ? ORDER BY id", (ticket["id"],))
    ticket["attachments"] = all_rows(db, "SELECT * FROM attachments WHERE ticket_id = ? ORDER BY id", (ticket["id"],))
    ticket["events"] = timeline(db, ticket["id"])
    ticket["supervision"] = supervision_svc.for_ticket(db, ticket["id"])
    ticket["territory"] = one(
        db, "SELECT t.name, p.name AS township FROM territories t LEFT JOIN territories p ON p.code = t.parent_code "
        "WHERE t.code = ?", (ticket["territory_code"],),
    )
    ticket["category"] = one(
        db, "SELECT c.name, p.name AS major FROM categories c LEFT JOIN categories p ON p.code = c.parent_code "
        "WHERE c.code = ?", (ticket["category_code"],),
    )
    return ticket


def timeline(db, ticket_id: int) -> list[dict]:
    """The ticket's events, oldest first, details decoded."""
    rows = all_rows(db, "SELECT * FROM events WHERE ticket_id = ? ORDER BY id", (ticket_id,))
    for r in rows:
        r["details"] = json.loads(r["details"])
    return rows


def attachment_for(db, actor: Actor, number: str, attachment_id: int) -> dict:
    """One attachment row of a ticket the actor may see; else NotFound."""
    ticket = _load(db, number)
    if ticket is None or not can_see(db, ticket, actor):
        raise NotFound("附件不存在。")
    row = one(db, "SELECT * FROM attachments WHERE id = ? AND ticket_id = ?", (attachment_id, ticket["id"]))
    if row is None:
        raise NotFound("附件不存在。")
    return row


def history(db, phone_norm: str, id_number: str, now: datetime, days: int = 90, limit: int = 20) -> list[dict]:
    """The caller's tickets of the last `days` days (by phone or ID number), newest first."""
    if not phone_norm and not id_number:
        return []
    since = _iso(now - timedelta(days=days))
    rows = all_rows(
        db,
        "SELECT id, number, state, received_at, title, category_code, territory_code, lead_unit FROM tickets "
        "WHERE phone_norm = ? AND phone_norm != '' AND received_at >= ? "
        "UNION SELECT id, number, state, received_at, title, category_code, territory_code, lead_unit FROM tickets "
        "WHERE id_number = ? AND id_number != '' AND received_at >= ? ORDER BY received_at DESC LIMIT ?",
        (phone_norm, since, id_number, since, limit),
    )
    return rows


# ---- writing ---------------------------------------------------------------


def _event(db, ticket: dict, actor: Actor, now: datetime, action: str, to_state: str, note: str = "",
           details: dict | None = None) -> int:
    cur = db.conn.execute(
        "INSERT INTO events (ticket_id, at, actor_id, actor_name, role, unit_code, action, from_state, to_state, note, details)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (ticket["id"], _iso(now), actor.id, actor.name, actor.role, actor.unit_code, action, ticket.get("state"),
         to_state, note, json.dumps(details or {}, ensure_ascii=False)),
    )
    return cur.lastrowid


def _next_number(db, county_code: str, now: datetime) -> str:
    """<county>-<YYYYMMDD>-<4 digits>; the counter row is updated in the caller's transaction, so no gaps."""
    day = now.strftime("%Y%m%d")
    db.conn.execute(
        "INSERT INTO ticket_seq (day, last) VALUES (?, 1) ON CONFLICT(day) DO UPDATE SET last = last + 1", (day,)
    )
    seq = scalar(db, "SELECT last FROM ticket_seq WHERE day = ?", (day,))
    return f"{county_code}-{day}-{seq:04d}"


def _check_refs(db, values: dict, errors: dict) -> dict | None:
    terr = None
    if values.get("territory") and "territory" not in errors:
        terr = one(
            db,
            "SELECT t.code, t.level, COALESCE(t.parent_code, t.code) AS township_code FROM territories t "
            "WHERE t.code = ? AND t.active = 1",
            (values["territory"],),
        )
        if terr is None:
            errors["territory"] = f"属地 {values['territory']} 不存在。"
    if values.get("category") and "category" not in errors:
        leaf = one(
            db, "SELECT code FROM categories WHERE code = ? AND parent_code IS NOT NULL AND active = 1",
            (values["category"],),
        )
        if leaf is None:
            errors["category"] = f"事项分类 {values['category']} 不存在（须选到小类）。"
    return terr


def _scoped(actor: Actor, key: str | None) -> str | None:
    """A client's key counts only for that user or token, so nobody can read another's outcome by replaying it."""
    return f"{actor.kind}:{actor.id if actor.id is not None else actor.name}:{key}" if key else None


def _idempotent(db, key: str | None) -> Outcome | None:
    if not key:
        return None
    row = one(db, "SELECT result FROM idempotency WHERE key = ?", (key,))
    if row is None:
        return None
    data = json.loads(row["result"])
    return Outcome(data["number"], data["state"], data["event_id"], repeated=True)


def _remember(db, key: str | None, out: Outcome, now: datetime, ticket_id: int) -> None:
    if key:
        db.conn.execute(
            "INSERT INTO idempotency (key, ticket_id, result, created_at) VALUES (?,?,?,?)",
            (key, ticket_id, json.dumps({"number": out.number, "state": out.state, "event_id": out.event_id}), _iso(now)),
        )


def intake(
    db, cfg: Config, actor: Actor, form: dict, now: datetime, *, then: str = "save", data: dict | None = None,
    idempotency_key: str | None = None, links=(), detached=(),
) -> Outcome:
    """Register a call (受理); then optionally `answer_directly` or `dispatch` in the same transaction.

    `links` / `detached` are ticket numbers the operator confirmed as, or ruled out from, the same matter.
    """
    if actor.role not in ("operator", "center"):
        raise NotPermitted("只有话务员和热线中心可以受理工单。")
    values, errors = validate_intake(form)
    received_at = now
    if form.get("received_at"):
        try:
            received_at = datetime.fromisoformat(str(form["received_at"]))
            if received_at.tzinfo is None:
                received_at = received_at.replace(tzinfo=cfg.tz)
            if received_at > now + timedelta(minutes=5):
                errors["received_at"] = "受理时间不能晚于现在。"
        except ValueError:
            errors["received_at"] = "受理时间格式不对，应为 ISO 8601，例如 2026-11-23T09:30:00+08:00。"
    if then not in ("save", "dispatch", "answer_directly"):
        raise ValidationFailed("未知的受理去向。")
    with write(db):
        idempotency_key = _scoped(actor, idempotency_key)
        repeated = _idempotent(db, idempotency_key)
        if repeated:
            return repeated
        terr = _check_refs(db, values, errors)
        if errors:
            raise ValidationFailed("请改正标出的内容。", errors=errors)
        number = _next_number(db, cfg.county.code, now)
        cur = db.conn.execute(
            "INSERT INTO tickets (number, channel, kind, urgency, state, received_at, created_at, caller_name, caller_phone,"
            " phone_norm, id_number, anonymous, confidential, address, territory_code, township_code, category_code,"
            " title, content, operator_id, updated_at) VALUES (?,?,?,?,'received',?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (number, values["channel"], values["kind"], values["urgency"], _iso(received_at.astimezone(cfg.tz)),
             _iso(now), values["caller_name"], values["caller_phone"], values["phone_norm"], values["id_number"],
             int(values["anonymous"]), int(values["confidential"]), values["address"], terr["code"],
             terr["township_code"], values["category"], values["title"], values["content"], actor.id, _iso(now)),
        )
        ticket = _load(db, number)
        ticket["state"] = None
        event_id = _event(db, ticket, actor, now, "intake", "received", details={"channel": values["channel"]})
        # repeat appeals are judged in the same transaction, so a tripped rule and its ticket commit together
        changes = repeats_svc.after_intake(db, cfg, actor, cur.lastrowid, now, links=links, detached=detached)
        out = Outcome(number, "received", event_id)
        if then != "save":
            out = _apply(db, cfg, actor, _load(db, number), then, data or {}, now, [])
        if changes:
            out.extra["key_supervision"] = [vars(c) for c in changes]
        _remember(db, idempotency_key, out, now, cur.lastrowid)
        return out


def act(
    db, cfg: Config, actor: Actor, number: str, action: str, data: dict, now: datetime, *,
    version: int | None = None, files: list[Upload] = (), idempotency_key: str | None = None,
) -> Outcome:
    """Do one action on a ticket, or raise NotFound / NotPermitted / InvalidTransition / Conflict / ValidationFailed."""
    with write(db):
        idempotency_key = _scoped(actor, idempotency_key)
        repeated = _idempotent(db, idempotency_key)
        if repeated:
            return repeated
        ticket = _load(db, number)
        if ticket is None or not can_see(db, ticket, actor):
            raise NotFound(f"工单 {number} 不存在。")
        if version is not None and int(version) != ticket["version"]:
            raise Conflict(f"工单 {number} 刚被他人更新过（现在是“{lifecycle.STATES[ticket['state']]}”），请看最新情况后再操作。")
        out = _apply(db, cfg, actor, ticket, action, data, now, list(files))
        _remember(db, idempotency_key, out, now, ticket["id"])
        return out


def _assignment(db, ticket: dict, actor: Actor) -> dict | None:
    if actor.role != "handler":
        return None
    return one(
        db, "SELECT * FROM ticket_units WHERE ticket_id = ? AND unit_code = ? AND active = 1",
        (ticket["id"], actor.unit_code),
    )


def _text(data: dict, key: str, label: str, required: bool = True, limit: int = 5000) -> str:
    value = str(data.get(key) or "").strip()
    if required and not value:
        raise ValidationFailed(f"请填写{label}。", field=key, errors={key: f"请填写{label}。"})
    if len(value) > limit:
        raise ValidationFailed(f"{label}不能超过 {limit} 个字。", field=key, errors={key: f"不能超过 {limit} 个字。"})
    return value


def _choice(data: dict, key: str, options: dict, label: str) -> str:
    value = str(data.get(key) or "").strip()
    if value not in options:
        raise ValidationFailed(f"请选择{label}。", field=key, errors={key: f"请选择{label}。"})
    return value


def _bool(data: dict, key: str, label: str) -> bool:
    value = data.get(key)
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    if text in ("1", "true", "yes", "on", "approve", "是"):
        return True
    if text in ("0", "false", "no", "off", "refuse", "否"):
        return False
    raise ValidationFailed(f"请选择{label}。", field=key, errors={key: f"请选择{label}。"})


def _save_files(db, ticket: dict, actor: Actor, stored: list, event_id: int, now: datetime) -> list[int]:
    """Attachment rows for files already checked and stored on disk, pointing at their event."""
    ids = []
    for f, filename in stored:
        cur = db.conn.execute(
            "INSERT INTO attachments (ticket_id, event_id, sha256, mime, size, label, uploaded_by, unit_code, uploaded_at)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            (ticket["id"], event_id, f.sha256, f.mime, f.size, (filename or "")[-80:], actor.id, actor.unit_code, _iso(now)),
        )
        ids.append(cur.lastrowid)
    return ids


def _update(db, ticket: dict, now: datetime, **cols) -> None:
    cols["updated_at"] = _iso(now)
    sets = ", ".join(f"{k} = ?" for k in cols)
    cur = db.conn.execute(
        f"UPDATE tickets SET {sets}, version = version + 1 WHERE id = ? AND version = ?",
        (*cols.values(), ticket["id"], ticket["version"]),
    )
    if cur.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE, kept as a guard
        raise Conflict("工单刚被他人更新过，请刷新后再操作。")


def _apply(db, cfg: Config, actor: Actor, ticket: dict, action: str, data: dict, now: datetime,
           files: list[Upload]) -> Outcome:
    outcome = None
    if action in _HANDLERS:
        lifecycle.check_role(action, actor.role)  # a role that can never act is told so before its input is read
    if action == "decide_extension" or action == "decide_return":
        outcome = "approve" if _bool(data, "approve", "同意或不同意") else "refuse"
    elif action == "callback":
        outcome = _choice(data, "outcome", {"close": "办结", "reopen": "重办"}, "回访后的处理（办结或重办）")
    step = lifecycle.step(ticket["state"], action, actor.role, outcome)
    handler = _HANDLERS[action]
    if files and action not in ("reply", "note", "contact", "co_reply"):
        raise ValidationFailed("这个操作不能带附件。")
    cols, note, details = handler(db, cfg, actor, ticket, data, now, step)
    to_state = cols.pop("state", step.to_state)  # a handler may keep the state (a co-unit's sign or return)
    if to_state != ticket["state"]:
        cols["state"] = to_state
    stored = [(attachments_svc.save(cfg.data_path, f.data, cfg.limits.attachment_max_mb,
                                    cfg.limits.keep_photo_location), f.filename) for f in files]
    if stored:
        details["files"] = len(stored)
    _update(db, ticket, now, **cols)
    event_id = _event(db, ticket, actor, now, action, to_state, note, details)
    repeats_svc.after_action(db, cfg, actor, ticket, action, to_state, details, now)
    if stored:
        details["attachments"] = _save_files(db, ticket, actor, stored, event_id, now)
    return Outcome(ticket["number"], to_state, event_id, extra=details)


# ---- one function per action: returns (ticket columns to set, event note, event details) ----


def _answer_directly(db, cfg, actor, ticket, data, now, step):
    answer = _text(data, "answer", "答复内容")
    return {"answer": answer, "closed_at": _iso(now)}, answer, {}


def _unit_exists(db, code: str, key: str) -> str:
    code = (code or "").strip().upper()
    if not code or not scalar(db, "SELECT 1 FROM units WHERE code = ? AND active = 1", (code,)):
        raise ValidationFailed(f"单位 {code or '（空）'} 不存在。", field=key, errors={key: f"单位 {code or '（空）'} 不存在。"})
    return code


def _dispatch(db, cfg, actor, ticket, data, now, step):
    lead = _unit_exists(db, data.get("lead_unit"), "lead_unit")
    co_raw = data.get("co_units") or []
    if isinstance(co_raw, str):
        co_raw = [c for c in co_raw.replace("，", ",").replace(";", ",").split(",")]
    co = []
    for c in co_raw:
        c = (c or "").strip().upper()
        if c and c != lead and c not in co:
            co.append(_unit_exists(db, c, "co_units"))
    urgency = (data.get("urgency") or ticket["urgency"]).strip()
    if urgency not in URGENCY_LABELS:
        raise ValidationFailed("请选择紧急程度。", field="urgency", errors={"urgency": "请选择紧急程度。"})
    cal = calendar_svc.load(db)
    dl = dispatch_deadlines(cal, _rule(cfg, urgency), now, cfg.tz)
    db.conn.execute("UPDATE ticket_units SET active = 0 WHERE ticket_id = ?", (ticket["id"],))
    for code, role in [(lead, "lead")] + [(c, "co") for c in co]:
        db.conn.execute(
            "INSERT INTO ticket_units (ticket_id, unit_code, role, active, assigned_at) VALUES (?,?,?,1,?) "
            "ON CONFLICT(ticket_id, unit_code) DO UPDATE SET role = excluded.role, active = 1, "
            "assigned_at = excluded.assigned_at, signed_at = NULL, part = '', part_at = NULL",
            (ticket["id"], code, role, _iso(now)),
        )
    note = _text(data, "note", "派单意见", required=False, limit=1000)
    details = {"lead_unit": lead, "co_units": co, "urgency": urgency, "sign_deadline": _iso(dl.sign_deadline),
               "due_at": _iso(dl.due_at)}
    if cal.gaps:
        details["calendar_gap"] = sorted(cal.gaps)
    cols = {"lead_unit": lead, "urgency": urgency, "dispatched_at": _iso(now), "sign_deadline": _iso(dl.sign_deadline),
            "due_at": _iso(dl.due_at), "signed_at": None, "first_contact_at": None, "replied_at": None, "reply": ""}
    return cols, note, details


def _sign(db, cfg, actor, ticket, data, now, step):
    a = _assignment(db, ticket, actor)
    if a is None:
        raise NotPermitted("本单位不是这张工单的承办单位。")
    if a["signed_at"]:
        raise InvalidTransition("本单位已经签收过这张工单。")
    if a["role"] == "lead" and ticket["state"] != "dispatched":
        raise InvalidTransition("牵头单位已经签收过这张工单。")
    db.conn.execute(
        "UPDATE ticket_units SET signed_at = ? WHERE ticket_id = ? AND unit_code = ?", (_iso(now), ticket["id"], actor.unit_code)
    )
    cols = {}
    if a["role"] == "lead":
        cols["signed_at"] = _iso(now)
    else:
        cols["state"] = ticket["state"]  # a co-unit signs for its part; the ticket waits for the lead
    late = bool(ticket["sign_deadline"] and now > _dt(ticket["sign_deadline"]))
    return cols, "", {"unit_role": a["role"], "late": late}


def _contact(db, cfg, actor, ticket, data, now, step):
    if _assignment(db, ticket, actor) is None:
        raise NotPermitted("本单位不是这张工单的承办单位。")
    method = _choice(data, "method", CONTACT_METHODS, "联系方式")
    when = now
    if data.get("contacted_at"):
        try:
            when = datetime.fromisoformat(str(data["contacted_at"]))
            when = when.replace(tzinfo=cfg.tz) if when.tzinfo is None else when
        except ValueError:
            raise ValidationFailed("联系时间格式不对。", field="contacted_at", errors={"contacted_at": "联系时间格式不对。"}) from None
        if when > now + timedelta(minutes=5) or (ticket["dispatched_at"] and when < _dt(ticket["dispatched_at"])):
            raise ValidationFailed("联系时间应在派单之后、现在之前。", field="contacted_at",
                                   errors={"contacted_at": "联系时间应在派单之后、现在之前。"})
    note = _text(data, "note", "联系情况", required=False, limit=1000)
    cols = {}
    if not ticket["first_contact_at"]:
        cols["first_contact_at"] = _iso(when)
    return cols, note, {"method": method, "contacted_at": _iso(when)}


def _note(db, cfg, actor, ticket, data, now, step):
    if actor.role == "handler" and _assignment(db, ticket, actor) is None:
        raise NotPermitted("本单位不是这张工单的承办单位。")
    return {}, _text(data, "note", "办理记录", limit=2000), {}


def _co_reply(db, cfg, actor, ticket, data, now, step):
    a = _assignment(db, ticket, actor)
    if a is None or a["role"] != "co":
        raise NotPermitted("只有协办单位提交协办意见；牵头单位请直接答复。")
    part = _text(data, "part", "协办意见", limit=3000)
    db.conn.execute(
        "UPDATE ticket_units SET part = ?, part_at = ? WHERE ticket_id = ? AND unit_code = ?",
        (part, _iso(now), ticket["id"], actor.unit_code),
    )
    return {}, part, {}


def _reply(db, cfg, actor, ticket, data, now, step):
    a = _assignment(db, ticket, actor)
    if a is None or a["role"] != "lead":
        raise NotPermitted("只有牵头单位可以答复；协办单位请提交协办意见。")
    result = _text(data, "result", "办理结果", limit=5000)
    if scalar(db, "SELECT 1 FROM requests WHERE ticket_id = ? AND status = 'pending'", (ticket["id"],)):
        raise InvalidTransition("还有延期或退单申请等待中心审核，审核后才能答复。")
    late = bool(ticket["due_at"] and now > _dt(ticket["due_at"]))
    return {"reply": result, "replied_at": _iso(now)}, result, {"late": late}


def _request_extension(db, cfg, actor, ticket, data, now, step):
    a = _assignment(db, ticket, actor)
    if a is None or a["role"] != "lead":
        raise NotPermitted("只有牵头单位可以申请延期。")
    try:
        days = int(data.get("workdays") or 0)
    except (TypeError, ValueError):
        days = 0
    if days < 1:
        raise ValidationFailed("请填写延期的工作日数。", field="workdays", errors={"workdays": "请填写延期的工作日数（至少 1 天）。"})
    reason = _text(data, "reason", "延期理由", limit=1000)
    if ticket["extension_count"] >= cfg.limits.extension_max_count:
        raise InvalidTransition(f"每张工单最多延期 {cfg.limits.extension_max_count} 次，本单已用完。")
    if scalar(db, "SELECT 1 FROM requests WHERE ticket_id = ? AND status = 'pending'", (ticket["id"],)):
        raise InvalidTransition("已有申请在等待中心审核。")
    due = _dt(ticket["due_at"])
    if due is None or now > due:
        raise InvalidTransition("延期须在办理期限届满前申请，本单已超期。")
    cal = calendar_svc.load(db)
    local_dispatch = _dt(ticket["dispatched_at"]).astimezone(cfg.tz).date()
    used = cal.workdays_between(local_dispatch, due.astimezone(cfg.tz).date())
    limit = cfg.limits.extension_total_workdays
    if used + days > limit:
        msg = f"自派单起办理总期限不能超过 {limit} 个工作日：已用 {used} 个，最多还能延期 {max(limit - used, 0)} 个工作日。"
        raise ValidationFailed(msg, field="workdays", errors={"workdays": msg})
    new_due = end_of_workday(cal, due, days, cfg.tz)
    db.conn.execute(
        "INSERT INTO requests (ticket_id, kind, unit_code, requested_by, requested_at, workdays, reason, new_due_at)"
        " VALUES (?, 'extension', ?, ?, ?, ?, ?, ?)",
        (ticket["id"], actor.unit_code, actor.id, _iso(now), days, reason, _iso(new_due)),
    )
    return {}, reason, {"workdays": days, "new_due_at": _iso(new_due)}


def _pending(db, ticket: dict, kind: str) -> dict:
    req = one(
        db, "SELECT * FROM requests WHERE ticket_id = ? AND kind = ? AND status = 'pending' ORDER BY id DESC LIMIT 1",
        (ticket["id"], kind),
    )
    if req is None:
        raise InvalidTransition("这张工单没有等待审核的" + ("延期" if kind == "extension" else "退单") + "申请。")
    return req


def _decide(db, actor, req: dict, approve: bool, note: str, now: datetime) -> None:
    db.conn.execute(
        "UPDATE requests SET status = ?, decided_by = ?, decided_at = ?, decision_note = ? WHERE id = ?",
        ("approved" if approve else "refused", actor.id, _iso(now), note, req["id"]),
    )


def _decide_extension(db, cfg, actor, ticket, data, now, step):
    req = _pending(db, ticket, "extension")
    approve = step.outcome == "approve"
    note = _text(data, "reason", "审核意见", required=not approve, limit=1000)
    _decide(db, actor, req, approve, note, now)
    cols = {}
    if approve:
        cols = {"due_at": req["new_due_at"], "extension_count": ticket["extension_count"] + 1}
    return cols, note, {"approve": approve, "workdays": req["workdays"], "new_due_at": req["new_due_at"] if approve else None}


def _request_return(db, cfg, actor, ticket, data, now, step):
    a = _assignment(db, ticket, actor)
    if a is None:
        raise NotPermitted("本单位不是这张工单的承办单位。")
    code = _choice(data, "reason_code", RETURN_REASONS, "退单原因")
    reason = _text(data, "reason", "退单说明", limit=1000)
    if scalar(db, "SELECT 1 FROM requests WHERE ticket_id = ? AND status = 'pending'", (ticket["id"],)):
        raise InvalidTransition("已有申请在等待中心审核。")
    window = cfg.limits.return_window_workdays
    cal = calendar_svc.load(db)
    limit = end_of_workday(cal, _dt(a["assigned_at"]), window, cfg.tz)
    if now > limit:
        raise InvalidTransition(f"退单须在派单后 {window} 个工作日内申请（截至 {limit:%m月%d日 %H:%M}），已超过。")
    db.conn.execute(
        "INSERT INTO requests (ticket_id, kind, unit_code, requested_by, requested_at, reason_code, reason)"
        " VALUES (?, 'return', ?, ?, ?, ?, ?)",
        (ticket["id"], actor.unit_code, actor.id, _iso(now), code, reason),
    )
    return {}, reason, {"reason_code": code, "reason_label": RETURN_REASONS[code], "unit_role": a["role"]}


def _decide_return(db, cfg, actor, ticket, data, now, step):
    req = _pending(db, ticket, "return")
    approve = step.outcome == "approve"
    note = _text(data, "reason", "审核意见", required=not approve, limit=1000)
    _decide(db, actor, req, approve, note, now)
    role = scalar(db, "SELECT role FROM ticket_units WHERE ticket_id = ? AND unit_code = ?", (ticket["id"], req["unit_code"]))
    cols: dict = {}
    details = {"approve": approve, "unit_code": req["unit_code"]}
    if approve and role == "co":
        # a co-unit leaves; the lead keeps working and the ticket stays where it is
        db.conn.execute("UPDATE ticket_units SET active = 0 WHERE ticket_id = ? AND unit_code = ?",
                        (ticket["id"], req["unit_code"]))
        cols["state"] = ticket["state"]
        details["co_unit_removed"] = True
    elif approve:
        db.conn.execute("UPDATE ticket_units SET active = 0 WHERE ticket_id = ?", (ticket["id"],))
        cols.update(lead_unit=None, return_count=ticket["return_count"] + 1, sign_deadline=None, due_at=None,
                    signed_at=None, dispatched_at=None)
    return cols, note, details


def _fresh_due(db, cfg, now: datetime) -> datetime:
    """The deadline of rework (send-back or reopen): a fresh period counted from now."""
    return end_of_workday(calendar_svc.load(db), now, cfg.limits.reopen_workdays, cfg.tz)


def _send_back(db, cfg, actor, ticket, data, now, step):
    note = _text(data, "reason", "退回理由", limit=1000)
    due = _iso(_fresh_due(db, cfg, now))
    return {"sent_back_count": ticket["sent_back_count"] + 1, "replied_at": None, "due_at": due}, note, {"due_at": due}


def _escalate(db, cfg, actor, ticket, data, now, step):
    return {}, _text(data, "reason", "上报理由", limit=1000), {}


def _reject(db, cfg, actor, ticket, data, now, step):
    code = _choice(data, "reason_code", REJECT_REASONS, "不予受理的原因")
    note = _text(data, "reason", "说明", required=code == "other", limit=1000)
    return {"closed_at": _iso(now)}, note, {"reason_code": code, "reason_label": REJECT_REASONS[code]}


def _transfer(db, cfg, actor, ticket, data, now, step):
    target = _choice(data, "target", TRANSFER_TARGETS, "移送去向")
    note = _text(data, "note", "移送说明", limit=1000)
    return {"closed_at": _iso(now)}, note, {"target": target, "target_label": TRANSFER_TARGETS[target]}


def _callback(db, cfg, actor, ticket, data, now, step):
    resolved = _bool(data, "resolved", "是否解决")
    satisfaction = _choice(data, "satisfaction", SATISFACTION, "满意度")
    note = _text(data, "note", "回访记录", required=False, limit=1000)
    cols = {"resolved": int(resolved), "satisfaction": satisfaction}
    details = {"resolved": resolved, "satisfaction": satisfaction, "outcome": step.outcome}
    if step.outcome == "close":
        cols["closed_at"] = _iso(now)
    else:
        due = _fresh_due(db, cfg, now)
        cols.update(due_at=_iso(due), reopen_count=ticket["reopen_count"] + 1, replied_at=None)
        details["due_at"] = _iso(due)
    return cols, note, details


def _update_fields(db, cfg, actor, ticket, data, now, step):
    """Correct the work-order fields of an open ticket (phone, territory, category, content …)."""
    merged = {k: ticket[k] for k in ("channel", "kind", "urgency", "caller_name", "caller_phone", "id_number",
                                     "address", "title", "content", "anonymous", "confidential")}
    merged.update(territory=ticket["territory_code"], category=ticket["category_code"])
    merged.update({k: v for k, v in data.items() if v is not None})
    values, errors = validate_intake(merged)
    terr = _check_refs(db, values, errors)
    if errors:
        raise ValidationFailed("请改正标出的内容。", errors=errors)
    cols = {k: values[k] for k in ("channel", "kind", "urgency", "caller_name", "caller_phone", "phone_norm", "id_number",
                                   "address", "title", "content")}
    cols.update(anonymous=int(values["anonymous"]), confidential=int(values["confidential"]),
                territory_code=terr["code"], township_code=terr["township_code"], category_code=values["category"])
    changed = {k: [ticket[k], v] for k, v in cols.items() if ticket[k] != v}
    if not changed:
        raise ValidationFailed("没有修改任何内容。")
    return cols, _text(data, "reason", "修改原因", required=False, limit=500), {"changed": changed}


_HANDLERS = {
    "answer_directly": _answer_directly,
    "dispatch": _dispatch,
    "sign": _sign,
    "contact": _contact,
    "note": _note,
    "co_reply": _co_reply,
    "reply": _reply,
    "request_extension": _request_extension,
    "decide_extension": _decide_extension,
    "request_return": _request_return,
    "decide_return": _decide_return,
    "send_back": _send_back,
    "escalate": _escalate,
    "reject": _reject,
    "transfer": _transfer,
    "callback": _callback,
    "update": _update_fields,
}
