"""Login with lockout, forced and own password changes, disabled accounts, session cookie, CSRF, audit rows."""
import json
from datetime import timedelta

import pytest
from conftest import PASSWORD, at, page

from app import create_app
from app.domain.errors import ValidationFailed
from app.domain.roles import SYSTEM, Actor
from app.services import accounts
from app.services.demo import ACCOUNTS
from app.store import one, scalar

NEW_PASSWORD = "Fresh2026pw"
pytestmark = pytest.mark.usefixtures("fast_hashes")
REAL_HASH = accounts._hash


def _auth(db, username, password, when, attempts=5, minutes=15):
    return accounts.authenticate(db, username, password, when, attempts, minutes)


def _user_id(db, username):
    return scalar(db, "SELECT id FROM users WHERE username = ?", (username,))


def _alert(resp) -> str:
    alerts = page(resp).xpath('//section[@id="login"]//*[@role="alert"]')
    return alerts[0].text_content() if alerts else ""


# ---- the service, with time injected ---------------------------------------------------------


@pytest.mark.parametrize("username,role,unit", ACCOUNTS)
def test_demo_accounts_authenticate(db, username, role, unit):
    row = _auth(db, username, PASSWORD, at("2026-03-02 09:00"))
    assert (row["username"], row["role"], row["unit_code"]) == (username, role, unit)
    assert row["last_login_at"] == "2026-03-02T09:00:00+08:00"


def test_username_is_case_insensitive_and_trimmed(db):
    assert _auth(db, "  Operator ", PASSWORD, at("2026-03-02 09:00"))["username"] == "operator"


@pytest.mark.parametrize("username,password", [("operator", "wrong-1"), ("nobody", PASSWORD), ("", "")])
def test_wrong_credentials_are_refused(db, username, password):
    with pytest.raises(accounts.LoginRefused) as exc:
        _auth(db, username, password, at("2026-03-02 09:00"))
    assert "用户名或密码不正确" in exc.value.message


def test_five_failures_lock_for_fifteen_minutes(db):
    t0 = at("2026-03-02 09:00")
    for i in range(1, 5):
        with pytest.raises(accounts.LoginRefused) as exc:
            _auth(db, "operator", "wrong-pass1", t0 + timedelta(seconds=i))
        assert f"再错 {5 - i} 次将锁定账号" in exc.value.message
    with pytest.raises(accounts.LoginRefused) as exc:
        _auth(db, "operator", "wrong-pass1", t0 + timedelta(seconds=5))
    assert "账号已锁定 15 分钟" in exc.value.message
    locked_until = one(db, "SELECT locked_until FROM users WHERE username = 'operator'")["locked_until"]
    assert locked_until == "2026-03-02T09:15:05+08:00"
    # even the right password is refused while locked
    for when in (t0 + timedelta(minutes=1), t0 + timedelta(minutes=15, seconds=4)):
        with pytest.raises(accounts.LoginRefused) as exc:
            _auth(db, "operator", PASSWORD, when)
        assert "已锁定" in exc.value.message and "09:15" in exc.value.message
    row = _auth(db, "operator", PASSWORD, t0 + timedelta(minutes=15, seconds=5))
    assert row["locked_until"] is None and row["failed_logins"] == 0


def test_success_resets_the_failure_count(db):
    t0 = at("2026-03-02 09:00")
    for _ in range(4):
        with pytest.raises(accounts.LoginRefused):
            _auth(db, "operator", "wrong-pass1", t0)
    _auth(db, "operator", PASSWORD, t0)
    for _ in range(4):
        with pytest.raises(accounts.LoginRefused) as exc:
            _auth(db, "operator", "wrong-pass1", t0)
        assert "锁定 15 分钟" not in exc.value.message
    assert _auth(db, "operator", PASSWORD, t0)["failed_logins"] == 0


def test_lockout_settings_are_used(db):
    t0 = at("2026-03-02 09:00")
    for _ in range(2):
        with pytest.raises(accounts.LoginRefused):
            _auth(db, "center", "wrong-pass1", t0, attempts=3, minutes=60)
    with pytest.raises(accounts.LoginRefused) as exc:
        _auth(db, "center", "wrong-pass1", t0, attempts=3, minutes=60)
    assert "连续输错 3 次" in exc.value.message and "60 分钟" in exc.value.message
    with pytest.raises(accounts.LoginRefused):
        _auth(db, "center", PASSWORD, t0 + timedelta(minutes=59), attempts=3, minutes=60)
    assert _auth(db, "center", PASSWORD, t0 + timedelta(minutes=60), attempts=3, minutes=60)


