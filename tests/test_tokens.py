"""API tokens: stored hashed, shown once, revocable, audited; the CLI commands and the admin page over them."""
import hashlib
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from conftest import at, page

from app.cli import main
from app.domain.errors import NotFound, ValidationFailed
from app.domain.roles import SYSTEM
from app.services import tokens
from app.store import all_rows, scalar

NOW = at("2026-03-02 09:00")


def _rows(db):
    return all_rows(db, "SELECT * FROM api_tokens ORDER BY id")


# ---- service ---------------------------------------------------------------------------------


def test_create_returns_the_plain_token_once_and_stores_only_its_hash(db):
    token_id, plain = tokens.create(db, SYSTEM, " 微信公众号 ", "operator", None, NOW)
    [row] = _rows(db)
    assert row["id"] == token_id and row["name"] == "微信公众号" and row["role"] == "operator"
    assert row["token_hash"] == hashlib.sha256(plain.encode()).hexdigest()
    assert len(plain) >= 40
    assert all(plain not in str(v) for v in row.values())
    assert row["created_at"] == "2026-03-02T09:00:00+08:00" and row["revoked_at"] is None
    _, other = tokens.create(db, SYSTEM, "脚本", "operator", None, NOW)
    assert other != plain


def test_handler_token_gets_its_unit(db):
    token_id, plain = tokens.create(db, SYSTEM, "青石镇小程序", "handler", "qsz", NOW)
    row = tokens.authenticate(db, plain, NOW)
    assert row["id"] == token_id and row["unit_code"] == "QSZ"
    actor = tokens.actor_for(row)
    assert (actor.id, actor.name, actor.role, actor.unit_code, actor.kind) == (None, "青石镇小程序", "handler", "QSZ", "token")


@pytest.mark.parametrize("name,role,unit,field", [
    ("", "operator", None, "name"),
    ("长" * 61, "operator", None, "name"),
    ("x", "boss", None, "role"),
    ("x", "handler", None, "unit_code"),
    ("x", "handler", "NOPE", "unit_code"),
    ("x", "center", "QSZ", "unit_code"),
])
def test_bad_token_requests_are_refused_and_nothing_is_stored(db, name, role, unit, field):
    with pytest.raises(ValidationFailed) as exc:
        tokens.create(db, SYSTEM, name, role, unit, NOW)
    assert field in exc.value.errors
    assert _rows(db) == []
    assert scalar(db, "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'token.%'") == 0


def test_handler_token_refused_for_an_inactive_unit(db):
    db.conn.execute("UPDATE units SET active = 0 WHERE code = 'QSZ'")
    db.conn.commit()
    with pytest.raises(ValidationFailed) as exc:
        tokens.create(db, SYSTEM, "青石镇", "handler", "QSZ", NOW)
    assert "unit_code" in exc.value.errors


def test_authenticate_rejects_unknown_empty_and_revoked_tokens(db):
    token_id, plain = tokens.create(db, SYSTEM, "脚本", "center", None, NOW)
    assert tokens.authenticate(db, "", NOW) is None
    assert tokens.authenticate(db, plain + "x", NOW) is None
    assert tokens.authenticate(db, plain, NOW)["id"] == token_id
    tokens.revoke(db, SYSTEM, token_id, NOW + timedelta(minutes=5))
    assert tokens.authenticate(db, plain, NOW + timedelta(minutes=6)) is None
    assert _rows(db)[0]["revoked_at"] == "2026-03-02T09:05:00+08:00"


def test_last_used_is_written_at_most_once_a_minute(db):
    _, plain = tokens.create(db, SYSTEM, "脚本", "center", None, NOW)
    assert _rows(db)[0]["last_used_at"] is None
    tokens.authenticate(db, plain, NOW)
    assert _rows(db)[0]["last_used_at"] == "2026-03-02T09:00:00+08:00"
    tokens.authenticate(db, plain, NOW + timedelta(seconds=59))
    assert _rows(db)[0]["last_used_at"] == "2026-03-02T09:00:00+08:00"
    row = tokens.authenticate(db, plain, NOW + timedelta(seconds=61))
    assert row["last_used_at"] == _rows(db)[0]["last_used_at"] == "2026-03-02T09:01:01+08:00"


def test_revoke_twice_or_unknown_is_refused(db):
    token_id, _ = tokens.create(db, SYSTEM, "脚本", "center", None, NOW)
    tokens.revoke(db, SYSTEM, token_id, NOW)
    with pytest.raises(ValidationFailed, match="已于"):
        tokens.revoke(db, SYSTEM, token_id, NOW)
    with pytest.raises(NotFound):
        tokens.revoke(db, SYSTEM, 999, NOW)


def test_creation_and_revocation_are_audited_without_the_token(db):
    token_id, plain = tokens.create(db, SYSTEM, "脚本", "handler", "ZLS", NOW)
    tokens.revoke(db, SYSTEM, token_id, NOW)
    rows = all_rows(db, "SELECT * FROM audit_log WHERE action LIKE 'token.%' ORDER BY id")
    assert [(r["action"], r["target"]) for r in rows] == [("token.create", "脚本"), ("token.revoke", "脚本")]
    assert json.loads(rows[0]["details"]) == {"id": token_id, "role": "handler", "unit_code": "ZLS"}
    assert all(plain not in r["details"] for r in rows)


