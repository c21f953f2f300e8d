"""What is due to be reminded, and when (pure: no SQL, no Flask; `now` is always an argument).

A reminder is keyed by (ticket, kind, deadline) and fires once. The sweep hands this module the
candidates it read from the database; this module says which reminders are due at `now`, whether each
is late (it fell due while the server was off), and who is told what.

Families and their kinds:
- sign:      `sign_soon` (the configured lead before the sign deadline, at most half the sign period)
             and `sign_overdue` (at the deadline) — for every active unit that has not signed.
- due:       `due_soon` and `due_overdue` for the lead unit. For a working-day deadline (23:59:59 of
             a working day) "soon" is `due_remind_time` on the Nth working day before the due day
             (N = due_lead_workdays; N = 0 is the due day itself). For an hour deadline (urgent,
             critical) it is N × 24 hours before, at most half the period.
- extension / return: a pending request that has waited `request_wait` for the centre.
- callback:  a replied ticket that has waited `callback_wait` for its call-back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .calendar import WorkCalendar

KINDS = {
    "sign_soon": "签收即将到期",
    "sign_overdue": "签收超时",
    "due_soon": "办结即将到期",
    "due_overdue": "办结超期",
    "extension_waiting": "延期申请待审核",
    "return_waiting": "退单申请待审核",
    "callback_due": "待回访",
    "overdue_notice": "超时全县通报",
    "key_supervision": "重点督办",  # services.supervision: an item appeared or came back (一人多次 / 一事多人)
}
OTHER_KIND = "通知"  # the label of a kind another feature sends without adding it to KINDS


def kind_label(kind: str) -> str:
    """The Chinese label of a notification kind."""
    return KINDS.get(kind, OTHER_KIND)


FAMILIES = {
    "sign": ("sign_soon", "sign_overdue"),
    "due": ("due_soon", "due_overdue"),
    "extension": ("extension_waiting",),
    "return": ("return_waiting",),
    "callback": ("callback_due",),
}
SOON = {"sign_soon", "due_soon"}
END_OF_DAY = time(23, 59, 59)
LATE_MARK = "【补发】"
TITLE_CHARS = 20


@dataclass(frozen=True)
class Policy:
    """The configured lead times and waits, and how long after its moment a reminder counts as late."""

    tz: ZoneInfo
    sign_lead: timedelta = timedelta(hours=2)
    due_lead_workdays: int = 1
    due_remind_time: time = time(8, 30)
    request_wait: timedelta = timedelta(hours=8)
    callback_wait: timedelta = timedelta(hours=24)
    grace: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class Candidate:
    """One ticket deadline (or waiting request / call-back) the database says may need a reminder."""

    family: str  # a key of FAMILIES
    ticket_id: int
    number: str
    title: str
    deadline: datetime  # sign / due: the deadline; extension / return / callback: when the wait began
    started_at: datetime | None = None  # when the period began (dispatch), to cap the lead at half of it
    units: tuple[tuple[str, str], ...] = ()  # (code, name): who is told (sign, due) or who asked (requests)
    done: frozenset[str] = frozenset()  # kinds already recorded for this (ticket, deadline)


@dataclass(frozen=True)
class Reminder:
    """A reminder that is due now: its key, the moment it fell due, and whether it is late or superseded."""

    kind: str
    ticket_id: int
    deadline: datetime  # the key's deadline: the candidate's (for waits: when the wait began, whatever the config)
    due_at: datetime
    late: bool
    superseded: bool  # a "soon" reminder whose deadline has already passed: recorded, not sent


@dataclass(frozen=True)
class Message:
    """One notification to send: to a unit (`unit`) or to everyone of a role (`role`)."""

    target: str  # "unit" or "role"
    to: str  # unit code or role id
    text: str


def workday_before(cal: WorkCalendar, day: date, n: int) -> date:
    """The Nth working day before `day` (n = 0 is `day` itself)."""
    counted = 0
    while counted < n:
        day -= timedelta(days=1)
        if cal.is_workday(day):
            counted += 1
    return day


def _capped(deadline: datetime, lead: timedelta, started_at: datetime | None) -> datetime:
    """deadline − lead, but never earlier than half-way through the period (a 30-minute sign period gets 15)."""
    moment = deadline - lead
    if started_at is not None and started_at < deadline:
        moment = max(moment, started_at + (deadline - started_at) / 2)
    return moment


def is_day_deadline(deadline: datetime, tz: ZoneInfo) -> bool:
    """True for a working-day deadline (23:59:59 local), False for an hour deadline."""
    return deadline.astimezone(tz).time() == END_OF_DAY


def moment(kind: str, c: Candidate, policy: Policy, cal: WorkCalendar) -> datetime:
    """When `kind` falls due for this candidate."""
    tz = policy.tz
    if kind == "sign_soon":
        return _capped(c.deadline, policy.sign_lead, c.started_at)
    if kind == "due_soon":
        if is_day_deadline(c.deadline, tz):
            day = workday_before(cal, c.deadline.astimezone(tz).date(), policy.due_lead_workdays)
            return datetime.combine(day, policy.due_remind_time, tzinfo=tz)
        return _capped(c.deadline, timedelta(days=policy.due_lead_workdays), c.started_at)
    if kind in ("sign_overdue", "due_overdue"):
        return c.deadline
    if kind in ("extension_waiting", "return_waiting"):
        return c.deadline + policy.request_wait
    if kind == "callback_due":
        return c.deadline + policy.callback_wait
    raise ValueError(f"unknown reminder kind {kind!r}")


def is_late(due_at: datetime, now: datetime, last_sweep: datetime | None, grace: timedelta) -> bool:
    """Late: it fell due after the previous sweep and more than `grace` ago, so the server was off at its moment.

    A moment before the previous sweep that was not fired then only became true since (a new dispatch,
    an approved extension), so it is not late however old it is. Before the very first sweep there was
    no server to be down: nothing is late.
    """
    return last_sweep is not None and due_at > last_sweep and now - due_at > grace


def due(c: Candidate, now: datetime, last_sweep: datetime | None, policy: Policy, cal: WorkCalendar) -> list[Reminder]:
    """The reminders of this candidate that are due at `now` and not yet recorded."""
    out = []
    for kind in FAMILIES[c.family]:
        if kind in c.done:
            continue
        at = moment(kind, c, policy, cal)
        if at > now:
            continue
        superseded = kind in SOON and now >= c.deadline
        out.append(Reminder(kind, c.ticket_id, c.deadline, at, is_late(at, now, last_sweep, policy.grace), superseded))
    return out


def sign_horizon(now: datetime, policy: Policy) -> datetime:
    """Sign deadlines later than this cannot have a reminder due yet (a safe bound for the query)."""
    return now + policy.sign_lead


def due_horizon(now: datetime, policy: Policy, cal: WorkCalendar) -> datetime:
    """Due times later than this cannot have a reminder due yet (a safe bound for the query)."""
    local = now.astimezone(policy.tz)
    by_days = datetime.combine(cal.add_workdays(local.date(), policy.due_lead_workdays + 1), END_OF_DAY, tzinfo=policy.tz)
    return max(by_days, local + timedelta(days=policy.due_lead_workdays))


def when_text(dt: datetime, tz: ZoneInfo) -> str:
    """'3月6日 23:59' for messages."""
    local = dt.astimezone(tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _short(title: str) -> str:
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:g}"


def messages(r: Reminder, c: Candidate, policy: Policy) -> list[Message]:
    """Who is told what for one reminder (nothing for a superseded one)."""
    if r.superseded:
        return []
    tz = policy.tz
    mark = LATE_MARK if r.late else ""
    ticket = f"工单 {c.number}「{_short(c.title)}」"
    when = when_text(c.deadline, tz)
    names = "、".join(name for _, name in c.units) or "承办单位"
    if r.kind == "sign_soon":
        return [Message("unit", code, f"{mark}{ticket}须在 {when} 前签收，请及时签收。") for code, _ in c.units]
    if r.kind == "sign_overdue":
        out = [Message("unit", code, f"{mark}{ticket}已超过签收时限（{when}），请立即签收。") for code, _ in c.units]
        return out + [Message("role", "center", f"{mark}{names} 未在时限（{when}）内签收{ticket}。")]
    if r.kind == "due_soon":
        return [Message("unit", code, f"{mark}{ticket}将于 {when} 办结到期，请抓紧办理并答复。") for code, _ in c.units]
    if r.kind == "due_overdue":
        out = [Message("unit", code, f"{mark}{ticket}已超过办结时限（{when}），已超期，请立即办理并答复。")
               for code, _ in c.units]
        return out + [Message("role", "center", f"{mark}{names} 承办的{ticket}已超过办结时限（{when}）。")]
    if r.kind in ("extension_waiting", "return_waiting"):
        what = "延期" if r.kind == "extension_waiting" else "退单"
        text = (f"{mark}{names} 对{ticket}的{what}申请（{when_text(c.deadline, tz)} 提出）已等待审核超过 "
                f"{_hours(policy.request_wait)} 小时，请及时审核。")
        return [Message("role", "center", text)]
    if r.kind == "callback_due":
        text = (f"{mark}{ticket}已于 {when_text(c.deadline, tz)} 答复，等待回访已超过 {_hours(policy.callback_wait)} 小时，"
                "请及时回访。")
        return [Message("role", "operator", text), Message("role", "center", text)]
    raise ValueError(f"unknown reminder kind {r.kind!r}")


# ---- daily slots: the county-wide notice on working days, the nightly backup ------------------------


def parse_hhmm(text: str) -> time:
    """'08:30' → time(8, 30)."""
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def latest_slot(now: datetime, at: time, tz: ZoneInfo) -> datetime:
    """The most recent daily moment `at` that is not after `now` (today's, or else yesterday's)."""
    local = now.astimezone(tz)
    slot = datetime.combine(local.date(), at, tzinfo=tz)
    return slot if slot <= local else slot - timedelta(days=1)


def notice_slot(cal: WorkCalendar, now: datetime, at: time, tz: ZoneInfo) -> datetime | None:
    """Today's notice moment when today is a working day and the moment has come; else None."""
    local = now.astimezone(tz)
    if not cal.is_workday(local.date()):
        return None
    slot = datetime.combine(local.date(), at, tzinfo=tz)
    return slot if slot <= local else None


def next_notice_at(cal: WorkCalendar, now: datetime, at: time, tz: ZoneInfo, horizon_days: int = 60) -> datetime | None:
    """The next working-day notice moment after `now` (make-up Saturdays included, holidays skipped)."""
    local = now.astimezone(tz)
    day = local.date()
    for _ in range(horizon_days):
        slot = datetime.combine(day, at, tzinfo=tz)
        if slot > local and cal.is_workday(day):
            return slot
        day += timedelta(days=1)
    return None


def days_overdue(deadline: datetime, now: datetime) -> int:
    """Whole natural days past the deadline, counting a started day as one (at least 1 once overdue)."""
    seconds = (now - deadline).total_seconds()
    if seconds <= 0:
        return 0
    return max(1, -(-int(seconds) // 86400))
