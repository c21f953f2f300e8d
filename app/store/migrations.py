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


def applied_numbers(db: sqlite_utils.Database) -> set[int]:
    """The numbers recorded in the `migrations` table."""
    if "migrations" not in db.table_names():
        return set()
    return {r[0] for r in db.conn.execute("SELECT number FROM migrations")}


def current_version(db: sqlite_utils.Database) -> int:
    """The highest number N such that migrations 1..N (as known to this code) are all applied (0 for a new file)."""
    # Migrations are written in parallel branches: a database may hold 4 before 3 arrives. Counting only the
    # unbroken prefix makes `serve` and `check` see the gap and `migrate` fill it.
    done = applied_numbers(db)
    version = 0
    for number, _, _ in MIGRATIONS:
        if number not in done:
            break
        version = number
    return max(version, max((n for n in done if n > latest_version()), default=0))


def latest_version() -> int:
    """The number of the newest migration this code knows."""
    return MIGRATIONS[-1][0]


def migrate(db: sqlite_utils.Database, target: int | None = None) -> list[int]:
    """Apply every pending migration up to target (default: all); return the numbers applied."""
    if "migrations" not in db.table_names():
        db.conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations (number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
    done = applied_numbers(db)
    applied = []
    for number, name, fn in MIGRATIONS:
        if number in done or (target is not None and number > target):
            continue
        with write(db):
            fn(db)
            db.conn.execute(
                "INSERT INTO migrations (number, name, applied_at) VALUES (?, ?, ?)",
                (number, name, datetime.now(timezone.utc).isoformat(timespec="seconds")),
            )
        applied.append(number)
    return applied


# Keep the trigram index in step with the tickets table (bench/seed.py drops and re-adds these).
FTS_TRIGGERS = """
        CREATE TRIGGER tickets_fts_ai AFTER INSERT ON tickets BEGIN
            INSERT INTO tickets_fts(rowid, title, content, caller_name, address)
            VALUES (new.id, new.title, new.content, new.caller_name, new.address);
        END;
        CREATE TRIGGER tickets_fts_au AFTER UPDATE OF title, content, caller_name, address ON tickets BEGIN
            INSERT INTO tickets_fts(tickets_fts, rowid, title, content, caller_name, address)
            VALUES ('delete', old.id, old.title, old.content, old.caller_name, old.address);
            INSERT INTO tickets_fts(rowid, title, content, caller_name, address)
            VALUES (new.id, new.title, new.content, new.caller_name, new.address);
        END;
"""


@migration(2, "tickets")
def m002_tickets(db: sqlite_utils.Database) -> None:
    run_script(
        db,
        """
        CREATE TABLE tickets (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL,
            urgency TEXT NOT NULL CHECK (urgency IN ('normal','urgent','critical')),
            state TEXT NOT NULL,
            received_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            caller_name TEXT NOT NULL DEFAULT '',
            caller_phone TEXT NOT NULL DEFAULT '',
            phone_norm TEXT NOT NULL DEFAULT '',
            id_number TEXT NOT NULL DEFAULT '',
            anonymous INTEGER NOT NULL DEFAULT 0,
            confidential INTEGER NOT NULL DEFAULT 0,
            address TEXT NOT NULL DEFAULT '',
            territory_code TEXT NOT NULL REFERENCES territories(code),
            township_code TEXT NOT NULL REFERENCES territories(code),
            category_code TEXT NOT NULL REFERENCES categories(code),
            title TEXT NOT NULL,
            content TEXT NOT NULL,
            operator_id INTEGER REFERENCES users(id),
            lead_unit TEXT REFERENCES units(code),
            dispatched_at TEXT,
            sign_deadline TEXT,
            signed_at TEXT,
            first_contact_at TEXT,
            due_at TEXT,
            replied_at TEXT,
            closed_at TEXT,
            answer TEXT NOT NULL DEFAULT '',
            reply TEXT NOT NULL DEFAULT '',
            extension_count INTEGER NOT NULL DEFAULT 0,
            return_count INTEGER NOT NULL DEFAULT 0,
            reopen_count INTEGER NOT NULL DEFAULT 0,
            sent_back_count INTEGER NOT NULL DEFAULT 0,
            resolved INTEGER,
            satisfaction TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX tickets_state_due ON tickets(state, due_at);
        CREATE INDEX tickets_lead_state ON tickets(lead_unit, state, due_at);
        CREATE INDEX tickets_phone ON tickets(phone_norm, received_at);
        CREATE INDEX tickets_received ON tickets(received_at);
        CREATE INDEX tickets_place ON tickets(township_code, category_code, received_at);
        CREATE INDEX tickets_territory ON tickets(territory_code, received_at);
        CREATE INDEX tickets_idnum ON tickets(id_number, received_at) WHERE id_number != '';
        CREATE TABLE ticket_units (
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            unit_code TEXT NOT NULL REFERENCES units(code),
            role TEXT NOT NULL CHECK (role IN ('lead','co')),
            active INTEGER NOT NULL DEFAULT 1,
            assigned_at TEXT NOT NULL,
            signed_at TEXT,
            part TEXT NOT NULL DEFAULT '',
            part_at TEXT,
            open INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (ticket_id, unit_code)
        );
        CREATE INDEX ticket_units_unit ON ticket_units(unit_code, active, ticket_id);
        -- A unit's queue reads only its assignments on open tickets, so it costs the same at 10k or 1M tickets.
        CREATE INDEX ticket_units_open ON ticket_units(unit_code, ticket_id) WHERE open = 1 AND active = 1;
        CREATE TRIGGER ticket_units_open_sync AFTER UPDATE OF state ON tickets BEGIN
            UPDATE ticket_units SET open = (new.state IN ('dispatched','in_progress','replied')) WHERE ticket_id = new.id;
        END;
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            at TEXT NOT NULL,
            actor_id INTEGER,
            actor_name TEXT NOT NULL,
            role TEXT NOT NULL,
            unit_code TEXT,
            action TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT,
            note TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_ticket ON events(ticket_id, id);
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
        CREATE TABLE requests (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            kind TEXT NOT NULL CHECK (kind IN ('extension','return')),
            unit_code TEXT NOT NULL REFERENCES units(code),
            requested_by INTEGER,
            requested_at TEXT NOT NULL,
            workdays INTEGER,
            reason_code TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','approved','refused')),
            decided_by INTEGER,
            decided_at TEXT,
            decision_note TEXT NOT NULL DEFAULT '',
            new_due_at TEXT
        );
        CREATE INDEX requests_pending ON requests(status, kind, requested_at);
        CREATE INDEX requests_ticket ON requests(ticket_id);
        CREATE TABLE attachments (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            event_id INTEGER REFERENCES events(id),
            sha256 TEXT NOT NULL,
            mime TEXT NOT NULL,
            size INTEGER NOT NULL,
            label TEXT NOT NULL DEFAULT '',
            uploaded_by INTEGER,
            unit_code TEXT,
            uploaded_at TEXT NOT NULL
        );
        CREATE INDEX attachments_ticket ON attachments(ticket_id);
        CREATE TABLE ticket_seq (day TEXT PRIMARY KEY, last INTEGER NOT NULL);
        CREATE TABLE api_tokens (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('operator','center','handler','leader','admin')),
            unit_code TEXT REFERENCES units(code),
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT,
            last_used_at TEXT
        );
        CREATE TABLE idempotency (
            key TEXT PRIMARY KEY,
            ticket_id INTEGER,
            result TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE VIRTUAL TABLE tickets_fts USING fts5(
            title, content, caller_name, address, content='tickets', content_rowid='id', tokenize='trigram'
        );
        """
        + FTS_TRIGGERS,
    )


@migration(3, "repeats")
def m003_repeats(db: sqlite_utils.Database) -> None:
    """Key supervision (重点督办): items, their member tickets, links between tickets, the item timeline, clue transfers."""
    run_script(
        db,
        """
        CREATE TABLE supervision_items (
            id INTEGER PRIMARY KEY,
            rule TEXT NOT NULL CHECK (rule IN ('repeat_caller','mass_event','manual')),
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','closed')),
            title TEXT NOT NULL,
            caller_key TEXT NOT NULL DEFAULT '',
            territory_code TEXT REFERENCES territories(code),
            township_code TEXT REFERENCES territories(code),
            category_code TEXT REFERENCES categories(code),
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL,
            ticket_count INTEGER NOT NULL DEFAULT 0,
            caller_count INTEGER NOT NULL DEFAULT 0,
            open_count INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            created_by INTEGER REFERENCES users(id),
            created_by_name TEXT NOT NULL,
            closed_at TEXT,
            closed_by INTEGER REFERENCES users(id),
            closed_by_name TEXT NOT NULL DEFAULT '',
            close_kind TEXT CHECK (close_kind IN ('all_closed','decision','merged','dissolved')),
            close_reason TEXT NOT NULL DEFAULT '',
            merged_into INTEGER REFERENCES supervision_items(id),
            updated_at TEXT NOT NULL,
            CHECK ((status = 'closed') = (close_kind IS NOT NULL))
        );
        CREATE INDEX supervision_items_status ON supervision_items(status, last_at);
        CREATE INDEX supervision_items_township ON supervision_items(township_code, last_at);
        CREATE TABLE supervision_members (
            item_id INTEGER NOT NULL REFERENCES supervision_items(id),
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            how TEXT NOT NULL CHECK (how IN ('rule','manual','link')),
            added_at TEXT NOT NULL,
            added_by INTEGER REFERENCES users(id),
            added_by_name TEXT NOT NULL,
            PRIMARY KEY (item_id, ticket_id)
        ) WITHOUT ROWID;
        CREATE INDEX supervision_members_ticket ON supervision_members(ticket_id, item_id);
        CREATE TABLE ticket_links (
            a_id INTEGER NOT NULL REFERENCES tickets(id),
            b_id INTEGER NOT NULL REFERENCES tickets(id),
            state TEXT NOT NULL CHECK (state IN ('linked','detached')),
            at TEXT NOT NULL,
            actor_id INTEGER REFERENCES users(id),
            actor_name TEXT NOT NULL,
            role TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (a_id, b_id),
            CHECK (a_id < b_id)
        ) WITHOUT ROWID;
        CREATE INDEX ticket_links_b ON ticket_links(b_id, a_id);
        CREATE TABLE supervision_notes (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES supervision_items(id),
            at TEXT NOT NULL,
            actor_id INTEGER REFERENCES users(id),
            actor_name TEXT NOT NULL,
            role TEXT NOT NULL,
            kind TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX supervision_notes_item ON supervision_notes(item_id, id);
        CREATE TRIGGER supervision_notes_no_update BEFORE UPDATE ON supervision_notes
        BEGIN SELECT RAISE(ABORT, 'supervision notes are append-only'); END;
        CREATE TRIGGER supervision_notes_no_delete BEFORE DELETE ON supervision_notes
        BEGIN SELECT RAISE(ABORT, 'supervision notes are append-only'); END;
        CREATE TABLE clue_transfers (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES supervision_items(id),
            target TEXT NOT NULL CHECK (target IN ('discipline','petition')),
            recipient TEXT NOT NULL,
            summary TEXT NOT NULL,
            materials TEXT NOT NULL DEFAULT '',
            year INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            doc_number TEXT NOT NULL,
            at TEXT NOT NULL,
            actor_id INTEGER REFERENCES users(id),
            actor_name TEXT NOT NULL,
            UNIQUE (year, seq)
        );
        CREATE INDEX clue_transfers_item ON clue_transfers(item_id);
        """,
    )


@migration(4, "reminders")
def m004_reminders(db: sqlite_utils.Database) -> None:
    """Reminders fired once per (ticket, kind, deadline), in-app notifications, the outbox, job runs, notices."""
    run_script(
        db,
        """
        CREATE TABLE reminders (
            id INTEGER PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES tickets(id),
            kind TEXT NOT NULL,
            deadline TEXT NOT NULL,
            due_at TEXT NOT NULL,
            fired_at TEXT NOT NULL,
            late INTEGER NOT NULL DEFAULT 0,
            superseded INTEGER NOT NULL DEFAULT 0,
            UNIQUE (ticket_id, kind, deadline)
        );
        CREATE INDEX reminders_fired ON reminders(fired_at);
        CREATE INDEX ticket_units_unsigned ON ticket_units(ticket_id) WHERE active = 1 AND signed_at IS NULL;
        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            ticket_id INTEGER REFERENCES tickets(id),
            unit_code TEXT REFERENCES units(code),
            user_id INTEGER REFERENCES users(id),
            role TEXT,
            text TEXT NOT NULL,
            deadline TEXT,
            late INTEGER NOT NULL DEFAULT 0,
            reminder_id INTEGER REFERENCES reminders(id),
            created_at TEXT NOT NULL,
            CHECK ((unit_code IS NOT NULL) + (user_id IS NOT NULL) + (role IS NOT NULL) = 1)
        );
        CREATE INDEX notifications_unit ON notifications(unit_code, id) WHERE unit_code IS NOT NULL;
        CREATE INDEX notifications_user ON notifications(user_id, id) WHERE user_id IS NOT NULL;
        CREATE INDEX notifications_role ON notifications(role, id) WHERE role IS NOT NULL;
        CREATE INDEX notifications_ticket ON notifications(ticket_id);
        CREATE TABLE notification_reads (
            notification_id INTEGER NOT NULL REFERENCES notifications(id),
            user_id INTEGER NOT NULL REFERENCES users(id),
            read_at TEXT NOT NULL,
            PRIMARY KEY (notification_id, user_id)
        ) WITHOUT ROWID;
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            notification_id INTEGER NOT NULL REFERENCES notifications(id),
            channel TEXT NOT NULL CHECK (channel IN ('sms','file')),
            recipient TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sent','failed','skipped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            sent_at TEXT,
            UNIQUE (notification_id, channel, recipient)
        );
        CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
        CREATE TABLE job_runs (
            job_id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            last_started_at TEXT,
            last_finished_at TEXT,
            last_ok_at TEXT,
            last_result TEXT NOT NULL DEFAULT '',
            last_error TEXT NOT NULL DEFAULT '',
            last_error_at TEXT,
            next_run_at TEXT,
            runs INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            holder TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE notices (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'overdue',
            day TEXT NOT NULL,
            year INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            doc_number TEXT NOT NULL,
            title TEXT NOT NULL,
            generated_at TEXT NOT NULL,
            as_of TEXT NOT NULL,
            scheduled INTEGER NOT NULL DEFAULT 0,
            created_by TEXT NOT NULL DEFAULT '',
            ticket_count INTEGER NOT NULL,
            unit_count INTEGER NOT NULL,
            data TEXT NOT NULL,
            UNIQUE (kind, year, seq)
        );
        CREATE UNIQUE INDEX notices_scheduled_day ON notices(kind, day) WHERE scheduled = 1;
        CREATE INDEX notices_generated ON notices(generated_at);
        """,
    )
