"""The reminder sweep on a real SQLite file with a fake clock: each kind at its moment, once, across restarts and downtime."""
import threading
from datetime import timedelta

import pytest
from conftest import at, page

from app import create_app, get_db
from app.domain.roles import Actor
from app.services import notify, reminders
from app.services import tickets as svc
from app.store import all_rows, connect, one, scalar

FORM = {
    "channel": "phone", "kind": "complaint", "urgency": "normal", "caller_name": "李建国",
    "caller_phone": "138-0000-1111", "territory": "539901102201", "category": "0101",
    "title": "村组道路雨后坑洼难行", "content": "我们组那条通组路下了几场雨全是烂泥坑，麻烦政府来看一下。",
}
START = "2026-03-02 09:00"  # a Monday


def actor(db, username: str) -> Actor:
    row = one(db, "SELECT id, display_name, role, unit_code FROM users WHERE username = ?", (username,))
    return Actor(row["id"], row["display_name"], row["role"], row["unit_code"])


def dispatched(db, cfg, when: str = START, urgency: str = "normal", lead: str = "QSZ") -> str:
    """A new ticket dispatched to `lead` at `when`."""
    return svc.intake(db, cfg, actor(db, "center"), {**FORM, "urgency": urgency}, at(when), then="dispatch",
                      data={"lead_unit": lead, "urgency": urgency}).number


def act(db, cfg, who: str, number: str, action: str, when: str, **data):
    return svc.act(db, cfg, actor(db, who), number, action, data, at(when))


def fired(db, number: str) -> list[tuple[str, int, int]]:
    """(kind, late, superseded) of the reminders recorded for one ticket, in order."""
    return [(r["kind"], r["late"], r["superseded"]) for r in all_rows(
        db, "SELECT r.kind, r.late, r.superseded FROM reminders r JOIN tickets t ON t.id = r.ticket_id "
        "WHERE t.number = ? ORDER BY r.id", (number,))]


def notes(db, number: str) -> list[dict]:
    return all_rows(db, "SELECT n.* FROM notifications n JOIN tickets t ON t.id = n.ticket_id WHERE t.number = ? "
                        "ORDER BY n.id", (number,))


def sweep(db, cfg, when: str):
    return reminders.sweep(db, cfg, at(when))


@pytest.fixture
def quiet(db, cfg):
    """The demo county's own tickets swept once at the start, so tests see only their own reminders."""
    sweep(db, cfg, START)
    return db


def _sign(db, cfg, n):
    """Just dispatched."""
    return n


def _extension(db, cfg, n):
    act(db, cfg, "qingshi", n, "sign", "2026-03-02 10:00")
    act(db, cfg, "qingshi", n, "request_extension", "2026-03-03 10:00", workdays=2, reason="需协调施工队")
    return n


def _return(db, cfg, n):
    act(db, cfg, "qingshi", n, "request_return", "2026-03-02 10:00", reason_code="not_our_duty", reason="属交通局")
    return n


def _replied(db, cfg, n):
    act(db, cfg, "qingshi", n, "sign", "2026-03-02 10:00")
    act(db, cfg, "qingshi", n, "reply", "2026-03-04 10:00", result="已修复路面")
    return n


