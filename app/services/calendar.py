"""The editable working-day calendar: seeding from chinese-calendar, admin edits, yearly import, coverage."""
from __future__ import annotations

import re
import threading
from datetime import date, datetime, timedelta

from ..domain.calendar import HOLIDAY, WORKDAY, WorkCalendar
from ..domain.errors import ImportFailed, ValidationFailed
from ..domain.roles import Actor
from ..store import all_rows, scalar, write
from . import audit
from .csvfile import read_rows

KIND_LABELS = {HOLIDAY: "节假日", WORKDAY: "调休上班"}

_cache_lock = threading.Lock()
_cache: dict[str, tuple[str, WorkCalendar]] = {}


def _version(db) -> str:
    return scalar(db, "SELECT value FROM meta WHERE key = 'calendar_version'") or "0"


def _bump(db) -> None:
    db.conn.execute(
        "INSERT INTO meta (key, value) VALUES ('calendar_version', '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
    )


def load(db) -> WorkCalendar:
    """The calendar from the database, cached per database file until an edit bumps its version."""
    key = str(db.conn.execute("PRAGMA database_list").fetchone()[2])
    version = _version(db)
    with _cache_lock:
        hit = _cache.get(key)
        if hit and hit[0] == version:
            return WorkCalendar(hit[1].overrides, hit[1].years)
    overrides = {
        date.fromisoformat(r["date"]): (r["kind"], r["name"]) for r in all_rows(db, "SELECT * FROM calendar_days")
    }
    years = frozenset(r["year"] for r in all_rows(db, "SELECT year FROM calendar_years"))
    cal = WorkCalendar(overrides, years)
    with _cache_lock:
        _cache[key] = (version, cal)
    return WorkCalendar(overrides, years)


def seed_from_package(db, now: datetime) -> list[int]:
    """Enter every year chinese-calendar knows that the table does not have yet; return those years."""
    import chinese_calendar

    have = {r["year"] for r in all_rows(db, "SELECT year FROM calendar_years")}
    by_year: dict[int, list[tuple[str, str, str]]] = {}
    for day, name in chinese_calendar.holidays.items():
        if day.weekday() < 5:  # weekends are off anyway; keep only the days that differ from Mon-Fri
            by_year.setdefault(day.year, []).append((day.isoformat(), HOLIDAY, _zh(name)))
    for day, name in chinese_calendar.workdays.items():
        if day.weekday() >= 5:
            by_year.setdefault(day.year, []).append((day.isoformat(), WORKDAY, _zh(name) + "调休"))
    first, last = min(by_year), max(by_year)
    added = []
    with write(db):
        for year in range(first, last + 1):
            if year in have:
                continue
            for row in by_year.get(year, []):
                db.conn.execute("INSERT OR REPLACE INTO calendar_days (date, kind, name) VALUES (?,?,?)", row)
            db.conn.execute(
                "INSERT INTO calendar_years (year, source, updated_at) VALUES (?,?,?)",
                (year, "chinese-calendar", now.isoformat(timespec="seconds")),
            )
            added.append(year)
        if added:
            _bump(db)
    return added


_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


def _zh(name) -> str:
    text = getattr(name, "value", None) or str(name)
    return _NAMES.get(text, text)


def set_day(db, actor: Actor, day: date, kind: str, name: str, now: datetime) -> None:
    """Mark one day as holiday, make-up workday, or back to normal (kind "normal")."""
    if kind not in (HOLIDAY, WORKDAY, "normal"):
        raise ValidationFailed("日期类型只能是节假日、调休上班或恢复正常。", field="kind")
    with write(db):
        if kind == "normal":
            db.conn.execute("DELETE FROM calendar_days WHERE date = ?", (day.isoformat(),))
        else:
            db.conn.execute(
                "INSERT OR REPLACE INTO calendar_days (date, kind, name) VALUES (?,?,?)",
                (day.isoformat(), kind, name.strip()[:40]),
            )
        _bump(db)
        audit.record(db, actor, "calendar.set_day", day.isoformat(), {"kind": kind, "name": name}, now)


def mark_year_entered(db, actor: Actor, year: int, now: datetime) -> None:
    """Declare a year's schedule entered by hand, so it no longer counts as a gap."""
    with write(db):
        db.conn.execute(
            "INSERT OR REPLACE INTO calendar_years (year, source, updated_at) VALUES (?,?,?)",
            (year, "manual", now.isoformat(timespec="seconds")),
        )
        _bump(db)
        audit.record(db, actor, "calendar.mark_year", str(year), {}, now)


def _parse_date(text: str) -> date:
    """2027-01-01, or 2027/1/1 as Excel on Chinese Windows writes dates into a CSV."""
    m = re.fullmatch(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})", text)
    if not m:
        raise ValueError(text)
    return date(int(m[1]), int(m[2]), int(m[3]))


def import_csv(db, actor: Actor, data: bytes, now: datetime) -> dict:
    """Import `date,type,name` rows for whole years; all or nothing. Returns counts per year."""
    rows = read_rows(data, ["date", "type", "name"])
    bad: list[tuple[int, str]] = []
    parsed: list[tuple[date, str, str]] = []
    seen: set[date] = set()
    for line, row in rows:
        try:
            day = _parse_date(row["date"])
        except ValueError:
            bad.append((line, f"日期“{row['date']}”格式不对，应为 2027-01-01"))
            continue
        kind = {"holiday": HOLIDAY, "节假日": HOLIDAY, "假日": HOLIDAY, "休": HOLIDAY,
                "workday": WORKDAY, "调休上班": WORKDAY, "上班": WORKDAY, "班": WORKDAY}.get(row["type"])
        if kind is None:
            bad.append((line, f"类型“{row['type']}”不认识，应为 holiday/节假日 或 workday/调休上班"))
            continue
        if day in seen:
            bad.append((line, f"日期 {day} 重复"))
            continue
        if kind == WORKDAY and day.weekday() < 5:
            bad.append((line, f"{day} 是周一至周五，本来就上班，不能标为调休上班"))
            continue
        seen.add(day)
        parsed.append((day, kind, row["name"][:40]))
    if bad:
        raise ImportFailed(f"日历文件有 {len(bad)} 行有问题，未导入任何数据。", bad)
    years = sorted({d.year for d, _, _ in parsed})
    with write(db):
        for year in years:
            db.conn.execute("DELETE FROM calendar_days WHERE date LIKE ?", (f"{year}-%",))
        for day, kind, name in parsed:
            db.conn.execute(
                "INSERT INTO calendar_days (date, kind, name) VALUES (?,?,?)", (day.isoformat(), kind, name)
            )
        for year in years:
            db.conn.execute(
                "INSERT OR REPLACE INTO calendar_years (year, source, updated_at) VALUES (?,?,?)",
                (year, "import", now.isoformat(timespec="seconds")),
            )
        _bump(db)
        audit.record(db, actor, "calendar.import", ",".join(map(str, years)), {"rows": len(parsed)}, now)
    return {y: sum(1 for d, _, _ in parsed if d.year == y) for y in years}


def coverage(db, today: date, days: int = 60) -> dict:
    """Which years are entered, and which years the next `days` days fall into without data."""
    years = [dict(r) for r in all_rows(db, "SELECT * FROM calendar_years ORDER BY year")]
    entered = {y["year"] for y in years}
    end = today + timedelta(days=days)
    missing = [y for y in range(today.year, end.year + 1) if y not in entered]
    return {
        "years": years,
        "first": years[0]["year"] if years else None,
        "last": years[-1]["year"] if years else None,
        "missing": missing,
    }
