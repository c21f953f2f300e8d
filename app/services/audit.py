"""The admin audit log: who changed what, when. Rows are only ever appended."""
from __future__ import annotations

import json
from datetime import datetime

from ..domain.roles import Actor
from ..store import all_rows


def record(db, actor: Actor, action: str, target: str, details: dict, now: datetime) -> None:
    """Append one audit row (inside the caller's transaction)."""
    db.conn.execute(
        "INSERT INTO audit_log (at, actor_id, actor_name, action, target, details) VALUES (?,?,?,?,?,?)",
        (now.isoformat(timespec="seconds"), actor.id, actor.name, action, target, json.dumps(details, ensure_ascii=False)),
    )


def recent(db, limit: int = 200, offset: int = 0) -> list[dict]:
    """The newest audit rows first."""
    return all_rows(db, "SELECT * FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
