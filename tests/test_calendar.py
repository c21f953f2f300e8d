"""Working days and deadlines (pure domain) and the editable calendar table (service)."""
from dataclasses import asdict
from datetime import date, datetime, time, timedelta, timezone

import pytest
from conftest import TZ, at

from app.config import parse
from app.domain.calendar import (HOLIDAY, WORKDAY, UrgencyRule, WorkCalendar, dispatch_deadlines, end_of_workday,
                                 month_grid)
from app.domain.errors import ImportFailed, ValidationFailed
from app.domain.roles import SYSTEM
from app.services import calendar as calendar_svc
from app.store import scalar

D = date.fromisoformat
DEFAULTS = parse({}).deadlines
NORMAL = UrgencyRule(**asdict(DEFAULTS.normal))
URGENT = UrgencyRule(**asdict(DEFAULTS.urgent))
CRITICAL = UrgencyRule(**asdict(DEFAULTS.critical))


def hand_built() -> WorkCalendar:
    """2026 Spring Festival and National Day as the State Council published them, typed in by hand."""
    holidays = ["2026-09-25", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23",
                "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"]
    overrides = {D(d): (HOLIDAY, "假日") for d in holidays}
    overrides |= {D(d): (WORKDAY, "调休") for d in ("2026-02-14", "2026-02-28", "2026-09-20", "2026-10-10")}
    return WorkCalendar(overrides, frozenset({2026}))


@pytest.fixture(params=["seeded", "hand-built"])
def cal(request):
    """Both the calendar loaded from the real seeded table and the hand-built one must agree."""
    if request.param == "hand-built":
        return hand_built()
    return calendar_svc.load(request.getfixturevalue("db"))


# ---- working days ---------------------------------------------------------------------------


@pytest.mark.parametrize("day,working", [
    ("2026-02-13", True),   # Friday before the Spring Festival
    ("2026-02-14", True),   # make-up Saturday
    ("2026-02-15", False),  # Sunday inside the holiday
    ("2026-02-16", False),  # Monday, holiday
    ("2026-02-20", False),  # Friday, holiday
    ("2026-02-23", False),  # Monday, last day of the holiday
    ("2026-02-24", True),   # back to work
    ("2026-02-28", True),   # second make-up Saturday
    ("2026-03-01", False),  # ordinary Sunday
    ("2026-03-07", False),  # ordinary Saturday
    ("2026-03-09", True),   # ordinary Monday
    ("2026-10-01", False),  # National Day
    ("2026-10-10", True),   # make-up Saturday after National Day
])
def test_is_workday_around_holidays(cal, day, working):
    assert cal.is_workday(D(day)) is working


@pytest.mark.parametrize("day,kind", [("2026-02-14", WORKDAY), ("2026-02-16", HOLIDAY), ("2026-03-09", "normal"),
                                      ("2026-03-07", "normal")])
def test_info_kind(cal, day, kind):
    info = cal.info(D(day))
    assert info.kind == kind and info.known_year and info.day == D(day)


@pytest.mark.parametrize("start,n,expected", [
    ("2026-09-30", 5, "2026-10-13"),   # DOMAIN.md example
    ("2026-09-30", 1, "2026-10-08"),
    ("2026-09-30", 0, "2026-09-30"),
    ("2026-02-13", 1, "2026-02-14"),   # Friday → make-up Saturday
    ("2026-02-13", 2, "2026-02-24"),
    ("2026-02-14", 5, "2026-02-28"),   # from a make-up Saturday: the day itself does not count
    ("2026-03-07", 1, "2026-03-09"),   # from an ordinary Saturday
    ("2026-02-18", 1, "2026-02-24"),   # from inside the holiday
])
def test_add_workdays(cal, start, n, expected):
    assert cal.add_workdays(D(start), n) == D(expected)


def test_add_workdays_refuses_negative():
    with pytest.raises(ValueError):
        hand_built().add_workdays(D("2026-03-02"), -1)


