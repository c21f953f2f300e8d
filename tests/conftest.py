"""Shared fixtures: a real config file and SQLite file per test, the demo county copied from one template."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app import config as config_mod, create_app
from app.services import calendar as calendar_svc, demo
from app.store import connect
from app.store.migrations import migrate

TZ = ZoneInfo("Asia/Shanghai")
PASSWORD = demo.DEMO_PASSWORD


def write_config(directory: Path, extra: str = "") -> Path:
    """A config.toml for tests, in its own directory with its own data dir."""
    path = directory / "config.toml"
    path.write_text(
        f'[county]\nname = "测试县"\ncode = "TST"\n[security]\nsecret_key = "test-secret-key-0123456789"\n{extra}',
        encoding="utf-8",
    )
    return path


def at(text: str) -> datetime:
    """A local Asia/Shanghai time from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """One migrated database with the demo county, copied for each test that wants it."""
    d = tmp_path_factory.mktemp("template")
    cfg = config_mod.load(str(write_config(d)))
    cfg.data_path.mkdir(parents=True, exist_ok=True)
    db = connect(cfg.db_path)
    migrate(db)
    calendar_svc.seed_from_package(db, at("2026-01-01 09:00"))
    demo.load(db, cfg, at("2026-01-01 09:00"), with_tickets=False)  # tests make their own tickets
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()
    return cfg.db_path


@pytest.fixture
def cfg(tmp_path, demo_template):
    """A validated Config whose database is a fresh copy of the demo county."""
    cfg = config_mod.load(str(write_config(tmp_path)))
    cfg.data_path.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_template, cfg.db_path)
    return cfg


@pytest.fixture
def empty_cfg(tmp_path):
    """A validated Config with a migrated, calendar-seeded but otherwise empty database."""
    cfg = config_mod.load(str(write_config(tmp_path)))
    cfg.data_path.mkdir(parents=True, exist_ok=True)
    db = connect(cfg.db_path)
    migrate(db)
    calendar_svc.seed_from_package(db, at("2026-01-01 09:00"))
    db.conn.close()
    return cfg


@pytest.fixture
def db(cfg):
    """A connection to the test's database."""
    conn = connect(cfg.db_path)
    yield conn
    conn.conn.close()


@pytest.fixture
def app(cfg):
    """The Flask app over the demo county; CSRF off except in tests that turn it on."""
    return create_app(cfg, {"TESTING": True, "WTF_CSRF_ENABLED": False})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


class Auth:
    """Log a test client in and out as one of the demo accounts."""

    def __init__(self, client):
        self.client = client

    def login(self, username: str = "admin", password: str = PASSWORD):
        return self.client.post("/login", data={"username": username, "password": password})

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


# ---- added for the foundation suite: a frozen clock and HTML parsing ---------------------------


class Clock:
    """The time app.now() and the CLI's Ctx.now() return while the `clock` fixture is active."""

    def __init__(self, start: datetime):
        self.current = start

    def set(self, text: str) -> None:
        self.current = at(text)

    def advance(self, **delta) -> None:
        self.current += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    """Freeze the time views and CLI commands see (default 2026-03-02 09:00, a Monday); tests move it."""
    import app as app_pkg
    import app.cli as cli_mod

    state = Clock(at("2026-03-02 09:00"))

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return state.current.astimezone(tz) if tz else state.current.replace(tzinfo=None)

    monkeypatch.setattr(app_pkg, "datetime", Frozen)
    monkeypatch.setattr(cli_mod, "datetime", Frozen)
    return state


def page(resp):
    """A response body parsed as HTML, for XPath checks by id and class."""
    import lxml.html

    return lxml.html.fromstring(resp.get_data(as_text=True))


def classes(element) -> set[str]:
    """The CSS classes of an element."""
    return set((element.get("class") or "").split())


FAST_HASH_METHOD = "scrypt:1024:8:1"  # the real cost (scrypt:32768) takes ~0.13 s per check


@pytest.fixture
def fast_hashes(cfg, monkeypatch):
    """Cheap scrypt parameters for this test's accounts, so login-heavy web tests stay fast."""
    from werkzeug.security import generate_password_hash

    from app.services import accounts

    monkeypatch.setattr(accounts, "_hash", lambda pw: generate_password_hash(pw, method=FAST_HASH_METHOD))
    db = connect(cfg.db_path)
    with db.conn:
        db.conn.execute("UPDATE users SET password_hash = ?", (generate_password_hash(PASSWORD, method=FAST_HASH_METHOD),))
    db.conn.close()
