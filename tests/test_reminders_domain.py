"""The pure reminder rules: when each kind falls due, around holidays and make-up days; late; superseded; slots."""
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import at

from app.domain import reminders as r
from app.domain.calendar import HOLIDAY, WORKDAY, WorkCalendar

TZ = ZoneInfo("Asia/Shanghai")
# 2026 Spring Festival: 15–23 Feb off, Saturdays 14 Feb and 28 Feb are make-up working days
SPRING = WorkCalendar(
    {**{date(2026, 2, d): (HOLIDAY, "春节") for d in (16, 17, 18, 19, 20, 23)},
     date(2026, 2, 14): (WORKDAY, "春节调休"), date(2026, 2, 28): (WORKDAY, "春节调休")},
    frozenset({2026}),
)
POLICY = r.Policy(tz=TZ)


def cand(family, deadline, started=None, done=()):
    return r.Candidate(family, 1, "TST-20260302-0001", "路灯不亮", at(deadline), at(started) if started else None,
                       (("QSZ", "青石镇人民政府"),), frozenset(done))


@pytest.mark.parametrize("day, n, expected", [
    ("2026-03-06", 0, "2026-03-06"),  # the due day itself
    ("2026-03-06", 1, "2026-03-05"),
    ("2026-03-09", 1, "2026-03-06"),  # Monday's: the Friday before
    ("2026-02-24", 1, "2026-02-14"),  # after the Spring Festival: the make-up Saturday
    ("2026-03-02", 1, "2026-02-28"),  # a Monday after a make-up Saturday
    ("2026-02-25", 2, "2026-02-14"),
])
def test_workday_before(day, n, expected):
    assert r.workday_before(SPRING, date.fromisoformat(day), n) == date.fromisoformat(expected)


@pytest.mark.parametrize("kind, family, deadline, started, expected", [
    # a normal sign period of 24 h: two hours before
    ("sign_soon", "sign", "2026-03-03 09:00", "2026-03-02 09:00", "2026-03-03 07:00"),
    # a critical 30-minute sign period: never earlier than half-way (15 minutes in)
    ("sign_soon", "sign", "2026-03-02 10:30", "2026-03-02 10:00", "2026-03-02 10:15"),
    ("sign_overdue", "sign", "2026-03-03 09:00", "2026-03-02 09:00", "2026-03-03 09:00"),
    # working-day deadline at 23:59:59: due_remind_time on the working day before
    ("due_soon", "due", "2026-03-09 23:59:59", "2026-03-02 09:00", "2026-03-06 08:30"),
    ("due_soon", "due", "2026-02-24 23:59:59", "2026-02-12 09:00", "2026-02-14 08:30"),
    # urgent: 24 h deadline, lead one day capped at half the period
    ("due_soon", "due", "2026-03-03 09:00", "2026-03-02 09:00", "2026-03-02 21:00"),
    ("due_overdue", "due", "2026-03-09 23:59:59", "2026-03-02 09:00", "2026-03-09 23:59:59"),
    ("extension_waiting", "extension", "2026-03-03 10:00", None, "2026-03-03 18:00"),
    ("return_waiting", "return", "2026-03-03 10:00", None, "2026-03-03 18:00"),
    ("callback_due", "callback", "2026-03-04 10:00", None, "2026-03-05 10:00"),
])
def test_moment_of_each_kind(kind, family, deadline, started, expected):
    c = cand(family, deadline, started)
    assert r.moment(kind, c, POLICY, SPRING) == at(expected)


@pytest.mark.parametrize("family, deadline, started, moments", [
    ("sign", "2026-03-03 09:00", "2026-03-02 09:00", {"sign_soon": "2026-03-03 07:00", "sign_overdue": "2026-03-03 09:00"}),
    ("due", "2026-03-09 23:59:59", "2026-03-02 09:00",
     {"due_soon": "2026-03-06 08:30", "due_overdue": "2026-03-09 23:59:59"}),
])
def test_each_kind_is_due_at_its_moment_and_not_a_second_before(family, deadline, started, moments):
    c = cand(family, deadline, started)
    for kind, moment in moments.items():
        before = {x.kind for x in r.due(c, at(moment) - timedelta(seconds=1), None, POLICY, SPRING)}
        now = {x.kind for x in r.due(c, at(moment), None, POLICY, SPRING)}
        assert kind not in before and kind in now


