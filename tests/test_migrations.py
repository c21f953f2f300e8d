"""Numbered migrations keep existing rows, are recorded once, and run each in one transaction; connect() pragmas."""
import sqlite3

import pytest

from app.store import BUSY_TIMEOUT_MS, connect, scalar
from app.store import migrations as m


@pytest.fixture
def fresh(tmp_path):
    """A connection to a brand-new database file."""
    db = connect(tmp_path / "fresh.db")
    yield db
    db.conn.close()


def _insert_foundation_rows(db):
    c = db.conn
    c.execute("INSERT INTO units (code, name, kind, phone) VALUES ('QSZ', '青石镇人民政府', 'township', '0879-1')")
    c.execute("INSERT INTO territories (code, name, level, unit_code) VALUES ('539901102', '青石镇', 'township', 'QSZ')")
    c.execute("INSERT INTO territories (code, name, level, parent_code) VALUES ('539901102201', '岩脚村', 'village', '539901102')")
    c.execute("INSERT INTO categories (code, name) VALUES ('01', '道路交通')")
    c.execute("INSERT INTO categories (code, name, parent_code, responsible, keywords) "
              "VALUES ('0101', '村组道路损坏', '01', 'territory', '[\"村道\"]')")
    c.execute("INSERT INTO users (username, role, unit_code, password_hash, created_at) "
              "VALUES ('qingshi', 'handler', 'QSZ', 'x', '2026-01-01T09:00:00+08:00')")
    c.execute("INSERT INTO audit_log (at, actor_name, action) VALUES ('2026-01-01T09:00:00+08:00', '系统', 'unit.import')")
    c.execute("INSERT INTO calendar_days (date, kind, name) VALUES ('2026-02-14', 'workday', '春节调休')")
    c.execute("INSERT INTO calendar_years (year, source, updated_at) VALUES (2026, 'import', '2026-01-01T09:00:00+08:00')")
    c.execute("INSERT INTO meta (key, value) VALUES ('calendar_version', '7')")
    c.commit()


FOUNDATION_TABLES = ["units", "territories", "categories", "users", "audit_log", "calendar_days", "calendar_years", "meta"]


def _snapshot(db):
    return {t: [tuple(r) for r in db.conn.execute(f"SELECT * FROM {t} ORDER BY rowid")] for t in FOUNDATION_TABLES}


def test_migration_numbers_are_unique_and_ascending():
    numbers = [n for n, _, _ in m.MIGRATIONS]
    assert numbers == sorted(set(numbers))
    assert numbers[0] == 1 and m.latest_version() == numbers[-1]
    assert all(name for _, name, _ in m.MIGRATIONS)


def test_rows_written_at_migration_1_survive_migrating_to_latest(fresh):
    assert m.migrate(fresh, target=1) == [1]
    assert m.current_version(fresh) == 1
    _insert_foundation_rows(fresh)
    before = _snapshot(fresh)
    applied = m.migrate(fresh)
    assert applied == [n for n, _, _ in m.MIGRATIONS if n > 1]
    assert m.current_version(fresh) == m.latest_version()
    after = _snapshot(fresh)
    for table, rows in before.items():
        # later migrations may add columns, never drop or change the rows already there
        assert [r[: len(rows[0])] for r in after[table]] == rows, table
    recorded = [tuple(r) for r in fresh.conn.execute("SELECT number, name FROM migrations ORDER BY number")]
    assert recorded == [(n, name) for n, name, _ in m.MIGRATIONS]
    assert all(r[0].endswith("+00:00") for r in fresh.conn.execute("SELECT applied_at FROM migrations"))
    assert fresh.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert scalar(fresh, "PRAGMA integrity_check") == "ok"


def test_migrating_twice_applies_nothing_the_second_time(fresh):
    assert m.migrate(fresh) == [n for n, _, _ in m.MIGRATIONS]
    recorded = fresh.conn.execute("SELECT * FROM migrations").fetchall()
    assert m.migrate(fresh) == []
    assert fresh.conn.execute("SELECT * FROM migrations").fetchall() == recorded


def test_target_zero_creates_only_the_migrations_table(fresh):
    assert m.migrate(fresh, target=0) == []
    assert m.current_version(fresh) == 0
    assert fresh.table_names() == ["migrations"]


def test_new_file_is_version_0(fresh):
    assert m.current_version(fresh) == 0


