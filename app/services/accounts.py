"""User accounts: creation, login with lockout, password changes, and admin edits (all audited)."""
from __future__ import annotations

from datetime import datetime, timedelta

from werkzeug.security import check_password_hash, generate_password_hash

from ..domain.errors import NotFound, ValidationFailed
from ..domain.roles import ROLES, Actor
from ..store import all_rows, one, write
from . import audit

MIN_PASSWORD = 8


class LoginRefused(Exception):
    """Login failed; `message` is shown to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _hash(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


_DUMMY_HASH = _hash("x-not-a-user-x")


def check_password_strength(password: str) -> None:
    """At least 8 characters mixing letters and digits."""
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"密码至少 {MIN_PASSWORD} 位。", field="password")
    if password.isdigit() or password.isalpha():
        raise ValidationFailed("密码需同时包含字母和数字。", field="password")


def _check_fields(db, username: str, role: str, unit_code: str | None) -> dict:
    errors = {}
    if not username or len(username) > 40 or any(c.isspace() for c in username):
        errors["username"] = "用户名不能为空、不能含空格、不超过 40 个字符。"
    if role not in ROLES:
        errors["role"] = "请选择角色。"
    if role == "handler" and not unit_code:
        errors["unit_code"] = "承办单位经办人必须属于一个单位。"
    if unit_code and not one(db, "SELECT code FROM units WHERE code = ?", (unit_code,)):
        errors["unit_code"] = f"单位代码 {unit_code} 不存在。"
    return errors


def create_user(
    db, actor: Actor, now: datetime, *, username: str, password: str, role: str,
    unit_code: str | None = None, display_name: str = "", phone: str = "", must_change: bool = True,
) -> int:
    """Create an account; a handler needs a unit, other roles have none."""
    username = username.strip()
    unit_code = (unit_code or "").strip() or None
    if role != "handler":
        unit_code = None
    errors = _check_fields(db, username, role, unit_code)
    try:
        check_password_strength(password)
    except ValidationFailed as exc:
        errors["password"] = exc.message
    if one(db, "SELECT id FROM users WHERE username = ?", (username,)):
        errors["username"] = f"用户名 {username} 已被使用。"
    if errors:
        raise ValidationFailed("请改正标出的内容。", errors=errors)
    with write(db):
        cur = db.conn.execute(
            "INSERT INTO users (username, display_name, role, unit_code, phone, password_hash, must_change, created_at)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (username, display_name.strip() or username, role, unit_code, phone.strip(), _hash(password),
             int(must_change), now.isoformat(timespec="seconds")),
        )
        audit.record(db, actor, "user.create", username, {"role": role, "unit_code": unit_code}, now)
        return cur.lastrowid


def get(db, user_id: int) -> dict | None:
    """One user row by id."""
    return one(db, "SELECT * FROM users WHERE id = ?", (user_id,))


def list_users(db) -> list[dict]:
    """All users with their unit's name."""
    return all_rows(
        db,
        "SELECT u.*, n.name AS unit_name FROM users u LEFT JOIN units n ON n.code = u.unit_code ORDER BY u.role, u.username",
    )


