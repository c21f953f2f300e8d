"""Fill a database with N realistic tickets and their events by bulk inserts (1M in a few minutes).

    .venv/bin/python bench/seed.py --tickets 1000000 --out bench/data/1m.db

The database is a normal hotline database (migrated, demo county without demo tickets, calendar
seeded); tickets arrive at PER_DAY a day before --now (1M tickets is eighteen years of one county), the
newest OPEN_WINDOW may still be open in every state, all older ones are closed or otherwise ended, and
each has the events its state implies. Run on demand; never part of the tests.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import config as config_mod  # noqa: E402
from app.demo.callers import GIVEN, SAMPLE_APPEALS, SURNAMES  # noqa: E402
from app.services import calendar as calendar_svc, catalogue, demo  # noqa: E402
from app.store import all_rows, connect  # noqa: E402
from app.store.migrations import FTS_TRIGGERS, migrate, run_script  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
OPEN_MIX = [("received", 2), ("dispatched", 3), ("in_progress", 7), ("replied", 3)]
FINAL_MIX = [("closed", 80), ("answered_directly", 12), ("rejected", 1), ("transferred", 1)]
BATCH = 20_000
PER_DAY = 150  # calls a day in a county of about 400,000 people
OPEN_WINDOW = 3_000  # the newest three weeks of calls may still be open


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def seed(path: Path, n: int, now: datetime, rnd_seed: int = 7) -> dict:
    """Create `path` with n tickets; return counts and the seconds it took."""
    if path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    cfg = config_mod.parse({"county": {"name": "云岭县", "code": "YLX"}}, str(path.parent / "bench.toml"))
    started = time.perf_counter()
    db = connect(path)
    migrate(db)
    calendar_svc.seed_from_package(db, now)
    demo.load(db, cfg, now, with_tickets=False)
    conn = db.conn
    conn.execute("PRAGMA synchronous=OFF")  # seeding only: a crash here just means seeding again
    rnd = random.Random(rnd_seed)
    villages = all_rows(db, "SELECT code, name, parent_code FROM territories WHERE level != 'township'")
    leads = {}
    for a in SAMPLE_APPEALS:
        for v in villages:
            s = catalogue.suggest(db, a["category"], v["code"], "")
            leads[(a["category"], v["code"])] = next((x.unit_code for x in s if x.role == "lead"), "QSZ")
    users = {r["username"]: r["id"] for r in all_rows(db, "SELECT id, username FROM users")}
    # FTS is rebuilt once at the end: per-row trigger maintenance would dominate the seeding time
    conn.execute("DROP TRIGGER tickets_fts_ai")
    conn.execute("DROP TRIGGER tickets_fts_au")
    phones = [f"1{rnd.choice('3578')}{rnd.randint(100000000, 999999999)}" for _ in range(max(1000, n // 3))]
    # one county at PER_DAY calls a day: a bigger database is a longer history, not a busier today
    span = timedelta(days=n / PER_DAY).total_seconds()
    per_day: dict[str, int] = {}
    ticket_rows, unit_rows, event_rows = [], [], []
    times = sorted(now - timedelta(seconds=rnd.random() * span) for _ in range(n))
    tid = 0
    for received in times:
        tid += 1
        day = received.strftime("%Y%m%d")
        per_day[day] = per_day.get(day, 0) + 1
        number = f"YLX-{day}-{per_day[day]:04d}"
        a = SAMPLE_APPEALS[rnd.randrange(len(SAMPLE_APPEALS))]
        v = villages[rnd.randrange(len(villages))]
        # the work in hand is about the same whatever the history: only the newest OPEN_WINDOW tickets
        # can still be open, so 10k, 100k and 1M databases differ in history, not in today's queues
        mix = OPEN_MIX if tid > n - OPEN_WINDOW and rnd.random() < 0.6 else FINAL_MIX
        state = rnd.choices([m[0] for m in mix], [m[1] for m in mix])[0]
        lead = leads[(a["category"], v["code"])] if state not in ("received", "answered_directly", "rejected", "transferred") else None
        dispatched = received + timedelta(minutes=rnd.randint(5, 120)) if lead else None
        due = None
        if dispatched:
            due = datetime.combine((dispatched + timedelta(days=7)).date(), datetime.max.time().replace(microsecond=0), TZ)
        signed = dispatched + timedelta(hours=rnd.uniform(0.5, 20)) if lead and state != "dispatched" else None
        replied = signed + timedelta(days=rnd.uniform(0.5, 6)) if signed and state in ("replied", "closed") else None
        closed = (replied + timedelta(days=rnd.uniform(0.2, 2))) if replied and state == "closed" else \
            received if state in ("answered_directly", "rejected", "transferred") else None
        phone = rnd.choice(phones)
        ticket_rows.append((
            tid, number, "phone", a["kind"], "normal", state, _iso(received), _iso(received),
            rnd.choice(SURNAMES) + rnd.choice(GIVEN), phone, phone, v["code"], v["parent_code"], a["category"],
            a["title"], a["content"].replace("{village}", v["name"]), users["operator"], lead,
            _iso(dispatched) if dispatched else None, _iso(dispatched + timedelta(hours=24)) if dispatched else None,
            _iso(signed) if signed else None, _iso(due) if due else None, _iso(replied) if replied else None,
            _iso(closed) if closed else None, "已处理" if replied else "", _iso(closed or replied or received),
        ))
        ev = [(tid, _iso(received), users["operator"], "话务员小李", "operator", None, "intake", None, "received")]
        if lead:
            ev.append((tid, _iso(dispatched), users["center"], "派单员老王", "center", None, "dispatch", "received", "dispatched"))
            unit_rows.append((tid, lead, "lead", 1, _iso(dispatched), _iso(signed) if signed else None,
                              int(state in ("dispatched", "in_progress", "replied"))))
        if signed:
            ev.append((tid, _iso(signed), None, "经办人", "handler", lead, "sign", "dispatched", "in_progress"))
        if replied:
            ev.append((tid, _iso(replied), None, "经办人", "handler", lead, "reply", "in_progress", "replied"))
        if state == "closed":
            ev.append((tid, _iso(closed), users["operator"], "话务员小李", "operator", None, "callback", "replied", "closed"))
        elif state in ("answered_directly", "rejected", "transferred"):
            ev.append((tid, _iso(closed), users["operator"], "话务员小李", "operator", None,
                       {"answered_directly": "answer_directly", "rejected": "reject", "transferred": "transfer"}[state],
                       "received", state))
        event_rows.extend(ev)
        if len(ticket_rows) >= BATCH:
            _flush(conn, ticket_rows, unit_rows, event_rows)
    _flush(conn, ticket_rows, unit_rows, event_rows)
    conn.executemany("INSERT OR REPLACE INTO ticket_seq (day, last) VALUES (?, ?)", per_day.items())
    conn.execute("INSERT INTO tickets_fts(tickets_fts) VALUES ('rebuild')")
    run_script(db, FTS_TRIGGERS)
    conn.commit()  # the FTS rebuild INSERT opened an implicit transaction
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return {"tickets": n, "seconds": round(time.perf_counter() - started, 1), "bytes": path.stat().st_size}


def _flush(conn, tickets, units, events) -> None:
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO tickets (id, number, channel, kind, urgency, state, received_at, created_at, caller_name,"
        " caller_phone, phone_norm, territory_code, township_code, category_code, title, content, operator_id,"
        " lead_unit, dispatched_at, sign_deadline, signed_at, due_at, replied_at, closed_at, reply, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", tickets)
    conn.executemany(
        "INSERT INTO ticket_units (ticket_id, unit_code, role, active, assigned_at, signed_at, open)"
        " VALUES (?,?,?,?,?,?,?)", units)
    conn.executemany(
        "INSERT INTO events (ticket_id, at, actor_id, actor_name, role, unit_code, action, from_state, to_state)"
        " VALUES (?,?,?,?,?,?,?,?,?)", events)
    conn.execute("COMMIT")
    tickets.clear(); units.clear(); events.clear()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tickets", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--now", default="2026-11-23T10:00:00+08:00")
    args = p.parse_args()
    result = seed(args.out, args.tickets, datetime.fromisoformat(args.now))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
