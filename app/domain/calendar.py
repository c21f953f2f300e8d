"""Working days of the Chinese calendar and the deadlines of a dispatch (pure: no I/O, `now` passed in).

A working day is Monday–Friday, minus statutory holidays, plus make-up working days (调休上班日).
For a year the calendar has no data for, weekends-only counting is used and the year is reported
as a gap, so nothing crashes while the admin has not yet entered the State Council's schedule.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HOLIDAY = "holiday"
WORKDAY = "workday"
URGENCIES = ("normal", "urgent", "critical")


@dataclass(frozen=True)
class DayInfo:
    """What the calendar knows of one day."""

    day: date
    working: bool
    kind: str  # "normal", "holiday" or "workday" (a make-up working day)
    name: str
    known_year: bool


@dataclass
class WorkCalendar:
    """Overrides by date plus the set of years whose schedule has been entered."""

    overrides: dict[date, tuple[str, str]] = field(default_factory=dict)  # date -> (kind, name)
    years: frozenset[int] = frozenset()
    gaps: set[int] = field(default_factory=set)  # years met without data, for warnings

    def info(self, day: date) -> DayInfo:
        """Everything known about one day."""
        known = day.year in self.years
        if not known:
            self.gaps.add(day.year)
        if day in self.overrides:
            kind, name = self.overrides[day]
            return DayInfo(day, kind == WORKDAY, kind, name, known)
        return DayInfo(day, day.weekday() < 5, "normal", "", known)

    def is_workday(self, day: date) -> bool:
        """True when people work on this day (make-up Saturdays included, holidays excluded)."""
        return self.info(day).working

    def add_workdays(self, start: date, n: int) -> date:
        """The Nth working day after `start`; `start` itself is never counted."""
        if n < 0:
            raise ValueError("n must be >= 0")
        day = start
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """How many working days lie after `start` up to and including `end`."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count

    def missing_years(self, start: date, end: date) -> list[int]:
        """Years between two dates (inclusive) that have no entered schedule."""
        return [y for y in range(start.year, end.year + 1) if y not in self.years]


@dataclass(frozen=True)
class UrgencyRule:
    """Deadlines of one urgency level: sign within minutes; complete within working days or hours."""

    sign_minutes: int
    complete_workdays: int = 0
    complete_hours: int = 0


@dataclass(frozen=True)
class Deadlines:
    """The sign deadline and the due time of one dispatch."""

    sign_deadline: datetime
    due_at: datetime


def end_of_workday(cal: WorkCalendar, start: datetime, workdays: int, tz: ZoneInfo) -> datetime:
    """23:59:59 local time on the Nth working day after the local day of `start`."""
    local = start.astimezone(tz)
    day = cal.add_workdays(local.date(), workdays)
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


def dispatch_deadlines(cal: WorkCalendar, rule: UrgencyRule, dispatched_at: datetime, tz: ZoneInfo) -> Deadlines:
    """Sign deadline (natural minutes) and due time (working days or natural hours) of a dispatch."""
    if dispatched_at.tzinfo is None:
        raise ValueError("dispatched_at must carry its UTC offset")
    local = dispatched_at.astimezone(tz)
    sign = local + timedelta(minutes=rule.sign_minutes)
    if rule.complete_workdays:
        due = end_of_workday(cal, local, rule.complete_workdays, tz)
    else:
        due = local + timedelta(hours=rule.complete_hours)
    return Deadlines(sign_deadline=sign, due_at=due)


def month_grid(cal: WorkCalendar, year: int, month: int) -> list[list[DayInfo | None]]:
    """Weeks (Monday first) of a month for the admin month view; None pads days of other months."""
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    weeks: list[list[DayInfo | None]] = []
    week: list[DayInfo | None] = [None] * first.weekday()
    day = first
    while day < nxt:
        week.append(cal.info(day))
        if len(week) == 7:
            weeks.append(week)
            week = []
        day += timedelta(days=1)
    if week:
        weeks.append(week + [None] * (7 - len(week)))
    return weeks