def test_list_never_includes_the_hash(db):
    tokens.create(db, SYSTEM, "甲", "operator", None, NOW)
    tokens.create(db, SYSTEM, "乙", "handler", "QSZ", NOW)
    listed = tokens.list_tokens(db)
    assert [r["name"] for r in listed] == ["乙", "甲"]
    assert listed[0]["unit_name"] == "青石镇人民政府"
    assert all("token_hash" not in r for r in listed)


# ---- CLI -------------------------------------------------------------------------------------


def _cli(cfg, *args):
    return CliRunner().invoke(main, ["--config", cfg.source, *args])


def test_cli_create_token_prints_a_working_token_once(cfg, db):
    result = _cli(cfg, "create-token", "--role", "handler", "--unit", "QSZ", "--name", "青石镇小程序")
    assert result.exit_code == 0, result.output
    plain = result.stdout.strip()
    assert "\n" not in plain  # stdout is the token alone, so TOKEN=$(hotline create-token ...) works
    assert "只显示这一次" in result.stderr
    row = tokens.authenticate(db, plain, NOW)
    assert (row["name"], row["role"], row["unit_code"]) == ("青石镇小程序", "handler", "QSZ")
    listed = _cli(cfg, "list-tokens")
    assert listed.exit_code == 0 and "青石镇小程序" in listed.output and plain not in listed.output


def test_cli_create_token_refuses_a_handler_without_unit(cfg, db):
    result = _cli(cfg, "create-token", "--role", "handler", "--name", "无单位")
    assert result.exit_code == 1
    assert "必须指定单位" in result.stderr and result.stdout == ""
    assert _rows(db) == []


def test_cli_revoke_token(cfg, db):
    token_id, plain = tokens.create(db, SYSTEM, "脚本", "center", None, NOW)
    result = _cli(cfg, "revoke-token", str(token_id))
    assert result.exit_code == 0 and f"#{token_id}" in result.output
    assert tokens.authenticate(db, plain, NOW) is None
    again = _cli(cfg, "revoke-token", str(token_id))
    assert again.exit_code == 1 and "已于" in again.stderr
    assert "已撤销" in _cli(cfg, "list-tokens").output


@pytest.mark.parametrize("command", ["create-token", "list-tokens", "revoke-token"])
def test_token_commands_have_chinese_help(cfg, command):
    result = _cli(cfg, command, "--help")
    assert result.exit_code == 0
    assert "令牌" in result.output


# ---- admin page ------------------------------------------------------------------------------


def test_only_admin_reaches_the_tokens_page(client, auth):
    auth.login("center")
    assert client.get("/admin/tokens/").status_code == 403
    assert client.post("/admin/tokens/", data={"name": "x", "role": "center"}).status_code == 403
    auth.logout()
    auth.login("admin")
    assert client.get("/admin/tokens/").status_code == 200


def test_admin_nav_links_to_tokens(client, auth):
    auth.login("admin")
    doc = page(client.get("/"))
    assert doc.xpath('//nav//a[@href="/admin/tokens/"]')


def test_admin_creates_a_token_and_sees_it_once(client, auth, db):
    auth.login("admin")
    resp = client.post("/admin/tokens/", data={"name": "微信公众号", "role": "operator", "unit_code": ""})
    assert resp.status_code == 201
    assert resp.headers["Cache-Control"] == "no-store"
    [shown] = page(resp).xpath('//code[@id="token-plain"]/text()')
    row = tokens.authenticate(db, shown, NOW)
    assert row["name"] == "微信公众号" and row["role"] == "operator"
    listing = client.get("/admin/tokens/")
    assert shown not in listing.get_data(as_text=True)
    doc = page(listing)
    [cells] = [tr.xpath("./td") for tr in doc.xpath(f'//tr[@id="token-{row["id"]}"]')]
    assert cells[1].text_content() == "微信公众号" and cells[2].text_content() == "话务员"
    assert "有效" in cells[6].text_content()
    assert scalar(db, "SELECT actor_name FROM audit_log WHERE action = 'token.create'") == "系统管理员"


def test_admin_form_errors_keep_the_text(client, auth, db):
    auth.login("admin")
    resp = client.post("/admin/tokens/", data={"name": "镇里用", "role": "handler", "unit_code": ""})
    assert resp.status_code == 422
    doc = page(resp)
    assert doc.xpath('//form[@id="token-form"]//input[@name="name"]/@value') == ["镇里用"]
    assert doc.xpath('//form[@id="token-form"]//option[@value="handler"][@selected]')
    assert doc.xpath('//label[contains(@class, "has-error")]//select[@name="unit_code"]')
    assert not doc.xpath('//code[@id="token-plain"]')
    assert _rows(db) == []


def test_admin_revokes_a_token(client, auth, db):
    token_id, plain = tokens.create(db, SYSTEM, "脚本", "center", None, NOW)
    auth.login("admin")
    doc = page(client.get("/admin/tokens/"))
    [action] = doc.xpath(f'//tr[@id="token-{token_id}"]//form[contains(@class, "revoke")]/@action')
    resp = client.post(action)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/tokens/")
    assert tokens.authenticate(db, plain, NOW) is None
    doc = page(client.get("/admin/tokens/"))
    assert "已撤销" in doc.xpath(f'//tr[@id="token-{token_id}"]')[0].text_content()
    assert not doc.xpath(f'//tr[@id="token-{token_id}"]//form')
    assert "已于" in client.post(action, follow_redirects=True).get_data(as_text=True)