@pytest.mark.parametrize("start,end,count", [
    ("2026-09-30", "2026-10-13", 5),
    ("2026-09-30", "2026-10-07", 0),
    ("2026-02-13", "2026-02-28", 6),
    ("2026-03-02", "2026-03-02", 0),
])
def test_workdays_between(cal, start, end, count):
    assert cal.workdays_between(D(start), D(end)) == count


# ---- deadlines of a dispatch ----------------------------------------------------------------


@pytest.mark.parametrize("dispatched,rule,sign,due", [
    # DOMAIN.md: 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13
    ("2026-09-30 10:00", NORMAL, "2026-10-01 10:00", "2026-10-13 23:59:59"),
    ("2026-09-30 23:59", NORMAL, "2026-10-01 23:59", "2026-10-13 23:59:59"),
    # dispatched on a holiday: the dispatch day never counts anyway
    ("2026-10-01 09:00", NORMAL, "2026-10-02 09:00", "2026-10-13 23:59:59"),
    # dispatched on an ordinary Saturday
    ("2026-03-07 15:00", NORMAL, "2026-03-08 15:00", "2026-03-13 23:59:59"),
    # dispatched on a make-up Saturday: it is a working day but still not counted
    ("2026-02-14 11:00", NORMAL, "2026-02-15 11:00", "2026-02-28 23:59:59"),
    # Friday before the Spring Festival: the make-up Saturday counts, the holiday does not
    ("2026-02-13 16:00", NORMAL, "2026-02-14 16:00", "2026-02-27 23:59:59"),
    # urgent and critical are natural hours, holidays or not
    ("2026-09-30 10:00", URGENT, "2026-09-30 12:00", "2026-10-01 10:00"),
    ("2026-10-03 22:30", URGENT, "2026-10-04 00:30", "2026-10-04 22:30"),
    ("2026-09-30 10:00", CRITICAL, "2026-09-30 10:30", "2026-09-30 11:00"),
    ("2026-02-16 23:45", CRITICAL, "2026-02-17 00:15", "2026-02-17 00:45"),
])
def test_dispatch_deadlines(cal, dispatched, rule, sign, due):
    dl = dispatch_deadlines(cal, rule, at(dispatched), TZ)
    assert dl.sign_deadline == at(sign)
    assert dl.due_at == datetime.fromisoformat(due).replace(tzinfo=TZ)
    assert dl.due_at.utcoffset() == timedelta(hours=8)


def test_config_defaults_are_the_domain_table():
    """DOMAIN.md: normal 24 h / 5 working days, urgent 2 h / 24 h, critical 30 min / 1 h."""
    assert (NORMAL.sign_minutes, NORMAL.complete_workdays, NORMAL.complete_hours) == (24 * 60, 5, 0)
    assert (URGENT.sign_minutes, URGENT.complete_workdays, URGENT.complete_hours) == (120, 0, 24)
    assert (CRITICAL.sign_minutes, CRITICAL.complete_workdays, CRITICAL.complete_hours) == (30, 0, 1)


def test_dispatch_day_is_the_local_day():
    """01:00 in Shanghai on 09-30 is still 09-29 in UTC; counting starts from the local day."""
    dispatched = datetime(2026, 9, 29, 17, 0, tzinfo=timezone.utc)
    dl = dispatch_deadlines(hand_built(), NORMAL, dispatched, TZ)
    assert dl.due_at == datetime(2026, 10, 13, 23, 59, 59, tzinfo=TZ)
    assert dl.sign_deadline.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("start,n,due", [
    (datetime(2026, 9, 29, 17, 0, tzinfo=timezone.utc), 5, "2026-10-13"),   # 09-30 01:00 in Shanghai
    (datetime(2026, 9, 29, 15, 0, tzinfo=timezone.utc), 5, "2026-10-12"),   # 09-29 23:00 in Shanghai
    (datetime(2026, 2, 13, 16, 30, tzinfo=timezone.utc), 1, "2026-02-24"),  # 02-14 00:30, the make-up Saturday
])
def test_end_of_workday_counts_from_the_local_day(start, n, due):
    assert end_of_workday(hand_built(), start, n, TZ) == datetime.combine(D(due), time(23, 59, 59), tzinfo=TZ)


