"""Tickets and their parts as API JSON; timestamps are passed through exactly as stored (ISO 8601 with offset)."""
from __future__ import annotations

from ..domain.lifecycle import ACTIONS, STATES

SUMMARY_FIELDS = ("number", "state", "channel", "kind", "urgency", "received_at", "caller_name", "caller_phone",
                  "title", "dispatched_at", "sign_deadline", "due_at", "replied_at", "version")
TICKET_FIELDS = ("number", "state", "channel", "kind", "urgency", "received_at", "created_at", "updated_at",
                 "caller_name", "caller_phone", "id_number", "address", "title", "content", "dispatched_at",
                 "sign_deadline", "signed_at", "first_contact_at", "due_at", "replied_at", "closed_at", "answer",
                 "reply", "satisfaction", "extension_count", "return_count", "reopen_count", "sent_back_count",
                 "version")


def _flag(value) -> bool | None:
    return None if value is None else bool(value)


def _unit(u: dict) -> dict:
    return {"code": u["unit_code"], "name": u["unit_name"], "assigned_at": u["assigned_at"],
            "signed_at": u["signed_at"], "part": u["part"], "part_at": u["part_at"]}


def _request(r: dict) -> dict:
    return {"id": r["id"], "kind": r["kind"], "unit_code": r["unit_code"], "requested_at": r["requested_at"],
            "workdays": r["workdays"], "reason_code": r["reason_code"] or None, "reason": r["reason"],
            "new_due_at": r["new_due_at"], "status": r["status"]}


def _event(e: dict) -> dict:
    return {"id": e["id"], "at": e["at"], "actor_name": e["actor_name"], "role": e["role"], "unit_code": e["unit_code"],
            "action": e["action"], "action_label": ACTIONS.get(e["action"], e["action"]), "from_state": e["from_state"],
            "to_state": e["to_state"], "note": e["note"], "details": e["details"]}


def _attachment(a: dict) -> dict:
    return {"id": a["id"], "event_id": a["event_id"], "mime": a["mime"], "size": a["size"], "label": a["label"],
            "unit_code": a["unit_code"], "uploaded_at": a["uploaded_at"]}


def ticket(t: dict) -> dict:
    """A ticket from services.tickets.get() with units, pending requests, attachments and the timeline."""
    out = {k: t[k] for k in TICKET_FIELDS}
    active = [u for u in t["units"] if u["active"]]
    lead = next((u for u in active if u["role"] == "lead"), None)
    terr, cat = t["territory"] or {}, t["category"] or {}
    out.update(
        state_label=STATES[t["state"]],
        anonymous=bool(t["anonymous"]),
        confidential=bool(t["confidential"]),
        resolved=_flag(t["resolved"]),
        territory={"code": t["territory_code"], "name": terr.get("name"), "township_code": t["township_code"],
                   "township": terr.get("township") or terr.get("name")},
        category={"code": t["category_code"], "name": cat.get("name"), "major": cat.get("major")},
        lead_unit=_unit(lead) if lead else None,
        co_units=[_unit(u) for u in active if u["role"] == "co"],
        pending_requests=[_request(r) for r in t["pending"]],
        attachments=[_attachment(a) for a in t["attachments"]],
        flags=t["supervision"]["flags"],
        key_supervision=t["supervision"]["key_supervision"],
        events=[_event(e) for e in t["events"]],
    )
    return out


def summary(row: dict) -> dict:
    """One row of a ticket list (services.lists)."""
    out = {k: row[k] for k in SUMMARY_FIELDS}
    out.update(
        state_label=STATES[row["state"]],
        anonymous=bool(row["anonymous"]),
        confidential=bool(row["confidential"]),
        lead_unit={"code": row["lead_unit"], "name": row["lead_name"]} if row["lead_unit"] else None,
        territory={"code": row["territory_code"], "name": row["territory_name"]},
        category={"code": row["category_code"], "name": row["category_name"]},
    )
    return out