def test_reset_password_unlocks_and_forces_change(db):
    t0 = at("2026-03-02 09:00")
    for _ in range(5):
        with pytest.raises(accounts.LoginRefused):
            _auth(db, "operator", "wrong-pass1", t0)
    uid = _user_id(db, "operator")
    accounts.reset_password(db, SYSTEM, uid, "Temp2026x", t0 + timedelta(minutes=1))
    row = _auth(db, "operator", "Temp2026x", t0 + timedelta(minutes=2))
    assert row["must_change"] == 1 and row["locked_until"] is None
    with pytest.raises(accounts.LoginRefused):
        _auth(db, "operator", PASSWORD, t0 + timedelta(minutes=2))


@pytest.mark.parametrize("password,why", [("short1", "至少 8 位"), ("12345678", "字母和数字"), ("abcdefgh", "字母和数字")])
def test_weak_passwords_are_refused(db, password, why):
    with pytest.raises(ValidationFailed) as exc:
        accounts.reset_password(db, SYSTEM, _user_id(db, "operator"), password, at("2026-03-02 09:00"))
    assert why in exc.value.errors["password"]
    assert _auth(db, "operator", PASSWORD, at("2026-03-02 09:00"))


def test_disabled_account_cannot_log_in(db):
    uid = _user_id(db, "operator")
    admin = _user_id(db, "admin")
    actor = Actor(admin, "系统管理员", "admin")
    accounts.update_user(db, actor, uid, at("2026-03-02 09:00"), role="operator", unit_code=None,
                         display_name="话务员小李", phone="", disabled=True)
    with pytest.raises(accounts.LoginRefused) as exc:
        _auth(db, "operator", PASSWORD, at("2026-03-02 09:01"))
    assert "已停用" in exc.value.message


def test_admin_cannot_disable_or_demote_self(db):
    admin = _user_id(db, "admin")
    actor = Actor(admin, "系统管理员", "admin")
    for role, disabled in (("admin", True), ("center", False)):
        with pytest.raises(ValidationFailed) as exc:
            accounts.update_user(db, actor, admin, at("2026-03-02 09:00"), role=role, unit_code=None,
                                 display_name="", phone="", disabled=disabled)
        assert "不能停用自己" in exc.value.errors["role"]
    assert one(db, "SELECT role, disabled FROM users WHERE id = ?", (admin,)) == {"role": "admin", "disabled": 0}


@pytest.mark.parametrize("fields,key", [
    ({"role": "handler", "unit_code": None}, "unit_code"),
    ({"role": "handler", "unit_code": "NOPE"}, "unit_code"),
    ({"role": "boss"}, "role"),
    ({"username": "has space"}, "username"),
    ({"username": "OPERATOR"}, "username"),
    ({"password": "short"}, "password"),
])
def test_create_user_validation(db, fields, key):
    args = {"username": "newbie", "password": "Start2026x", "role": "operator", "unit_code": None, **fields}
    before = scalar(db, "SELECT COUNT(*) FROM users")
    with pytest.raises(ValidationFailed) as exc:
        accounts.create_user(db, SYSTEM, at("2026-03-02 09:00"), **args)
    assert key in exc.value.errors
    assert scalar(db, "SELECT COUNT(*) FROM users") == before


def test_create_user_drops_unit_for_other_roles(db):
    uid = accounts.create_user(db, SYSTEM, at("2026-03-02 09:00"), username="newbie", password="Start2026x",
                               role="center", unit_code="QSZ")
    row = accounts.get(db, uid)
    assert row["unit_code"] is None and row["must_change"] == 1 and row["created_at"] == "2026-03-02T09:00:00+08:00"


# ---- the login page ------------------------------------------------------------------------------