def test_naive_dispatch_time_is_refused():
    with pytest.raises(ValueError):
        dispatch_deadlines(hand_built(), NORMAL, datetime(2026, 9, 30, 10, 0), TZ)


# ---- years without data -------------------------------------------------------------------


@pytest.mark.parametrize("dispatched,due,gaps", [
    ("2027-01-29 10:00", "2027-02-05", {2027}),   # weekends only: Mon–Fri of the next week
    ("2027-02-05 10:00", "2027-02-12", {2027}),   # no Spring Festival known for 2027: plain weekdays
    ("2026-12-29 10:00", "2027-01-05", {2027}),   # crosses into the unknown year; 2027-01-01 counts
    ("2028-02-28 10:00", "2028-03-06", {2028}),   # leap day 2028-02-29 is a working Tuesday
])
def test_year_without_data_counts_weekends_only(cal, dispatched, due, gaps):
    dl = dispatch_deadlines(cal, NORMAL, at(dispatched), TZ)
    assert dl.due_at == datetime.combine(D(due), time(23, 59, 59), tzinfo=TZ)
    assert cal.gaps == gaps
    start = at(dispatched).date()
    assert cal.missing_years(start, dl.due_at.date()) == sorted(gaps)


def test_known_year_records_no_gap(cal):
    cal.add_workdays(D("2026-09-30"), 5)
    assert cal.gaps == set()
    assert cal.missing_years(D("2026-01-01"), D("2026-12-31")) == []


def test_missing_years_spans_several_years(cal):
    assert cal.missing_years(D("2026-11-01"), D("2028-01-10")) == [2027, 2028]


def test_seeded_table_has_no_2027(cal):
    info = cal.info(D("2027-01-01"))
    assert info.working and not info.known_year and info.kind == "normal"


# ---- month grid ------------------------------------------------------------------------------


@pytest.mark.parametrize("year,month,weeks,lead,trail", [
    (2026, 2, 5, 6, 1),    # starts on a Sunday, 28 days
    (2021, 2, 4, 0, 0),    # starts on a Monday, 28 days: exactly four weeks
    (2026, 3, 6, 6, 5),    # starts on a Sunday, 31 days: six rows
    (2026, 12, 5, 1, 3),   # December: the next month is January of the next year
])
def test_month_grid_shape(cal, year, month, weeks, lead, trail):
    grid = month_grid(cal, year, month)
    assert len(grid) == weeks
    assert all(len(w) == 7 for w in grid)
    flat = [d for w in grid for d in w]
    assert flat[:lead] == [None] * lead and flat[lead] is not None
    assert flat[len(flat) - trail:] == [None] * trail and flat[len(flat) - trail - 1] is not None
    days = [d.day for d in flat if d is not None]
    assert days[0] == date(year, month, 1) and all(d.month == month for d in days)
    assert [b - a for a, b in zip(days, days[1:])] == [timedelta(days=1)] * (len(days) - 1)
    for i, info in enumerate(flat):
        if info is not None:
            assert info.day.weekday() == i % 7, "Monday is the first column"


def test_month_grid_marks_make_up_day(cal):
    grid = month_grid(cal, 2026, 2)
    by_day = {d.day: d for w in grid for d in w if d}
    assert by_day[D("2026-02-14")].working and by_day[D("2026-02-14")].kind == WORKDAY
    assert not by_day[D("2026-02-16")].working and by_day[D("2026-02-16")].kind == HOLIDAY


# ---- the calendar table: import, edits, cache, coverage -------------------------------------------

GOOD_2027 = "date,type,name\n2027-01-01,节假日,元旦\n2027-02-08,节假日,春节\n2027-02-20,调休上班,春节调休\n"