@pytest.mark.parametrize("kind, urgency, setup, moment, audience", [
    ("sign_soon", "normal", _sign, "2026-03-03 07:00", {"QSZ"}),
    ("sign_overdue", "normal", _sign, "2026-03-03 09:00", {"QSZ", "center"}),
    ("due_soon", "normal", _sign, "2026-03-06 08:30", {"QSZ"}),
    ("due_overdue", "normal", _sign, "2026-03-09 23:59:59", {"QSZ", "center"}),
    ("sign_soon", "critical", _sign, "2026-03-02 09:15", {"QSZ"}),
    ("due_soon", "critical", _sign, "2026-03-02 09:30", {"QSZ"}),
    ("due_overdue", "urgent", _sign, "2026-03-03 09:00", {"QSZ", "center"}),
    ("extension_waiting", "normal", _extension, "2026-03-03 18:00", {"center"}),
    ("return_waiting", "normal", _return, "2026-03-02 18:00", {"center"}),
    ("callback_due", "normal", _replied, "2026-03-05 10:00", {"operator", "center"}),
])
def test_each_kind_fires_at_its_moment_and_not_before(quiet, cfg, kind, urgency, setup, moment, audience):
    db = quiet
    n = setup(db, cfg, dispatched(db, cfg, urgency=urgency))
    reminders.sweep(db, cfg, at(moment) - timedelta(seconds=1))
    assert kind not in [k for k, _, _ in fired(db, n)]
    sweep(db, cfg, moment)
    assert [k for k, _, _ in fired(db, n)].count(kind) == 1
    got = [x for x in notes(db, n) if x["kind"] == kind]
    assert {x["unit_code"] or x["role"] for x in got} == audience
    assert not any(x["late"] for x in got)
    reminders.sweep(db, cfg, at(moment) + timedelta(minutes=1))
    assert [k for k, _, _ in fired(db, n)].count(kind) == 1


def test_the_right_unit_and_only_it_is_told(quiet, cfg):
    db = quiet
    n = dispatched(db, cfg, lead="ZLS")
    sweep(db, cfg, "2026-03-03 07:00")
    zls = actor(db, "zilaishui")
    qsz = actor(db, "qingshi")
    mine = lambda a: [r for r in notify.for_user(db, {"id": a.id, "role": "handler", "unit_code": a.unit_code},  # noqa: E731
                                                  per_page=500)[0] if r["number"] == n]
    assert [r["kind"] for r in mine(zls)] == ["sign_soon"]
    assert mine(qsz) == []


def test_no_duplicate_after_a_restart_between_two_sweeps(quiet, cfg):
    n = dispatched(quiet, cfg)
    sweep(quiet, cfg, "2026-03-03 07:00")
    quiet.conn.close()
    # a new process: a new app and a new connection, nothing kept in memory
    app = create_app(cfg, {"TESTING": True})
    with app.app_context():
        db = get_db()
        for when in ("2026-03-03 07:00", "2026-03-03 07:01", "2026-03-03 08:59"):
            reminders.sweep(db, cfg, at(when))
        assert fired(db, n) == [("sign_soon", 0, 0)]
        assert len(notes(db, n)) == 1


def test_catch_up_after_a_day_of_downtime_is_marked_late_and_sent_once(quiet, cfg):
    db = quiet
    early = dispatched(db, cfg, "2026-03-02 09:00")  # sign soon 03-03 07:00, overdue 09:00: both while off
    later = dispatched(db, cfg, "2026-03-02 13:00")  # sign soon 03-03 11:00 while off, overdue 13:00 after
    sweep(db, cfg, "2026-03-02 13:01")
    # the server is off from 13:01 on Monday until 12:00 on Tuesday
    result = sweep(db, cfg, "2026-03-03 12:00")
    assert fired(db, early) == [("sign_soon", 1, 1), ("sign_overdue", 1, 0)]
    assert fired(db, later) == [("sign_soon", 1, 0)]
    assert result.late == 2 and result.superseded >= 1
    assert all(x["late"] and x["text"].startswith("【补发】") for x in notes(db, early) + notes(db, later))
    assert [x["kind"] for x in notes(db, early)] == ["sign_overdue", "sign_overdue"]  # unit and centre
    before = scalar(db, "SELECT COUNT(*) FROM notifications")
    sweep(db, cfg, "2026-03-03 12:01")
    assert scalar(db, "SELECT COUNT(*) FROM notifications") == before
    sweep(db, cfg, "2026-03-03 13:00")
    assert fired(db, later)[-1] == ("sign_overdue", 0, 0)