def test_recorded_kinds_are_not_due_again():
    c = cand("sign", "2026-03-03 09:00", "2026-03-02 09:00", done={"sign_soon"})
    assert [x.kind for x in r.due(c, at("2026-03-03 09:30"), None, POLICY, SPRING)] == ["sign_overdue"]


def test_a_soon_reminder_after_its_deadline_is_superseded_and_says_nothing():
    c = cand("sign", "2026-03-03 09:00", "2026-03-02 09:00")
    due = {x.kind: x for x in r.due(c, at("2026-03-03 12:00"), at("2026-03-02 09:01"), POLICY, SPRING)}
    assert due["sign_soon"].superseded and not due["sign_overdue"].superseded
    assert r.messages(due["sign_soon"], c, POLICY) == []
    assert [m.to for m in r.messages(due["sign_overdue"], c, POLICY)] == ["QSZ", "center"]


@pytest.mark.parametrize("moment, last, now, late", [
    ("2026-03-03 09:00", "2026-03-03 08:59:30", "2026-03-03 09:00:30", False),  # the ordinary minute
    ("2026-03-03 09:00", "2026-03-02 18:00", "2026-03-03 12:00", True),  # the server was off at 09:00
    ("2026-03-03 09:00", "2026-03-03 09:30", "2026-03-03 10:00", False),  # became due later (e.g. a new dispatch)
    ("2026-03-03 09:00", None, "2026-03-03 12:00", False),  # the very first sweep: no downtime to speak of
])
def test_late_means_fell_due_while_the_server_was_off(moment, last, now, late):
    assert r.is_late(at(moment), at(now), at(last) if last else None, POLICY.grace) is late


def test_late_messages_are_marked():
    c = cand("due", "2026-03-09 23:59:59", "2026-03-02 09:00")
    rem = r.Reminder("due_overdue", 1, c.deadline, c.deadline, True, False)
    texts = [m.text for m in r.messages(rem, c, POLICY)]
    assert all(t.startswith(r.LATE_MARK) for t in texts) and "3月9日 23:59" in texts[0]


@pytest.mark.parametrize("now, expected", [
    ("2026-03-02 08:30", "2026-03-02 08:30"),  # Monday, on the minute
    ("2026-03-02 08:29", None),
    ("2026-03-07 09:00", None),  # Saturday
    ("2026-02-17 09:00", None),  # Spring Festival holiday (Tuesday)
    ("2026-02-14 09:00", "2026-02-14 08:30"),  # make-up Saturday
    ("2026-02-28 08:30", "2026-02-28 08:30"),  # make-up Saturday
])
def test_notice_slot_follows_the_calendar(now, expected):
    slot = r.notice_slot(SPRING, at(now), time(8, 30), TZ)
    assert slot == (at(expected) if expected else None)


def test_next_notice_skips_the_holiday_and_keeps_the_make_up_saturday():
    assert r.next_notice_at(SPRING, at("2026-02-13 09:00"), time(8, 30), TZ) == at("2026-02-14 08:30")
    assert r.next_notice_at(SPRING, at("2026-02-14 09:00"), time(8, 30), TZ) == at("2026-02-24 08:30")


@pytest.mark.parametrize("now, slot", [
    ("2026-03-02 03:00", "2026-03-02 02:30"),
    ("2026-03-02 02:00", "2026-03-01 02:30"),
])
def test_latest_slot(now, slot):
    assert r.latest_slot(at(now), time(2, 30), TZ) == at(slot)


@pytest.mark.parametrize("deadline, now, days", [
    ("2026-03-09 23:59:59", "2026-03-09 23:00", 0),
    ("2026-03-09 23:59:59", "2026-03-10 08:30", 1),
    ("2026-03-09 23:59:59", "2026-03-12 08:30", 3),
    ("2026-03-02 10:00", "2026-03-02 11:00", 1),
])
def test_days_overdue_counts_a_started_day(deadline, now, days):
    assert r.days_overdue(at(deadline), at(now)) == days


def test_horizons_bound_every_due_moment():
    now = at("2026-02-13 09:00")
    # the due day two working days on (Spring Festival in between) is still inside the due horizon
    assert r.due_horizon(now, POLICY, SPRING) >= datetime(2026, 2, 24, 23, 59, 59, tzinfo=TZ)
    assert r.sign_horizon(now, POLICY) == now + POLICY.sign_lead