def authenticate(db, username: str, password: str, now: datetime, attempts: int, lock_minutes: int) -> dict:
    """Check a login; count failures and lock the account after `attempts` in a row."""
    refused = None
    with write(db):  # the failure count must be committed even though the login is refused
        user = one(db, "SELECT * FROM users WHERE username = ?", (username.strip(),))
        if user is None:
            # Same work as a real check so timing does not reveal which names exist.
            check_password_hash(_DUMMY_HASH, password)
            refused = "用户名或密码不正确。"
        elif user["disabled"]:
            refused = "该账号已停用，请联系管理员。"
        elif user["locked_until"] and datetime.fromisoformat(user["locked_until"]) > now:
            until = datetime.fromisoformat(user["locked_until"]).astimezone(now.tzinfo)
            refused = f"密码连续输错 {attempts} 次，账号已锁定，请在 {until:%H:%M} 后再试，或联系管理员解锁。"
        elif not check_password_hash(user["password_hash"], password):
            failed = user["failed_logins"] + 1
            if failed >= attempts:
                until = now + timedelta(minutes=lock_minutes)
                db.conn.execute(
                    "UPDATE users SET failed_logins = 0, locked_until = ? WHERE id = ?",
                    (until.isoformat(timespec="seconds"), user["id"]),
                )
                refused = f"密码连续输错 {attempts} 次，账号已锁定 {lock_minutes} 分钟。"
            else:
                db.conn.execute("UPDATE users SET failed_logins = ? WHERE id = ?", (failed, user["id"]))
                refused = f"用户名或密码不正确（再错 {attempts - failed} 次将锁定账号）。"
        else:
            db.conn.execute(
                "UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = ? WHERE id = ?",
                (now.isoformat(timespec="seconds"), user["id"]),
            )
    if refused:
        raise LoginRefused(refused)
    return one(db, "SELECT * FROM users WHERE id = ?", (user["id"],))


def change_own_password(db, user_id: int, old: str, new: str, now: datetime) -> None:
    """A user replaces their password (forced at first login)."""
    user = get(db, user_id)
    if user is None:
        raise NotFound("用户不存在。")
    if not check_password_hash(user["password_hash"], old):
        raise ValidationFailed("原密码不正确。", errors={"old": "原密码不正确。"})
    if old == new:
        raise ValidationFailed("新密码不能与原密码相同。", errors={"new": "新密码不能与原密码相同。"})
    try:
        check_password_strength(new)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, errors={"new": exc.message}) from None
    with write(db):
        db.conn.execute(
            "UPDATE users SET password_hash = ?, must_change = 0 WHERE id = ?", (_hash(new), user_id)
        )
        actor = Actor(user["id"], user["username"], user["role"], user["unit_code"])
        audit.record(db, actor, "user.change_password", user["username"], {}, now)


def update_user(
    db, actor: Actor, user_id: int, now: datetime, *, role: str, unit_code: str | None,
    display_name: str, phone: str, disabled: bool,
) -> None:
    """Admin edit of role, unit, name, phone and the disabled flag."""
    user = get(db, user_id)
    if user is None:
        raise NotFound("用户不存在。")
    unit_code = (unit_code or "").strip() or None
    if role != "handler":
        unit_code = None
    errors = _check_fields(db, user["username"], role, unit_code)
    if user_id == actor.id and (disabled or role != "admin"):
        errors["role"] = "不能停用自己或取消自己的管理员角色。"
    if errors:
        raise ValidationFailed("请改正标出的内容。", errors=errors)
    changes = {}
    new = {"role": role, "unit_code": unit_code, "display_name": display_name.strip() or user["username"],
           "phone": phone.strip(), "disabled": int(disabled)}
    for key, value in new.items():
        if user[key] != value:
            changes[key] = [user[key], value]
    if not changes:
        return
    with write(db):
        db.conn.execute(
            "UPDATE users SET role=?, unit_code=?, display_name=?, phone=?, disabled=? WHERE id=?",
            (*new.values(), user_id),
        )
        audit.record(db, actor, "user.update", user["username"], changes, now)


def reset_password(db, actor: Actor, user_id: int, password: str, now: datetime) -> None:
    """Admin sets a temporary password; the user must change it at next login; unlocks the account."""
    user = get(db, user_id)
    if user is None:
        raise NotFound("用户不存在。")
    try:
        check_password_strength(password)
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, errors={"password": exc.message}) from None
    with write(db):
        db.conn.execute(
            "UPDATE users SET password_hash=?, must_change=1, failed_logins=0, locked_until=NULL WHERE id=?",
            (_hash(password), user_id),
        )
        audit.record(db, actor, "user.reset_password", user["username"], {}, now)