def test_a_new_deadline_gets_its_own_reminders(quiet, cfg):
    """An approved extension moves due_at: the old deadline's reminders stay, the new one is reminded again."""
    db = quiet
    n = dispatched(db, cfg)
    act(db, cfg, "qingshi", n, "sign", "2026-03-02 10:00")
    sweep(db, cfg, "2026-03-06 08:30")
    act(db, cfg, "qingshi", n, "request_extension", "2026-03-06 09:00", workdays=3, reason="材料未到")
    act(db, cfg, "center", n, "decide_extension", "2026-03-06 10:00", approve=True)
    sweep(db, cfg, "2026-03-10 08:00")
    assert [k for k, _, _ in fired(db, n)] == ["due_soon"]
    sweep(db, cfg, "2026-03-11 08:30")  # new due 03-12: soon on the working day before
    assert [k for k, _, _ in fired(db, n)] == ["due_soon", "due_soon"]


def test_signed_and_replied_tickets_are_not_reminded(quiet, cfg):
    db = quiet
    n = dispatched(db, cfg)
    act(db, cfg, "qingshi", n, "sign", "2026-03-02 10:00")
    act(db, cfg, "qingshi", n, "reply", "2026-03-02 11:00", result="已处理")
    act(db, cfg, "operator", n, "callback", "2026-03-02 15:00", resolved="1", satisfaction="satisfied", outcome="close")
    sweep(db, cfg, "2026-03-20 09:00")
    assert fired(db, n) == []


def test_two_sweeps_at_once_record_each_reminder_once(quiet, cfg):
    n = dispatched(quiet, cfg)
    errors = []

    def run():
        conn = connect(cfg.db_path)
        try:
            reminders.sweep(conn, cfg, at("2026-03-03 07:00"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            conn.conn.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert fired(quiet, n) == [("sign_soon", 0, 0)] and len(notes(quiet, n)) == 1


def test_the_sweep_reads_tickets_through_indexes(quiet, cfg):
    dispatched(quiet, cfg)
    seen: list[str] = []
    quiet.conn.set_trace_callback(seen.append)
    try:
        sweep(quiet, cfg, "2026-03-03 07:00")
    finally:
        quiet.conn.set_trace_callback(None)
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT") and ("FROM tickets" in s or "FROM ticket_units" in s)]
    assert selects
    for sql in selects:
        steps = [r[3] for r in quiet.conn.execute("EXPLAIN QUERY PLAN " + sql)]
        # every table is reached through an index: a plain "SCAN t" would read every ticket each minute
        assert all("USING" in step for step in steps if step.startswith("SCAN")), steps


def test_a_handler_sees_the_badge_and_the_reminder_at_the_right_time(cfg, client, auth, clock, fast_hashes):
    db = connect(cfg.db_path)
    try:
        reminders.sweep(db, cfg, at(START))
        n = dispatched(db, cfg)
        clock.set("2026-03-03 06:59")
        reminders.sweep(db, cfg, at("2026-03-03 06:59"))
    finally:
        db.conn.close()
    auth.login("qingshi")
    before = page(client.get("/notifications/"))
    assert not before.xpath(f"//td[contains(., '{n}')]")
    badge_before = before.xpath("string(//a[contains(@class,'nav-notifications')]/b)")
    db = connect(cfg.db_path)
    try:
        reminders.sweep(db, cfg, at("2026-03-03 07:00"))
    finally:
        db.conn.close()
    after = page(client.get("/notifications/"))
    row = after.xpath(f"//tr[contains(@class,'unread')][td/a[. = '{n}']]")
    assert row and "须在 3月3日 09:00 前签收" in row[0].text_content()
    assert int(after.xpath("string(//a[contains(@class,'nav-notifications')]/b)")) == int(badge_before or 0) + 1
    auth.logout()
    auth.login("zilaishui")
    assert not page(client.get("/notifications/")).xpath(f"//td/a[. = '{n}']")