def test_login_redirects_home(client, auth, clock):
    resp = auth.login("operator")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("nxt,expected", [
    ("/admin/users", "/admin/users"),
    ("//evil.example", "/"),
    ("https://evil.example/", "/"),
    ("", "/"),
])
def test_login_next_goes_to_the_page_asked_for(client, nxt, expected):
    resp = client.post("/login", query_string={"next": nxt}, data={"username": "admin", "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == expected


@pytest.mark.parametrize("nxt", ["//evil.example", "/\\evil.example", "/\\/evil.example", "\\\\evil.example",
                                 "https://evil.example", "javascript:alert(1)", "/%2F/evil.example"])
def test_login_next_never_leaves_the_site(client, nxt):
    resp = client.post("/login", query_string={"next": nxt}, data={"username": "admin", "password": PASSWORD})
    location = resp.headers["Location"]
    # browsers read a backslash as a slash; either way the target must be a path on this site
    normalized = location.replace("\\", "/")
    assert normalized.startswith("/") and not normalized.startswith("//"), location


def test_passwords_are_stored_as_costly_scrypt(db, demo_template, monkeypatch):
    """The real hashing cost (this module otherwise runs with fast_hashes)."""
    import sqlite3
    from contextlib import closing

    monkeypatch.setattr(accounts, "_hash", REAL_HASH)
    uid = accounts.create_user(db, SYSTEM, at("2026-03-02 09:00"), username="real", password="Start2026x",
                               role="operator")
    stored = accounts.get(db, uid)["password_hash"]
    with closing(sqlite3.connect(demo_template)) as template:
        demo = template.execute("SELECT password_hash FROM users WHERE username = 'admin'").fetchone()[0]
    assert "Start2026x" not in stored
    for h in (stored, demo):
        method, n = h.split("$")[0].split(":")[:2]
        assert method == "scrypt" and int(n) >= 2 ** 14, h


def test_five_wrong_passwords_lock_the_account_on_the_page(client, auth, clock):
    for left in (4, 3, 2, 1):
        resp = auth.login("operator", "wrong-pass1")
        assert resp.status_code == 401
        assert f"再错 {left} 次将锁定账号" in _alert(resp)
    resp = auth.login("operator", "wrong-pass1")
    assert resp.status_code == 401
    assert "密码连续输错 5 次，账号已锁定 15 分钟" in _alert(resp)
    assert page(resp).xpath('//input[@name="username"]/@value') == ["operator"]

    clock.advance(minutes=14, seconds=59)
    resp = auth.login("operator", PASSWORD)
    assert resp.status_code == 401 and "账号已锁定，请在 09:15 后再试" in _alert(resp)
    assert client.get("/").status_code == 302

    clock.advance(seconds=1)
    resp = auth.login("operator", PASSWORD)
    assert resp.status_code == 302
    assert client.get("/").status_code == 200


def test_admin_reset_unlocks_and_forces_change(client, auth, clock, db):
    for _ in range(5):
        auth.login("operator", "wrong-pass1")
    uid = _user_id(db, "operator")
    auth.login("admin")
    resp = client.post(f"/admin/users/{uid}/password", data={"password": "Temp2026x"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/admin/users/{uid}"
    assert "已重置密码并解除锁定" in client.get(resp.headers["Location"]).get_data(as_text=True)
    auth.logout()
    assert auth.login("operator", "Temp2026x").status_code == 302
    assert client.get("/").headers["Location"] == "/password"


@pytest.fixture
def must_change(client, auth, clock, db):
    """Operator logged in with a password the admin has just reset."""
    accounts.reset_password(db, SYSTEM, _user_id(db, "operator"), "Temp2026x", at("2026-03-02 08:00"))
    assert auth.login("operator", "Temp2026x").status_code == 302
    return client


@pytest.mark.parametrize("method,path", [("GET", "/"), ("GET", "/about"), ("GET", "/admin/users"), ("GET", "/login"),
                                         ("GET", "/no-such-page"), ("POST", "/admin/units/import")])
def test_forced_change_redirects_every_page(must_change, method, path):
    resp = must_change.open(path, method=method)
    assert resp.status_code == 302 and resp.headers["Location"] == "/password"


def test_forced_change_page_explains_and_logout_still_works(must_change):
    resp = must_change.get("/password")
    assert resp.status_code == 200
    assert "首次登录或密码被重置后，请先设置自己的密码" in page(resp).get_element_by_id("password").text_content()
    assert must_change.post("/logout").headers["Location"] == "/login"
    assert must_change.get("/").headers["Location"].startswith("/login")


@pytest.mark.parametrize("form,field,why", [
    ({"old": "Temp2026x", "new": NEW_PASSWORD, "again": "Other2026pw"}, "again", "两次输入的新密码不一致"),
    ({"old": "wrong-old1", "new": NEW_PASSWORD, "again": NEW_PASSWORD}, "old", "原密码不正确"),
    ({"old": "Temp2026x", "new": "short1", "again": "short1"}, "new", "至少 8 位"),
    ({"old": "Temp2026x", "new": "Temp2026x", "again": "Temp2026x"}, "new", "不能与原密码相同"),
])
def test_password_change_errors_stay_on_the_page(must_change, form, field, why):
    resp = must_change.post("/password", data=form)
    assert resp.status_code == 422
    error = page(resp).xpath(f'//input[@name="{field}"]/following-sibling::em[@class="error"]')
    assert error and why in error[0].text_content()
    assert must_change.get("/").headers["Location"] == "/password"


def test_forced_change_until_changed(must_change, auth, db):
    resp = must_change.post("/password", data={"old": "Temp2026x", "new": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    for path in ("/", "/about"):
        assert must_change.get(path).status_code == 200
    assert one(db, "SELECT must_change FROM users WHERE username = 'operator'")["must_change"] == 0
    auth.logout()
    assert auth.login("operator", "Temp2026x").status_code == 401
    assert auth.login("operator", NEW_PASSWORD).status_code == 302
    assert scalar(db, "SELECT COUNT(*) FROM audit_log WHERE action = 'user.change_password' AND target = 'operator'") == 1


def test_disabled_account_refused_on_the_page(client, auth, db):
    db.conn.execute("UPDATE users SET disabled = 1 WHERE username = 'center'")
    db.conn.commit()
    resp = auth.login("center")
    assert resp.status_code == 401 and "该账号已停用" in _alert(resp)


def test_disabling_ends_an_open_session(client, auth, db):
    assert auth.login("center").status_code == 302
    assert client.get("/").status_code == 200
    db.conn.execute("UPDATE users SET disabled = 1 WHERE username = 'center'")
    db.conn.commit()
    resp = client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_session_cookie_flags(auth):
    resp = auth.login("operator")
    cookies = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, resp.headers
    flags = [f.strip().lower() for f in cookies[0].split(";")]
    assert "httponly" in flags and "samesite=lax" in flags
    assert "secure" not in flags  # secure_cookie defaults to false for plain-HTTP intranets


def test_logout_needs_post(client, auth):
    auth.login("operator")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


# ---- CSRF ---------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(cfg):
    return create_app(cfg, {"TESTING": True}).test_client()


def _token(client, path="/login"):
    tokens = page(client.get(path)).xpath('//input[@name="csrf_token"]/@value')
    assert tokens and tokens[0]
    return tokens[0]


def test_post_without_token_is_refused_in_chinese(csrf_client, db):
    resp = csrf_client.post("/login", data={"username": "operator", "password": PASSWORD})
    assert resp.status_code == 400
    assert "CSRF 校验失败" in page(resp).get_element_by_id("error").text_content()
    assert one(db, "SELECT last_login_at FROM users WHERE username = 'operator'")["last_login_at"] is None


def test_post_with_a_wrong_token_is_refused(csrf_client):
    _token(csrf_client)
    resp = csrf_client.post("/login", data={"username": "operator", "password": PASSWORD, "csrf_token": "forged"})
    assert resp.status_code == 400


def test_post_with_the_token_from_the_page_works(csrf_client):
    token = _token(csrf_client)
    resp = csrf_client.post("/login", data={"username": "operator", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    home = csrf_client.get("/")
    assert home.status_code == 200
    # htmx sends the token from <body hx-headers>, not a form field
    headers = json.loads(page(home).xpath("//body/@hx-headers")[0])
    assert csrf_client.post("/logout").status_code == 400
    assert csrf_client.post("/logout", headers=headers).headers["Location"] == "/login"


# ---- audit rows for admin changes ---------------------------------------------------------------------


def test_admin_changes_are_audited(client, auth, clock, db):
    auth.login("admin")
    admin = _user_id(db, "admin")
    resp = client.post("/admin/users/new", data={"username": "xiaozhang", "display_name": "小张", "role": "handler",
                                                 "unit_code": "QSZ", "phone": "13900000001", "password": "Start2026x"})
    assert resp.status_code == 302
    uid = _user_id(db, "xiaozhang")
    clock.advance(minutes=5)
    resp = client.post(f"/admin/users/{uid}", data={"display_name": "张三", "role": "center", "unit_code": "QSZ",
                                                    "phone": "13900000001"})
    assert resp.status_code == 302
    clock.advance(minutes=5)
    assert client.post(f"/admin/users/{uid}/password", data={"password": "Again2026x"}).status_code == 302
    rows = db.conn.execute("SELECT at, actor_id, actor_name, action, target, details FROM audit_log "
                           "WHERE target = 'xiaozhang' ORDER BY id").fetchall()
    assert [(r["action"], r["actor_id"], r["actor_name"]) for r in rows] == [
        ("user.create", admin, "系统管理员"), ("user.update", admin, "系统管理员"),
        ("user.reset_password", admin, "系统管理员")]
    assert [r["at"] for r in rows] == ["2026-03-02T09:00:00+08:00", "2026-03-02T09:05:00+08:00",
                                       "2026-03-02T09:10:00+08:00"]
    assert json.loads(rows[0]["details"]) == {"role": "handler", "unit_code": "QSZ"}
    assert json.loads(rows[1]["details"]) == {"role": ["handler", "center"], "unit_code": ["QSZ", None],
                                              "display_name": ["小张", "张三"]}
    log = page(client.get("/admin/audit")).get_element_by_id("audit").text_content()
    assert "重置密码" in log and "xiaozhang" in log


def test_unchanged_edit_writes_no_audit_row(client, auth, db):
    auth.login("admin")
    uid = _user_id(db, "operator")
    before = scalar(db, "SELECT COUNT(*) FROM audit_log")
    resp = client.post(f"/admin/users/{uid}", data={"display_name": "话务员小李", "role": "operator", "phone": ""})
    assert resp.status_code == 302
    assert scalar(db, "SELECT COUNT(*) FROM audit_log") == before