def _rows(db):
    return (db.conn.execute("SELECT * FROM calendar_days ORDER BY date").fetchall(),
            db.conn.execute("SELECT * FROM calendar_years ORDER BY year").fetchall(),
            scalar(db, "SELECT value FROM meta WHERE key = 'calendar_version'"))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_import_adds_a_year(db, encoding):
    before = calendar_svc.load(db)
    assert not before.info(D("2027-02-08")).known_year
    result = calendar_svc.import_csv(db, SYSTEM, GOOD_2027.encode(encoding), at("2026-11-20 10:00"))
    assert result == {2027: 3}
    cal = calendar_svc.load(db)
    assert 2027 in cal.years
    assert cal.info(D("2027-02-08")).name == "春节" and not cal.is_workday(D("2027-02-08"))
    assert cal.is_workday(D("2027-02-20")) and cal.info(D("2027-02-20")).name == "春节调休"
    assert cal.is_workday(D("2027-02-09"))
    assert scalar(db, "SELECT source FROM calendar_years WHERE year = 2027") == "import"
    assert scalar(db, "SELECT COUNT(*) FROM audit_log WHERE action = 'calendar.import' AND target = '2027'") == 1


def test_import_accepts_excel_dates(db):
    """Excel on Chinese Windows saves dates as 2027/2/6."""
    data = "date,type,name\n2027/2/6,节假日,春节\n2027/02/20,调休上班,春节调休\n2027-1-1,节假日,元旦\n".encode("gbk")
    assert calendar_svc.import_csv(db, SYSTEM, data, at("2026-11-20 10:00")) == {2027: 3}
    cal = calendar_svc.load(db)
    assert not cal.is_workday(D("2027-02-06")) and cal.is_workday(D("2027-02-20")) and not cal.is_workday(D("2027-01-01"))


def test_import_replaces_the_year(db):
    calendar_svc.import_csv(db, SYSTEM, "date,type,name\n2026-03-02,节假日,试验\n".encode(), at("2026-03-01 10:00"))
    cal = calendar_svc.load(db)
    assert not cal.is_workday(D("2026-03-02"))
    assert cal.is_workday(D("2026-02-16")), "the old 2026 Spring Festival rows are replaced by the file"


