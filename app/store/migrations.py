"""Numbered schema migrations, recorded in the `migrations` table; applied in order, each in one transaction."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Callable

import sqlite_utils

from . import write

MIGRATIONS: list[tuple[int, str, Callable[[sqlite_utils.Database], None]]] = []


def run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run several statements inside the open transaction (executescript would COMMIT first)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            db.conn.execute(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement: {pending[:80]}")


def migration(number: int, name: str):
    """Register a migration function under its number."""

    def register(fn):
        MIGRATIONS.append((number, name, fn))
        MIGRATIONS.sort(key=lambda m: m[0])
        return fn

    return register


@migration(1, "foundation")
def m001_foundation(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE units (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('department','township','company','other')),
            phone TEXT NOT NULL DEFAULT '',
            contact TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE territories (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            level TEXT NOT NULL CHECK (level IN ('township','village','community')),
            parent_code TEXT REFERENCES territories(code),
            unit_code TEXT REFERENCES units(code),
            active INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX territories_parent ON territories(parent_code);
        CREATE TABLE categories (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            parent_code TEXT REFERENCES categories(code),
            responsible TEXT CHECK (responsible IN ('unit','territory')),
            unit_code TEXT REFERENCES units(code),
            co_units TEXT NOT NULL DEFAULT '[]',
            keywords TEXT NOT NULL DEFAULT '[]',
            urgency TEXT NOT NULL DEFAULT 'normal' CHECK (urgency IN ('normal','urgent','critical')),
            active INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX categories_parent ON categories(parent_code);
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE COLLATE NOCASE,
            display_name TEXT NOT NULL DEFAULT '',
            role TEXT NOT NULL CHECK (role IN ('operator','center','handler','leader','admin')),
            unit_code TEXT REFERENCES units(code),
            phone TEXT NOT NULL DEFAULT '',
            password_hash TEXT NOT NULL,
            must_change INTEGER NOT NULL DEFAULT 1,
            disabled INTEGER NOT NULL DEFAULT 0,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT,
            created_at TEXT NOT NULL,
            last_login_at TEXT,
            CHECK ((role = 'handler') = (unit_code IS NOT NULL))
        );
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor_id INTEGER REFERENCES users(id),
            actor_name TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE calendar_days (
            date TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('holiday','workday')),
            name TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE calendar_years (
            year INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """
    )


def current_version(db: sqlite_utils.Database) -> int:
    """The highest applied migration number (0 for a new file)."""
    if "migrations" not in db.table_names():
        return 0
    row = db.conn.execute("SELECT MAX(number) FROM migrations").fetchone()
    return row[0] or 0


def latest_version() -> int:
    """The number of the newest migration this code knows."""
    return MIGRATIONS[-1][0]


def migrate(db: sqlite_utils.Database, target: int | None = None) -> list[int]:
    """Apply every pending migration up to target (default: all); return the numbers applied."""
    if "migrations" not in db.table_names():
        db.conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations (number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
    done = current_version(db)
    applied = []
    for number, name, fn in MIGRATIONS:
        if number <= done or (target is not None and number > target):
            continue
        with write(db):
            fn(db)
            db.conn.execute(
                "INSERT INTO migrations (number, name, applied_at) VALUES (?, ?, ?)",
                (number, name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
            )
        applied.append(number)
    return applied
