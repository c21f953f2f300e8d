"""The one place that speaks SQLite: connections with the right pragmas, and write transactions."""
from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Iterator

import sqlite_utils

BUSY_TIMEOUT_MS = 10_000


class StoreError(Exception):
    """A storage-level failure the services turn into a message."""


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open the database file with WAL, foreign keys, a busy timeout and synchronous=FULL."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    db = sqlite_utils.Database(conn)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # A ticket an operator saved must survive a power cut: fsync the WAL on every commit.
    conn.execute("PRAGMA synchronous=FULL")
    return db


@contextlib.contextmanager
def write(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One short write transaction; BEGIN IMMEDIATE takes the writer lock up front so reads inside are current."""
    conn = db.conn
    if conn.in_transaction:
        with db.atomic():
            yield db
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def iso(dt: datetime | str | None) -> str | None:
    """How every timestamp is stored: ISO 8601 to the second, with its UTC offset (text passes through)."""
    if dt is None or isinstance(dt, str):
        return dt
    return dt.isoformat(timespec="seconds")


def from_iso(text: str | None) -> datetime | None:
    """A stored timestamp back as an aware datetime (None stays None)."""
    return datetime.fromisoformat(text) if text else None


def one(db: sqlite_utils.Database, sql: str, params=()) -> dict | None:
    """First row of a query as a dict, or None."""
    row = db.conn.execute(sql, params).fetchone()
    return dict(row) if row is not None else None


def all_rows(db: sqlite_utils.Database, sql: str, params=()) -> list[dict]:
    """All rows of a query as dicts."""
    return [dict(r) for r in db.conn.execute(sql, params).fetchall()]


def scalar(db: sqlite_utils.Database, sql: str, params=()):
    """The first column of the first row, or None."""
    row = db.conn.execute(sql, params).fetchone()
    return row[0] if row is not None else None