BAD_ROWS = [
    ("2027-13-01,节假日,坏日期", "格式不对"),
    ("2027-02-09,放假,坏类型", "不认识"),
    ("2027-01-01,节假日,重复", "重复"),
    ("2027-02-10,调休上班,周三", "本来就上班"),
    (",节假日,空日期", "格式不对"),
    ("2027/2/30,节假日,不存在的日子", "格式不对"),
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_failed_import_changes_nothing_and_names_each_bad_line(db, encoding):
    text = GOOD_2027 + "".join(r + "\n" for r, _ in BAD_ROWS) + "2027-05-03,节假日,劳动节\n"
    before = _rows(db)
    with pytest.raises(ImportFailed) as exc:
        calendar_svc.import_csv(db, SYSTEM, text.encode(encoding), at("2026-11-20 10:00"))
    assert [line for line, _ in exc.value.rows] == [5, 6, 7, 8, 9, 10]
    for (line, why), (_, expected) in zip(exc.value.rows, BAD_ROWS):
        assert expected in why, (line, why)
    assert "未导入" in exc.value.message
    assert _rows(db) == before
    assert 2027 not in calendar_svc.load(db).years


@pytest.mark.parametrize("data,why", [
    (b"day,kind\n2027-01-01,holiday\n", "表头"),
    (b"date,type,name\n", "没有数据"),
    (b"\xff\xfe\x00d\x00a", "编码"),
])
def test_import_refuses_unreadable_files(db, data, why):
    before = _rows(db)
    with pytest.raises(ImportFailed) as exc:
        calendar_svc.import_csv(db, SYSTEM, data, at("2026-11-20 10:00"))
    assert why in exc.value.message
    assert _rows(db) == before


@pytest.mark.parametrize("day,kind,working", [
    ("2026-03-02", HOLIDAY, False),    # an ordinary Monday becomes a holiday
    ("2026-03-07", WORKDAY, True),     # an ordinary Saturday becomes a make-up day
    ("2026-02-14", "normal", False),   # the make-up Saturday goes back to a plain Saturday
    ("2026-02-16", "normal", True),    # the holiday Monday goes back to a plain Monday
])
def test_set_day_is_seen_by_the_next_load(db, day, kind, working):
    first = calendar_svc.load(db)
    assert first.is_workday(D(day)) is not working
    version = scalar(db, "SELECT value FROM meta WHERE key = 'calendar_version'")
    calendar_svc.set_day(db, SYSTEM, D(day), kind, "调整", at("2026-03-01 10:00"))
    assert scalar(db, "SELECT value FROM meta WHERE key = 'calendar_version'") != version
    assert calendar_svc.load(db).is_workday(D(day)) is working
    assert first.is_workday(D(day)) is not working, "a calendar already handed out does not change"
    assert scalar(db, "SELECT COUNT(*) FROM audit_log WHERE action = 'calendar.set_day' AND target = ?", (day,)) == 1


def test_set_day_edit_from_another_connection_invalidates_cache(db, cfg):
    from app.store import connect

    assert calendar_svc.load(db).is_workday(D("2026-03-03"))
    other = connect(cfg.db_path)
    try:
        calendar_svc.set_day(other, SYSTEM, D("2026-03-03"), HOLIDAY, "临时", at("2026-03-01 10:00"))
    finally:
        other.conn.close()
    assert not calendar_svc.load(db).is_workday(D("2026-03-03"))


def test_set_day_refuses_unknown_kind(db):
    before = _rows(db)
    with pytest.raises(ValidationFailed):
        calendar_svc.set_day(db, SYSTEM, D("2026-03-02"), "weekend", "", at("2026-03-01 10:00"))
    assert _rows(db) == before


def test_mark_year_entered(db):
    calendar_svc.mark_year_entered(db, SYSTEM, 2027, at("2026-11-20 10:00"))
    assert 2027 in calendar_svc.load(db).years
    assert calendar_svc.coverage(db, D("2026-12-01"))["missing"] == []


@pytest.mark.parametrize("today,days,missing", [
    ("2026-03-01", 60, []),
    ("2026-11-01", 60, []),            # 2026-12-31 is the last day reached
    ("2026-11-02", 60, [2027]),        # 2027-01-01 is reached
    ("2026-11-23", 60, [2027]),
    ("2026-11-23", 800, [2027, 2028, 2029]),
    ("2027-06-01", 0, [2027]),
])
def test_coverage(db, today, days, missing):
    cov = calendar_svc.coverage(db, D(today), days)
    assert cov["missing"] == missing
    assert (cov["first"], cov["last"]) == (2004, 2026)
    assert [y["year"] for y in cov["years"]] == list(range(2004, 2027))


def test_coverage_without_any_year(db):
    db.conn.execute("DELETE FROM calendar_years")
    db.conn.commit()
    cov = calendar_svc.coverage(db, D("2026-03-01"))
    assert cov == {"years": [], "first": None, "last": None, "missing": [2026]}


def test_seed_from_package_is_idempotent(db):
    before = _rows(db)
    assert calendar_svc.seed_from_package(db, at("2026-03-01 10:00")) == []
    assert _rows(db) == before


def test_seed_fills_a_deleted_year(db):
    db.conn.execute("DELETE FROM calendar_years WHERE year = 2026")
    db.conn.execute("DELETE FROM calendar_days WHERE date LIKE '2026-%'")
    db.conn.commit()
    assert calendar_svc.seed_from_package(db, at("2026-03-01 10:00")) == [2026]
    cal = calendar_svc.load(db)
    assert cal.is_workday(D("2026-02-14")) and cal.info(D("2026-02-16")).name == "春节"
