"""Shared fixtures: a real config file and SQLite file per test, the demo county copied from one template."""
from __future__ import annotations

import shutil
from datetime import datetime
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
    demo.load(db, cfg, at("2026-01-01 09:00"))
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