@pytest.fixture
def extra_migrations(monkeypatch):
    """Two more migrations on top of the real ones: one reshapes data, one fails half-way."""
    nxt = m.latest_version() + 1

    def add_column(db):
        db.conn.execute("ALTER TABLE units ADD COLUMN short_name TEXT NOT NULL DEFAULT ''")
        db.conn.execute("UPDATE units SET short_name = substr(name, 1, 3)")

    def broken(db):
        db.conn.execute("CREATE TABLE half_done (x)")
        db.conn.execute("UPDATE units SET name = '改坏了'")
        raise RuntimeError("boom")

    monkeypatch.setattr(m, "MIGRATIONS", [*m.MIGRATIONS, (nxt, "short names", add_column), (nxt + 1, "broken", broken)])
    return nxt


def test_later_migration_sees_earlier_rows_and_target_stops_before_it(fresh, extra_migrations):
    nxt = extra_migrations
    m.migrate(fresh, target=1)
    _insert_foundation_rows(fresh)
    m.migrate(fresh, target=nxt - 1)
    assert "short_name" not in fresh["units"].columns_dict
    assert m.migrate(fresh, target=nxt) == [nxt]
    assert scalar(fresh, "SELECT short_name FROM units WHERE code = 'QSZ'") == "青石镇"
    assert scalar(fresh, "SELECT COUNT(*) FROM users") == 1


def test_failed_migration_rolls_back_and_is_not_recorded(fresh, extra_migrations):
    nxt = extra_migrations
    m.migrate(fresh, target=1)
    _insert_foundation_rows(fresh)
    with pytest.raises(RuntimeError):
        m.migrate(fresh)
    assert m.current_version(fresh) == nxt, "the migrations before the broken one stay applied"
    assert "half_done" not in fresh.table_names()
    assert scalar(fresh, "SELECT name FROM units WHERE code = 'QSZ'") == "青石镇人民政府"
    assert not fresh.conn.in_transaction


def test_a_migration_that_arrives_late_fills_the_gap(fresh, monkeypatch):
    """Branches may land migration N+2 before N+1: migrate applies N+1 later and the version counts the gap."""
    real, nxt = list(m.MIGRATIONS), m.latest_version() + 1
    late = (nxt, "late", lambda db: db.conn.execute("CREATE TABLE late_one (x)"))
    early = (nxt + 1, "early", lambda db: db.conn.execute("CREATE TABLE early_one (x)"))
    monkeypatch.setattr(m, "MIGRATIONS", [*real, early])
    assert m.migrate(fresh)[-1] == nxt + 1
    monkeypatch.setattr(m, "MIGRATIONS", [*real, late, early])
    assert m.current_version(fresh) == real[-1][0], "the missing migration holds the version back"
    assert m.migrate(fresh) == [nxt]
    assert m.current_version(fresh) == nxt + 1
    assert {"late_one", "early_one"} <= set(fresh.table_names())


def test_foundation_constraints(fresh):
    m.migrate(fresh)
    _insert_foundation_rows(fresh)
    bad = [
        "INSERT INTO users (username, role, password_hash, created_at) VALUES ('h2', 'handler', 'x', 'now')",
        "INSERT INTO users (username, role, unit_code, password_hash, created_at) VALUES ('o2', 'operator', 'QSZ', 'x', 'now')",
        "INSERT INTO users (username, role, password_hash, created_at) VALUES ('QINGSHI', 'operator', 'x', 'now')",
        "INSERT INTO territories (code, name, level, unit_code) VALUES ('9', '无', 'township', 'NOPE')",
        "INSERT INTO units (code, name, kind) VALUES ('X', '某单位', 'ministry')",
        "INSERT INTO calendar_days (date, kind) VALUES ('2026-03-02', 'rest')",
    ]
    for sql in bad:
        with pytest.raises(sqlite3.IntegrityError):
            fresh.conn.execute(sql)
        fresh.conn.rollback()


def test_connect_pragmas(fresh):
    pragma = lambda name: fresh.conn.execute(f"PRAGMA {name}").fetchone()[0]  # noqa: E731
    assert pragma("journal_mode") == "wal"
    assert pragma("foreign_keys") == 1
    assert pragma("synchronous") == 2  # FULL
    assert pragma("busy_timeout") == BUSY_TIMEOUT_MS > 0


def test_pragmas_hold_on_every_connection(tmp_path):
    first = connect(tmp_path / "x.db")
    m.migrate(first)
    second = connect(tmp_path / "x.db")
    try:
        assert second.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert second.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert m.current_version(second) == m.latest_version()
    finally:
        first.conn.close()
        second.conn.close()
