"""API bearer tokens: created once in plain text, stored only as a SHA-256 hash, revocable, audited."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from ..domain.errors import NotFound, ValidationFailed
from ..domain.roles import ROLES, Actor
from ..store import all_rows, one, write
from ..store import iso as _iso
from . import audit

NAME_LIMIT = 60
# last_used_at is a hint for the admin, not a log: writing it on every request would make each GET a write
TOUCH_EVERY = timedelta(minutes=1)


def _hash(plain: str) -> str:
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def create(db, actor: Actor, name: str, role: str, unit_code: str | None, now: datetime) -> tuple[int, str]:
    """Create a token; return (id, plain token). The plain token is never stored and cannot be shown again."""
    name = (name or "").strip()
    unit_code = (unit_code or "").strip().upper() or None
    errors = {}
    if not name or len(name) > NAME_LIMIT:
        errors["name"] = f"请填写令牌名称（不超过 {NAME_LIMIT} 个字），例如“微信公众号”。"
    if role not in ROLES:
        errors["role"] = "请选择角色。"
    elif role == "handler":
        if not unit_code:
            errors["unit_code"] = "承办单位经办人令牌必须指定单位。"
        elif not one(db, "SELECT code FROM units WHERE code = ? AND active = 1", (unit_code,)):
            errors["unit_code"] = f"单位 {unit_code} 不存在或已停用。"
    elif unit_code:
        errors["unit_code"] = "只有承办单位经办人令牌才属于某个单位，其他角色不填单位。"
    if errors:
        raise ValidationFailed("请改正标出的内容。", errors=errors)
    plain = secrets.token_urlsafe(32)
    with write(db):
        cur = db.conn.execute(
            "INSERT INTO api_tokens (name, role, unit_code, token_hash, created_at) VALUES (?,?,?,?,?)",
            (name, role, unit_code, _hash(plain), _iso(now)),
        )
        audit.record(db, actor, "token.create", name, {"id": cur.lastrowid, "role": role, "unit_code": unit_code}, now)
    return cur.lastrowid, plain


def list_tokens(db) -> list[dict]:
    """Every token (never its hash), newest first, with the unit's name."""
    return all_rows(
        db,
        "SELECT t.id, t.name, t.role, t.unit_code, u.name AS unit_name, t.created_at, t.revoked_at, t.last_used_at "
        "FROM api_tokens t LEFT JOIN units u ON u.code = t.unit_code ORDER BY t.id DESC",
    )


def revoke(db, actor: Actor, token_id: int, now: datetime) -> dict:
    """Revoke a token at once; raise NotFound, or ValidationFailed when it was already revoked."""
    with write(db):
        row = one(db, "SELECT id, name, role, unit_code, revoked_at FROM api_tokens WHERE id = ?", (token_id,))
        if row is None:
            raise NotFound(f"令牌 #{token_id} 不存在。")
        if row["revoked_at"]:
            raise ValidationFailed(f"令牌 #{token_id}（{row['name']}）已于 {row['revoked_at'][:16].replace('T', ' ')} 撤销。")
        db.conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (_iso(now), token_id))
        audit.record(db, actor, "token.revoke", row["name"], {"id": token_id, "role": row["role"]}, now)
    row["revoked_at"] = _iso(now)
    return row


def authenticate(db, plain: str, now: datetime) -> dict | None:
    """The live token row for a plain token, or None (unknown or revoked); notes the use at most once a minute."""
    if not plain:
        return None
    row = one(
        db, "SELECT id, name, role, unit_code, created_at, revoked_at, last_used_at FROM api_tokens WHERE token_hash = ?",
        (_hash(plain),),
    )
    if row is None or row["revoked_at"]:
        return None
    if not row["last_used_at"] or datetime.fromisoformat(row["last_used_at"]) <= now - TOUCH_EVERY:
        with write(db):
            db.conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (_iso(now), row["id"]))
        row["last_used_at"] = _iso(now)
    return row


def actor_for(row: dict) -> Actor:
    """The Actor a token acts as: its role and unit, named after the token."""
    return Actor(None, row["name"], row["role"], row["unit_code"], "token")
