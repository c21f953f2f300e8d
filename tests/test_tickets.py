"""The ticket loop at service level on a real SQLite file: numbers, deadlines, requests, trail, access, lists."""
import sqlite3
import pytest
from conftest import at

from app.domain.errors import Conflict, InvalidTransition, NotFound, NotPermitted, ValidationFailed
from app.domain.roles import Actor
from app.domain.tickets import normalize_phone
from app.services import lists
from app.services import tickets as svc
from app.store import all_rows, one, scalar

FORM = {
    "channel": "phone", "kind": "complaint", "urgency": "normal", "caller_name": "李建国",
    "caller_phone": "138-0000-1111", "territory": "539901102201", "category": "0101",
    "title": "村组道路雨后坑洼难行",
    "content": "我们组那条通组路下了几场雨全是烂泥坑，摩托车都过不去。娃娃上学天天一身泥，麻烦政府来看一下。",
}
CALLBACK_OK = {"resolved": "1", "satisfaction": "satisfied", "outcome": "close"}
CALLBACK_REOPEN = {"resolved": "0", "satisfaction": "unsatisfied", "outcome": "reopen"}


def user(db, username: str) -> Actor:
    """The demo account as an acting person."""
    row = one(db, "SELECT id, display_name, role, unit_code FROM users WHERE username = ?", (username,))
    return Actor(row["id"], row["display_name"], row["role"], row["unit_code"])


class Desk:
    """The demo county's people around one database, with short ways to move a ticket along."""

    def __init__(self, db, cfg):
        self.db, self.cfg = db, cfg
        self.operator, self.center, self.leader, self.admin = (
            user(db, n) for n in ("operator", "center", "leader", "admin"))
        self.qsz, self.zls, self.gdj, self.zjj = (user(db, n) for n in ("qingshi", "zilaishui", "gongdian", "zhujian"))
        self.handlers = {"QSZ": self.qsz, "ZLS": self.zls, "GDJ": self.gdj, "ZJJ": self.zjj}

    def new(self, now, then="save", data=None, **fields) -> str:
        return svc.intake(self.db, self.cfg, self.operator if then != "dispatch" else self.center,
                          {**FORM, **fields}, now, then=then, data=data).number

    def act(self, who, number, action, now, **data) -> svc.Outcome:
        return svc.act(self.db, self.cfg, who, number, action, data, now)

    def dispatch(self, number, now, lead="QSZ", co=(), urgency=None):
        data = {"lead_unit": lead, "co_units": list(co)} | ({"urgency": urgency} if urgency else {})
        return svc.act(self.db, self.cfg, self.center, number, "dispatch", data, now)

    def ticket(self, number) -> dict:
        return svc.get(self.db, self.center, number)

    def events(self, number) -> list[dict]:
        return self.ticket(number)["events"]

    def reach(self, state: str, now) -> str:
        """A fresh ticket brought to `state` along the ordinary path."""
        n = self.new(now)
        paths = {
            "received": [],
            "escalated": [(self.center, "escalate", {"reason": "无法确定牵头单位"})],
            "answered_directly": [(self.operator, "answer_directly", {"answer": "已按知识库答复"})],
            "rejected": [(self.center, "reject", {"reason_code": "no_demand"})],
            "transferred": [(self.center, "transfer", {"target": "110", "note": "涉及治安"})],
            "dispatched": ["dispatch"],
            "in_progress": ["dispatch", (self.qsz, "sign", {})],
            "replied": ["dispatch", (self.qsz, "sign", {}), (self.qsz, "reply", {"result": "已修复"})],
            "closed": ["dispatch", (self.qsz, "sign", {}), (self.qsz, "reply", {"result": "已修复"}),
                       (self.operator, "callback", CALLBACK_OK)],
        }
        for s in paths[state]:
            if s == "dispatch":
                self.dispatch(n, now)
            else:
                svc.act(self.db, self.cfg, s[0], n, s[1], s[2], now)
        assert self.ticket(n)["state"] == state
        return n


@pytest.fixture
def desk(db, cfg):
    return Desk(db, cfg)


def count(db, table: str) -> int:
    return scalar(db, f"SELECT COUNT(*) FROM {table}")


# ---- numbers and intake -----------------------------------------------------------------------


def test_numbers_are_gap_free_per_day_and_restart_the_next_day(desk):
    numbers = [desk.new(at("2026-03-02 08:00")), desk.new(at("2026-03-02 12:30")),
               desk.new(at("2026-03-02 23:59").replace(second=59)),
               desk.new(at("2026-03-03 00:00")), desk.new(at("2026-03-03 09:00"))]
    assert numbers == ["TST-20260302-0001", "TST-20260302-0002", "TST-20260302-0003",
                       "TST-20260303-0001", "TST-20260303-0002"]


@pytest.mark.parametrize("change,field", [
    ({"channel": "fax"}, "channel"),
    ({"kind": ""}, "kind"),
    ({"urgency": "very"}, "urgency"),
    ({"caller_phone": ""}, "caller_phone"),
    ({"caller_phone": "12345"}, "caller_phone"),
    ({"caller_name": ""}, "caller_name"),
    ({"id_number": "5301"}, "id_number"),
    ({"territory": ""}, "territory"),
    ({"territory": "999999999"}, "territory"),
    ({"category": "01"}, "category"),  # a major class, not a leaf
    ({"category": "9999"}, "category"),
    ({"title": "  "}, "title"),
    ({"content": ""}, "content"),
    ({"content": "长" * 5001}, "content"),
    ({"received_at": "yesterday"}, "received_at"),
    ({"received_at": "2026-03-02T11:00:00+08:00"}, "received_at"),  # in the future
])
def test_invalid_intake_keeps_nothing(desk, db, change, field):
    with pytest.raises(ValidationFailed) as err:
        desk.new(at("2026-03-02 09:00"), **change)
    assert field in err.value.errors
    assert err.value.status == 422
    assert (count(db, "tickets"), count(db, "events"), count(db, "ticket_seq")) == (0, 0, 0)
    assert desk.new(at("2026-03-02 09:01")) == "TST-20260302-0001"


@pytest.mark.parametrize("then,data,who,exc", [
    ("dispatch", {"lead_unit": "QSZ"}, "operator", NotPermitted),  # operators may not dispatch
    ("dispatch", {"lead_unit": "NOPE"}, "center", ValidationFailed),
    ("answer_directly", {"answer": ""}, "operator", ValidationFailed),
    ("save", {}, "leader", NotPermitted),
    ("save", {}, "qsz", NotPermitted),
])
def test_intake_that_fails_at_its_second_step_keeps_nothing(desk, db, then, data, who, exc):
    with pytest.raises(exc):
        svc.intake(db, desk.cfg, getattr(desk, who), FORM, at("2026-03-02 09:00"), then=then, data=data)
    assert (count(db, "tickets"), count(db, "events"), count(db, "ticket_seq")) == (0, 0, 0)
    assert desk.new(at("2026-03-02 09:01")) == "TST-20260302-0001"


def test_anonymous_caller_needs_no_name_or_phone(desk):
    n = desk.new(at("2026-03-02 09:00"), anonymous="on", caller_name="", caller_phone="")
    t = desk.ticket(n)
    assert (t["anonymous"], t["caller_name"], t["phone_norm"], t["state"]) == (1, "", "", "received")
    assert svc.history(desk.db, "", "", at("2026-03-02 10:00")) == []


def test_answer_directly_at_intake_closes_the_ticket(desk):
    n = desk.new(at("2026-03-02 09:00"), kind="consult", then="answer_directly", data={"answer": "请带户口本到镇政府办理。"})
    t = desk.ticket(n)
    assert (t["state"], t["answer"], t["closed_at"]) == ("answered_directly", "请带户口本到镇政府办理。",
                                                         "2026-03-02T09:00:00+08:00")
    assert [(e["action"], e["from_state"], e["to_state"]) for e in t["events"]] == [
        ("intake", None, "received"), ("answer_directly", "received", "answered_directly")]


def test_intake_and_dispatch_at_once(desk):
    n = desk.new(at("2026-03-02 09:00"), then="dispatch", data={"lead_unit": "qsz", "co_units": "JTJ，ZLS"})
    t = desk.ticket(n)
    assert (t["state"], t["lead_unit"]) == ("dispatched", "QSZ")
    assert sorted((u["unit_code"], u["role"]) for u in t["units"]) == [("JTJ", "co"), ("QSZ", "lead"), ("ZLS", "co")]


# ---- deadlines ----------------------------------------------------------------------------------


def test_the_seeded_calendar_holds_the_2026_schedule(db):
    rows = {r["date"]: r["kind"] for r in all_rows(db, "SELECT date, kind FROM calendar_days WHERE date LIKE '2026-%'")}
    for day in ("2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-23",
                "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"):
        assert rows[day] == "holiday", day
    for day in ("2026-02-14", "2026-02-28", "2026-09-20", "2026-10-10"):
        assert rows[day] == "workday", day


@pytest.mark.parametrize("dispatched,urgency,sign,due", [
    # National Day: 10-08, 10-09, 10-10 (make-up Saturday), 10-12, 10-13
    ("2026-09-30 10:00", "normal", "2026-10-01T10:00:00+08:00", "2026-10-13T23:59:59+08:00"),
    ("2026-09-29 16:00", "normal", "2026-09-30T16:00:00+08:00", "2026-10-12T23:59:59+08:00"),
    ("2026-10-03 11:00", "normal", "2026-10-04T11:00:00+08:00", "2026-10-13T23:59:59+08:00"),
    ("2026-10-09 10:00", "normal", "2026-10-10T10:00:00+08:00", "2026-10-15T23:59:59+08:00"),
    # Spring Festival 02-15..02-23 off, make-up Saturdays 02-14 and 02-28
    ("2026-02-13 10:00", "normal", "2026-02-14T10:00:00+08:00", "2026-02-27T23:59:59+08:00"),
    ("2026-02-11 10:00", "normal", "2026-02-12T10:00:00+08:00", "2026-02-25T23:59:59+08:00"),
    ("2026-02-18 09:30", "normal", "2026-02-19T09:30:00+08:00", "2026-02-28T23:59:59+08:00"),
    ("2026-02-24 09:00", "normal", "2026-02-25T09:00:00+08:00", "2026-03-02T23:59:59+08:00"),
    # natural hours: holidays do not stop the clock
    ("2026-09-30 22:00", "urgent", "2026-10-01T00:00:00+08:00", "2026-10-01T22:00:00+08:00"),
    ("2026-02-17 08:00", "urgent", "2026-02-17T10:00:00+08:00", "2026-02-18T08:00:00+08:00"),
    ("2026-10-01 10:00", "critical", "2026-10-01T10:30:00+08:00", "2026-10-01T11:00:00+08:00"),
    ("2026-02-17 23:45", "critical", "2026-02-18T00:15:00+08:00", "2026-02-18T00:45:00+08:00"),
])
def test_dispatch_deadlines_around_holidays(desk, dispatched, urgency, sign, due):
    n = desk.new(at(dispatched))
    desk.dispatch(n, at(dispatched), urgency=urgency)
    t = desk.ticket(n)
    assert (t["urgency"], t["sign_deadline"], t["due_at"]) == (urgency, sign, due)
    details = t["events"][-1]["details"]
    assert (details["sign_deadline"], details["due_at"]) == (sign, due)


def test_urgency_from_intake_is_used_when_dispatch_gives_none(desk):
    n = desk.new(at("2026-09-30 10:00"), urgency="critical")
    desk.dispatch(n, at("2026-09-30 10:00"))
    assert desk.ticket(n)["due_at"] == "2026-09-30T11:00:00+08:00"


# ---- extension -------------------------------------------------------------------------------------


@pytest.fixture
def working(desk):
    """A QSZ ticket dispatched Monday 2026-03-02 09:00 (due 03-09 end of day) and signed."""
    n = desk.new(at("2026-03-02 09:00"))
    desk.dispatch(n, at("2026-03-02 09:00"))
    desk.act(desk.qsz, n, "sign", at("2026-03-02 10:00"))
    assert desk.ticket(n)["due_at"] == "2026-03-09T23:59:59+08:00"
    return n


@pytest.mark.parametrize("workdays,new_due", [(1, "2026-03-10T23:59:59+08:00"), (5, "2026-03-16T23:59:59+08:00")])
def test_extension_approved_moves_the_deadline(desk, working, workdays, new_due):
    desk.act(desk.qsz, working, "request_extension", at("2026-03-05 10:00"), workdays=workdays, reason="需协调施工队")
    t = desk.ticket(working)
    assert t["due_at"] == "2026-03-09T23:59:59+08:00"  # unchanged while pending
    assert [(p["kind"], p["workdays"], p["new_due_at"]) for p in t["pending"]] == [("extension", workdays, new_due)]
    out = desk.act(desk.center, working, "decide_extension", at("2026-03-05 11:00"), approve="1")
    t = desk.ticket(working)
    assert (out.state, t["due_at"], t["extension_count"], t["pending"]) == ("in_progress", new_due, 1, [])
    assert t["requests"][0]["status"] == "approved"


@pytest.mark.parametrize("workdays", [6, 10, 30])
def test_extension_may_not_take_the_total_beyond_ten_working_days(desk, working, workdays, db):
    with pytest.raises(ValidationFailed) as err:
        desk.act(desk.qsz, working, "request_extension", at("2026-03-05 10:00"), workdays=workdays, reason="工程量大")
    assert "workdays" in err.value.errors
    assert count(db, "requests") == 0


@pytest.mark.parametrize("workdays", ["0", "", "abc", "-2"])
def test_extension_needs_a_number_of_working_days(desk, working, workdays):
    with pytest.raises(ValidationFailed):
        desk.act(desk.qsz, working, "request_extension", at("2026-03-05 10:00"), workdays=workdays, reason="x")


def test_extension_needs_a_reason(desk, working):
    with pytest.raises(ValidationFailed):
        desk.act(desk.qsz, working, "request_extension", at("2026-03-05 10:00"), workdays=2, reason=" ")


def test_extension_limit_counts_from_dispatch_across_national_day(desk):
    n = desk.new(at("2026-09-30 10:00"))
    desk.dispatch(n, at("2026-09-30 10:00"))
    with pytest.raises(ValidationFailed):
        desk.act(desk.qsz, n, "request_extension", at("2026-10-09 10:00"), workdays=6, reason="x")
    desk.act(desk.qsz, n, "request_extension", at("2026-10-09 10:00"), workdays=5, reason="节后集中施工")
    desk.act(desk.center, n, "decide_extension", at("2026-10-09 11:00"), approve="yes")
    assert desk.ticket(n)["due_at"] == "2026-10-20T23:59:59+08:00"  # 10-14, 15, 16, 19, 20


def test_only_one_extension(desk, working):
    desk.act(desk.qsz, working, "request_extension", at("2026-03-04 10:00"), workdays=1, reason="等材料")
    desk.act(desk.center, working, "decide_extension", at("2026-03-04 11:00"), approve=True)
    with pytest.raises(InvalidTransition):
        desk.act(desk.qsz, working, "request_extension", at("2026-03-05 10:00"), workdays=1, reason="还要等")


def test_one_request_pending_at_a_time(desk, working):
    desk.act(desk.qsz, working, "request_extension", at("2026-03-04 10:00"), workdays=1, reason="等材料")
    with pytest.raises(InvalidTransition):
        desk.act(desk.qsz, working, "request_extension", at("2026-03-04 10:05"), workdays=2, reason="再加一天")
    with pytest.raises(InvalidTransition):
        desk.act(desk.qsz, working, "request_return", at("2026-03-04 10:05"), reason_code="other", reason="x")


def test_extension_asked_after_the_deadline_is_refused(desk, working, db):
    with pytest.raises(InvalidTransition):
        desk.act(desk.qsz, working, "request_extension", at("2026-03-10 00:00"), workdays=1, reason="来不及")
    assert count(db, "requests") == 0


def test_extension_refused_keeps_the_deadline_and_needs_a_reason(desk, working):
    desk.act(desk.qsz, working, "request_extension", at("2026-03-04 10:00"), workdays=3, reason="等材料")
    with pytest.raises(ValidationFailed):
        desk.act(desk.center, working, "decide_extension", at("2026-03-04 11:00"), approve="0")
    desk.act(desk.center, working, "decide_extension", at("2026-03-04 11:00"), approve="0", reason="材料已到，无需延期")
    t = desk.ticket(working)
    assert (t["due_at"], t["extension_count"], t["pending"]) == ("2026-03-09T23:59:59+08:00", 0, [])
    assert (t["requests"][0]["status"], t["requests"][0]["decision_note"]) == ("refused", "材料已到，无需延期")


def test_decision_needs_a_pending_request(desk, working):
    with pytest.raises(InvalidTransition):
        desk.act(desk.center, working, "decide_extension", at("2026-03-04 11:00"), approve="1")
    with pytest.raises(ValidationFailed):
        desk.act(desk.center, working, "decide_extension", at("2026-03-04 11:00"), approve="maybe")


def test_only_the_lead_asks_for_an_extension(desk):
    n = desk.new(at("2026-03-02 09:00"))
    desk.dispatch(n, at("2026-03-02 09:00"), co=["ZJJ"])
    with pytest.raises(NotPermitted):
        desk.act(desk.zjj, n, "request_extension", at("2026-03-03 10:00"), workdays=1, reason="x")


# ---- return ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dispatched,asked,allowed", [
    ("2026-03-02 09:00", "2026-03-04 23:59", True),    # 2nd working day
    ("2026-03-02 09:00", "2026-03-05 00:00", False),   # 3rd working day
    ("2026-09-30 10:00", "2026-10-09 18:00", True),    # 10-08, 10-09
    ("2026-09-30 10:00", "2026-10-10 09:00", False),   # the make-up Saturday is the 3rd
    ("2026-02-13 10:00", "2026-02-24 17:00", True),    # 02-14 (make-up), 02-24
    ("2026-02-13 10:00", "2026-02-25 08:00", False),
])
def test_return_window_is_two_working_days(desk, dispatched, asked, allowed):
    n = desk.new(at(dispatched))
    desk.dispatch(n, at(dispatched))
    ask = lambda: desk.act(desk.qsz, n, "request_return", at(asked), reason_code="not_our_duty", reason="属供电公司")
    if allowed:
        ask()
        assert [p["kind"] for p in desk.ticket(n)["pending"]] == ["return"]
    else:
        with pytest.raises(InvalidTransition):
            ask()
        assert desk.ticket(n)["pending"] == []


@pytest.mark.parametrize("data", [{"reason_code": "bogus", "reason": "x"}, {"reason_code": "other", "reason": ""}])
def test_return_needs_a_listed_reason_and_text(desk, working, data):
    with pytest.raises(ValidationFailed):
        desk.act(desk.qsz, working, "request_return", at("2026-03-03 10:00"), **data)


def test_approved_return_sends_the_ticket_back_for_redispatch(desk):
    n = desk.new(at("2026-03-02 09:00"))
    desk.dispatch(n, at("2026-03-02 09:00"))
    desk.act(desk.qsz, n, "sign", at("2026-03-02 10:00"))
    desk.act(desk.qsz, n, "request_return", at("2026-03-03 10:00"), reason_code="not_our_duty", reason="属住建局")
    with pytest.raises(ValidationFailed):  # refusing would need a reason; approving does not
        desk.act(desk.center, n, "decide_return", at("2026-03-03 11:00"), approve="refuse")
    out = desk.act(desk.center, n, "decide_return", at("2026-03-03 11:00"), approve="approve")
    t = desk.ticket(n)
    assert (out.state, t["state"], t["lead_unit"], t["due_at"], t["sign_deadline"], t["return_count"]) == (
        "received", "received", None, None, None, 1)
    assert [u["active"] for u in t["units"]] == [0]
    desk.dispatch(n, at("2026-03-03 14:00"), lead="ZJJ")
    t = desk.ticket(n)
    assert (t["state"], t["lead_unit"], t["due_at"]) == ("dispatched", "ZJJ", "2026-03-10T23:59:59+08:00")
    with pytest.raises((NotPermitted, NotFound)):
        desk.act(desk.qsz, n, "sign", at("2026-03-03 15:00"))
    with pytest.raises((NotPermitted, NotFound)):
        desk.act(desk.qsz, n, "note", at("2026-03-03 15:00"), note="还在处理")
    assert n not in {r["number"] for r in lists.unit_queue(desk.db, "QSZ", "to_sign", at("2026-03-03 15:00")).rows}
    desk.act(desk.zjj, n, "sign", at("2026-03-03 15:00"))
    desk.act(desk.zjj, n, "reply", at("2026-03-04 15:00"), result="已处理")
    assert desk.ticket(n)["state"] == "replied"


def test_refused_return_keeps_the_unit(desk, working):
    desk.act(desk.qsz, working, "request_return", at("2026-03-03 10:00"), reason_code="not_our_duty", reason="x")
    desk.act(desk.center, working, "decide_return", at("2026-03-03 11:00"), approve="0", reason="属地管理，请办理")
    t = desk.ticket(working)
    assert (t["state"], t["lead_unit"], t["due_at"]) == ("in_progress", "QSZ", "2026-03-09T23:59:59+08:00")
    desk.act(desk.qsz, working, "reply", at("2026-03-04 10:00"), result="已修复")


def test_approved_return_of_a_co_unit_removes_only_the_co_unit(desk):
    n = desk.new(at("2026-03-02 09:00"))
    desk.dispatch(n, at("2026-03-02 09:00"), co=["ZJJ", "GDJ"])
    desk.act(desk.qsz, n, "sign", at("2026-03-02 10:00"))
    desk.act(desk.zjj, n, "request_return", at("2026-03-02 11:00"), reason_code="not_our_duty", reason="不涉及住建")
    out = desk.act(desk.center, n, "decide_return", at("2026-03-02 12:00"), approve="1")
    t = desk.ticket(n)
    assert (out.state, t["state"], t["lead_unit"], t["due_at"]) == (
        "in_progress", "in_progress", "QSZ", "2026-03-09T23:59:59+08:00")
    assert {u["unit_code"]: u["active"] for u in t["units"]} == {"QSZ": 1, "GDJ": 1, "ZJJ": 0}
    assert t["return_count"] == 0
    with pytest.raises((NotPermitted, NotFound)):
        desk.act(desk.zjj, n, "co_reply", at("2026-03-02 13:00"), part="补充")
    desk.act(desk.gdj, n, "co_reply", at("2026-03-02 13:00"), part="线路已检查")
    desk.act(desk.qsz, n, "reply", at("2026-03-02 14:00"), result="已修复")


# ---- co-units ----------------------------------------------------------------------------------------


def test_co_unit_signs_and_sends_its_part_the_lead_replies(desk):
    n = desk.new(at("2026-03-02 09:00"))
    desk.dispatch(n, at("2026-03-02 09:00"), co=["ZJJ"])
    out = desk.act(desk.zjj, n, "sign", at("2026-03-02 09:30"))
    assert out.state == "dispatched" and desk.ticket(n)["signed_at"] is None
    assert desk.events(n)[-1]["details"]["unit_role"] == "co"
    with pytest.raises(InvalidTransition):
        desk.act(desk.zjj, n, "sign", at("2026-03-02 09:31"))
    with pytest.raises(InvalidTransition):  # co_reply waits for the lead to sign
        desk.act(desk.zjj, n, "co_reply", at("2026-03-02 09:32"), part="x")
    assert desk.act(desk.qsz, n, "sign", at("2026-03-02 10:00")).state == "in_progress"
    with pytest.raises(InvalidTransition):
        desk.act(desk.qsz, n, "sign", at("2026-03-02 10:01"))
    desk.act(desk.zjj, n, "co_reply", at("2026-03-03 10:00"), part="已派技术员查看路基")
    units = {u["unit_code"]: u for u in desk.ticket(n)["units"]}
    assert (units["ZJJ"]["part"], units["ZJJ"]["part_at"]) == ("已派技术员查看路基", "2026-03-03T10:00:00+08:00")
    assert (units["ZJJ"]["signed_at"], units["QSZ"]["signed_at"]) == (
        "2026-03-02T09:30:00+08:00", "2026-03-02T10:00:00+08:00")
    with pytest.raises(NotPermitted):
        desk.act(desk.zjj, n, "reply", at("2026-03-03 11:00"), result="我们答复")
    with pytest.raises(NotPermitted):
        desk.act(desk.qsz, n, "co_reply", at("2026-03-03 11:00"), part="牵头单位不写协办意见")
    assert desk.ticket(n)["state"] == "in_progress"
    desk.act(desk.qsz, n, "reply", at("2026-03-03 12:00"), result="已修复路基")
    t = desk.ticket(n)
    assert (t["state"], t["reply"]) == ("replied", "已修复路基")


def test_co_unit_signing_after_the_lead_keeps_the_state(desk):
    n = desk.new(at("2026-03-02 09:00"))
    desk.dispatch(n, at("2026-03-02 09:00"), co=["GDJ"])
    desk.act(desk.qsz, n, "sign", at("2026-03-02 09:10"))
    assert desk.act(desk.gdj, n, "sign", at("2026-03-02 09:20")).state == "in_progress"
    assert [(e["from_state"], e["to_state"]) for e in desk.events(n)[-2:]] == [
        ("dispatched", "in_progress"), ("in_progress", "in_progress")]


@pytest.mark.parametrize("signed,replied,late_sign,late_reply", [
    ("2026-03-03 09:00", "2026-03-09 23:59", False, False),
    ("2026-03-03 09:01", "2026-03-10 00:00", True, True),
])
def test_late_sign_and_reply_are_marked_in_the_trail(desk, signed, replied, late_sign, late_reply):
    n = desk.new(at("2026-03-02 09:00"))
    desk.dispatch(n, at("2026-03-02 09:00"))  # sign by 03-03 09:00, due 03-09 end of day
    desk.act(desk.qsz, n, "sign", at(signed))
    desk.act(desk.qsz, n, "reply", at(replied), result="已修复")
    sign, reply = desk.events(n)[-2:]
    assert (sign["details"]["late"], reply["details"]["late"]) == (late_sign, late_reply)


def test_contact_records_the_first_contact(desk, working):
    desk.act(desk.qsz, working, "contact", at("2026-03-02 11:00"), method="phone", contacted_at="2026-03-02T10:30:00")
    desk.act(desk.qsz, working, "contact", at("2026-03-03 11:00"), method="visit", note="上门查看")
    assert desk.ticket(working)["first_contact_at"] == "2026-03-02T10:30:00+08:00"
    for when in ("2026-03-01T10:00:00+08:00", "2026-03-04T10:00:00+08:00"):  # before dispatch, in the future
        with pytest.raises(ValidationFailed):
            desk.act(desk.qsz, working, "contact", at("2026-03-03 12:00"), method="phone", contacted_at=when)
    with pytest.raises(ValidationFailed):
        desk.act(desk.qsz, working, "contact", at("2026-03-03 12:00"), method="pigeon")


def test_reply_waits_for_pending_requests(desk, working):
    desk.act(desk.qsz, working, "request_extension", at("2026-03-04 10:00"), workdays=1, reason="等材料")
    with pytest.raises(InvalidTransition):
        desk.act(desk.qsz, working, "reply", at("2026-03-04 11:00"), result="已修复")
    with pytest.raises(ValidationFailed):
        desk.act(desk.qsz, working, "reply", at("2026-03-04 11:00"), result="")


# ---- rework, call-back, other endings --------------------------------------------------------


def test_send_back_reopens_with_a_fresh_deadline(desk, working):
    desk.act(desk.qsz, working, "reply", at("2026-03-09 10:00"), result="已修复")
    with pytest.raises(ValidationFailed):
        desk.act(desk.center, working, "send_back", at("2026-03-12 10:00"))
    out = desk.act(desk.center, working, "send_back", at("2026-03-12 10:00"), reason="照片看不出修复情况")
    t = desk.ticket(working)
    assert (out.state, t["sent_back_count"], t["replied_at"]) == ("in_progress", 1, None)
    assert t["due_at"] == "2026-03-19T23:59:59+08:00"  # 03-13, 16, 17, 18, 19
    assert t["events"][-1]["details"]["due_at"] == t["due_at"]
    desk.act(desk.qsz, working, "reply", at("2026-03-13 10:00"), result="已重新铺设并补拍照片")
    assert desk.ticket(working)["state"] == "replied"


def test_callback_reopen_gives_five_working_days_from_the_reopen(desk):
    n = desk.new(at("2026-09-21 09:00"))
    desk.dispatch(n, at("2026-09-21 09:00"))
    desk.act(desk.qsz, n, "sign", at("2026-09-21 10:00"))
    desk.act(desk.qsz, n, "reply", at("2026-09-29 10:00"), result="已修复")
    out = desk.act(desk.operator, n, "callback", at("2026-09-30 15:00"), **CALLBACK_REOPEN)
    t = desk.ticket(n)
    assert (out.state, t["due_at"], t["reopen_count"], t["resolved"], t["satisfaction"], t["replied_at"]) == (
        "in_progress", "2026-10-13T23:59:59+08:00", 1, 0, "unsatisfied", None)
    assert t["events"][-1]["details"]["due_at"] == "2026-10-13T23:59:59+08:00"
    desk.act(desk.qsz, n, "reply", at("2026-10-09 10:00"), result="已二次修复")
    out = desk.act(desk.center, n, "callback", at("2026-10-10 10:00"), resolved="1",
                   satisfaction="basically_satisfied", outcome="close")
    t = desk.ticket(n)
    assert (out.state, t["closed_at"], t["resolved"], t["satisfaction"]) == (
        "closed", "2026-10-10T10:00:00+08:00", 1, "basically_satisfied")


@pytest.mark.parametrize("data", [
    {"resolved": "1", "satisfaction": "happy", "outcome": "close"},
    {"resolved": "", "satisfaction": "satisfied", "outcome": "close"},
    {"resolved": "1", "satisfaction": "satisfied", "outcome": "later"},
    {"resolved": "1", "satisfaction": "satisfied"},
])
def test_callback_needs_its_answers(desk, data):
    n = desk.reach("replied", at("2026-03-02 09:00"))
    with pytest.raises(ValidationFailed):
        desk.act(desk.operator, n, "callback", at("2026-03-03 09:00"), **data)
    assert desk.ticket(n)["state"] == "replied"


@pytest.mark.parametrize("code,text,ok", [
    ("no_demand", "", True), ("harassment", "多次辱骂话务员", True), ("other", "与本县无关", True),
    ("other", "", False), ("bogus", "随便", False), ("", "随便", False),
])
def test_reject_with_a_reason_from_the_list(desk, code, text, ok):
    n = desk.new(at("2026-03-02 09:00"))
    call = lambda: desk.act(desk.center, n, "reject", at("2026-03-02 10:00"), reason_code=code, reason=text)
    if not ok:
        with pytest.raises(ValidationFailed):
            call()
        assert desk.ticket(n)["state"] == "received"
        return
    out = call()
    t = desk.ticket(n)
    assert (out.state, t["closed_at"]) == ("rejected", "2026-03-02T10:00:00+08:00")
    e = t["events"][-1]
    assert (e["action"], e["note"], e["details"]["reason_code"]) == ("reject", text, code)


@pytest.mark.parametrize("target,note,ok", [
    ("110", "涉嫌打架斗殴", True), ("discipline", "反映村干部优亲厚友", True), ("petition", "信访事项", True),
    ("110", "", False), ("court", "x", False),
])
def test_transfer(desk, target, note, ok):
    n = desk.new(at("2026-03-02 09:00"))
    call = lambda: desk.act(desk.center, n, "transfer", at("2026-03-02 10:00"), target=target, note=note)
    if ok:
        assert call().state == "transferred"
        assert desk.events(n)[-1]["details"]["target"] == target
    else:
        with pytest.raises(ValidationFailed):
            call()
        assert desk.ticket(n)["state"] == "received"


def test_escalate_then_dispatch(desk):
    n = desk.new(at("2026-03-02 09:00"))
    with pytest.raises(ValidationFailed):
        desk.act(desk.center, n, "escalate", at("2026-03-02 10:00"))
    assert desk.act(desk.center, n, "escalate", at("2026-03-02 10:00"), reason="涉及多个部门").state == "escalated"
    assert [r["number"] for r in lists.center_queue(desk.db, "escalated", at("2026-03-02 11:00")).rows] == [n]
    desk.dispatch(n, at("2026-03-03 09:00"), lead="JTJ", co=["QSZ"])
    t = desk.ticket(n)
    assert (t["state"], t["lead_unit"], t["due_at"]) == ("dispatched", "JTJ", "2026-03-10T23:59:59+08:00")


# ---- the trail ---------------------------------------------------------------------------------------


def test_every_action_appends_exactly_one_event(desk):
    d = desk
    n = d.new(at("2026-03-02 09:00"))
    steps = [
        (d.center, "note", {"note": "来电人情绪激动"}, "received"),
        (d.center, "dispatch", {"lead_unit": "QSZ", "co_units": ["ZJJ"]}, "dispatched"),
        (d.zjj, "sign", {}, "dispatched"),
        (d.qsz, "sign", {}, "in_progress"),
        (d.qsz, "contact", {"method": "phone"}, "in_progress"),
        (d.qsz, "note", {"note": "已到现场"}, "in_progress"),
        (d.zjj, "co_reply", {"part": "路基安全"}, "in_progress"),
        (d.qsz, "request_extension", {"workdays": 2, "reason": "等材料"}, "in_progress"),
        (d.center, "decide_extension", {"approve": "1"}, "in_progress"),
        (d.zjj, "request_return", {"reason_code": "not_our_duty", "reason": "不涉及"}, "in_progress"),
        (d.center, "decide_return", {"approve": "0", "reason": "请配合"}, "in_progress"),
        (d.qsz, "reply", {"result": "已修复"}, "replied"),
        (d.center, "send_back", {"reason": "缺照片"}, "in_progress"),
        (d.qsz, "reply", {"result": "已修复，附照片"}, "replied"),
        (d.operator, "callback", CALLBACK_REOPEN, "in_progress"),
        (d.qsz, "reply", {"result": "再次修复"}, "replied"),
        (d.operator, "update", {"address": "岩脚村三组", "reason": "补充地址"}, "replied"),
        (d.operator, "callback", CALLBACK_OK, "closed"),
    ]
    for i, (who, action, data, to_state) in enumerate(steps):
        before = d.ticket(n)
        out = svc.act(d.db, d.cfg, who, n, action, data, at(f"2026-03-0{2 + i // 6} 1{i % 6}:00"))
        after = d.ticket(n)
        new = after["events"][len(before["events"]):]
        assert len(new) == 1, action
        e = new[0]
        assert (e["id"], e["action"], e["from_state"], e["to_state"]) == (out.event_id, action, before["state"], to_state)
        assert (e["actor_id"], e["role"], e["unit_code"]) == (who.id, who.role, who.unit_code)
        assert (after["state"], after["version"]) == (to_state, before["version"] + 1)


def test_a_refused_action_leaves_no_trace(desk, working, db):
    before = desk.ticket(working)
    for who, action, data in [(desk.qsz, "reply", {"result": ""}), (desk.zls, "sign", {}),
                              (desk.center, "send_back", {"reason": "x"}), (desk.leader, "note", {"note": "x"})]:
        with pytest.raises((ValidationFailed, NotFound, InvalidTransition, NotPermitted)):
            svc.act(db, desk.cfg, who, working, action, data, at("2026-03-03 10:00"))
    after = desk.ticket(working)
    assert (after["version"], len(after["events"]), after["state"]) == (before["version"], len(before["events"]),
                                                                      "in_progress")


@pytest.mark.parametrize("sql", ["UPDATE events SET note = 'changed'", "UPDATE events SET to_state = 'closed'",
                                 "DELETE FROM events", "DELETE FROM events WHERE action = 'intake'"])
def test_events_cannot_be_edited_or_deleted(desk, working, db, sql):
    before = desk.events(working)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.conn.execute(sql)
    assert desk.events(working) == before


# ---- concurrency guards in one thread: version and idempotency -------------------------------


def test_stale_version_is_a_conflict(desk):
    n = desk.reach("dispatched", at("2026-03-02 09:00"))
    seen = desk.ticket(n)["version"]
    svc.act(desk.db, desk.cfg, desk.center, n, "note", {"note": "催办"}, at("2026-03-02 09:10"), version=seen)
    with pytest.raises(Conflict) as err:
        svc.act(desk.db, desk.cfg, desk.qsz, n, "sign", {}, at("2026-03-02 09:11"), version=seen)
    assert err.value.status == 409
    t = desk.ticket(n)
    assert (t["state"], t["version"], len(t["events"])) == ("dispatched", seen + 1, 3)
    svc.act(desk.db, desk.cfg, desk.qsz, n, "sign", {}, at("2026-03-02 09:12"), version=str(t["version"]))


def test_same_idempotency_key_applies_once(desk):
    n = desk.reach("in_progress", at("2026-03-02 09:00"))
    args = (desk.db, desk.cfg, desk.qsz, n, "note", {"note": "已联系施工队"})
    first = svc.act(*args, at("2026-03-02 10:00"), idempotency_key="k-123")
    again = svc.act(*args, at("2026-03-02 10:01"), idempotency_key="k-123")
    assert (first.repeated, again.repeated) == (False, True)
    assert (again.number, again.state, again.event_id) == (first.number, first.state, first.event_id)
    assert [e["action"] for e in desk.events(n)].count("note") == 1
    other = svc.act(*args, at("2026-03-02 10:02"), idempotency_key="k-456")
    assert other.repeated is False and other.event_id != first.event_id


def test_same_idempotency_key_makes_one_ticket(desk, db):
    one_ = svc.intake(db, desk.cfg, desk.operator, FORM, at("2026-03-02 09:00"), idempotency_key="call-1")
    two = svc.intake(db, desk.cfg, desk.operator, FORM, at("2026-03-02 09:00"), idempotency_key="call-1")
    assert (two.repeated, two.number) == (True, one_.number)
    assert count(db, "tickets") == 1


# ---- who may see and act ------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["received", "dispatched", "in_progress", "replied", "closed"])
@pytest.mark.parametrize("who", ["zls", "gdj"])
def test_handler_of_another_unit_gets_not_found(desk, state, who):
    n = desk.reach(state, at("2026-03-02 09:00"))
    h = getattr(desk, who)
    with pytest.raises(NotFound) as err:
        svc.get(desk.db, h, n)
    assert err.value.status == 404
    for action, data in [("sign", {}), ("note", {"note": "x"}), ("reply", {"result": "x"}),
                         ("request_return", {"reason_code": "other", "reason": "x"})]:
        with pytest.raises(NotFound):
            svc.act(desk.db, desk.cfg, h, n, action, data, at("2026-03-02 10:00"))
    if state != "received":
        assert svc.get(desk.db, desk.qsz, n)["number"] == n


def test_handler_sees_no_undispatched_ticket_and_unknown_numbers_are_not_found(desk):
    n = desk.new(at("2026-03-02 09:00"))
    with pytest.raises(NotFound):
        svc.get(desk.db, desk.qsz, n)
    with pytest.raises(NotFound):
        svc.get(desk.db, desk.center, "TST-20260302-9999")
    with pytest.raises(NotFound):
        svc.act(desk.db, desk.cfg, desk.center, "TST-20260302-9999", "note", {"note": "x"}, at("2026-03-02 10:00"))


LEADER_CASES = [
    ("received", "answer_directly", {"answer": "x"}),
    ("received", "dispatch", {"lead_unit": "QSZ"}),
    ("received", "escalate", {"reason": "x"}),
    ("received", "reject", {"reason_code": "no_demand"}),
    ("received", "transfer", {"target": "110", "note": "x"}),
    ("received", "note", {"note": "x"}),
    ("received", "update", {"title": "新标题"}),
    ("escalated", "dispatch", {"lead_unit": "QSZ"}),
    ("dispatched", "sign", {}),
    ("in_progress", "contact", {"method": "phone"}),
    ("in_progress", "co_reply", {"part": "x"}),
    ("in_progress", "reply", {"result": "x"}),
    ("in_progress", "request_extension", {"workdays": 1, "reason": "x"}),
    ("in_progress", "decide_extension", {"approve": "1"}),
    ("in_progress", "request_return", {"reason_code": "other", "reason": "x"}),
    ("in_progress", "decide_return", {"approve": "0", "reason": "x"}),
    ("replied", "send_back", {"reason": "x"}),
    ("replied", "callback", CALLBACK_OK),
    ("replied", "callback", CALLBACK_REOPEN),
]


@pytest.mark.parametrize("state,action,data", LEADER_CASES)
def test_leader_reads_but_never_acts(desk, state, action, data):
    n = desk.reach(state, at("2026-03-02 09:00"))
    before = desk.ticket(n)
    with pytest.raises(NotPermitted) as err:
        svc.act(desk.db, desk.cfg, desk.leader, n, action, data, at("2026-03-02 10:00"))
    assert err.value.status == 403
    assert svc.get(desk.db, desk.leader, n)["version"] == before["version"]
    assert len(desk.events(n)) == len(before["events"])


def test_leader_cannot_take_calls(desk):
    with pytest.raises(NotPermitted):
        svc.intake(desk.db, desk.cfg, desk.leader, FORM, at("2026-03-02 09:00"))


# ---- caller history --------------------------------------------------------------------------------


def test_history_is_the_callers_last_90_days(desk):
    old = desk.new(at("2026-01-05 09:00"), caller_phone="13800001111")
    edge = desk.new(at("2026-01-10 10:00"), caller_phone="+86 138 0000 1111")
    recent = desk.new(at("2026-03-20 09:00"), caller_phone="13800001111")
    by_id = desk.new(at("2026-03-21 09:00"), caller_phone="13912345678", id_number="53990119800101123x")
    desk.new(at("2026-03-22 09:00"), caller_phone="13999999999")
    got = [r["number"] for r in svc.history(desk.db, "13800001111", "53990119800101123X", at("2026-04-10 10:00"))]
    assert got == [by_id, recent, edge]
    assert old not in got
    assert [r["number"] for r in svc.history(desk.db, "13800001111", "", at("2026-04-10 10:01"))] == [recent]


# ---- search ------------------------------------------------------------------------------------------


@pytest.fixture
def county(desk):
    """Tickets in several places and states for the search tests (all received 2026-03-02..05)."""
    d = desk
    t = {}
    t["road"] = d.new(at("2026-03-02 09:00"))
    t["lamp"] = d.new(at("2026-03-03 09:00"), category="0104", title="村里太阳能路灯大半不亮",
                      content="我们前年装的太阳能路灯，现在十盏有七八盏不亮了。晚上出门黑黢黢的。",
                      caller_phone="0879-5260453", caller_name="王红梅")
    t["water"] = d.new(at("2026-03-04 09:00"), category="0202", territory="539901101201", title="水管爆了",
                       content="大坪村路口的水管爆了，冒水一上午了，水压只剩平时的50%。", caller_phone="13912345678", caller_name="赵有福")
    t["power"] = d.new(at("2026-03-05 09:00"), category="0301", territory="539901103201", title="停电",
                       content="上寨村从昨晚开始停电，冰箱里的东西都坏了。", caller_phone="13700007777",
                       caller_name="杨秀英")
    d.dispatch(t["road"], at("2026-03-02 10:00"), lead="QSZ")
    d.dispatch(t["lamp"], at("2026-03-03 10:00"), lead="QSZ")
    d.act(d.qsz, t["lamp"], "sign", at("2026-03-03 11:00"))
    d.dispatch(t["water"], at("2026-03-04 10:00"), lead="ZLS", co=["QSZ"])
    return t


def numbers(page) -> set[str]:
    return {r["number"] for r in page.rows}


@pytest.mark.parametrize("q,hits", [
    ("几场雨", {"road"}),                    # three characters from the middle of the content
    ("摩托车都过不去", {"road"}),
    ("七八盏不亮", {"lamp"}),
    ("冒水一上午", {"water"}),
    ("烂泥", {"road"}),                      # two characters: LIKE
    ("停电", {"power"}),
    ("路灯", {"lamp"}),
    ("不亮", {"lamp"}),
    ("水管爆", {"water"}),
    ("村组道路", {"road"}),                   # title
    ("王红梅", {"lamp"}),                     # caller name
    ("三峡大坝", set()),
    ('路"灯', set()),                         # a quote must not break the FTS query
    ("AND OR", set()),
    ("十盏有", {"lamp"}),
    ("0%", {"water"}),                      # a typed % is text ...
    ("%%", set()),                          # ... not a wildcard
    ("_", set()),
])
def test_search_text_finds_chinese_substrings(desk, county, q, hits):
    page = lists.search(desk.db, desk.center, {"q": q}, at("2026-03-06 09:00"))
    assert numbers(page) == {county[h] for h in hits}
    assert page.total == len(hits)


def test_search_text_follows_edits(desk, county):
    desk.act(desk.operator, county["power"], "update", at("2026-03-05 10:00"), content="上寨村变压器冒烟了。")
    assert numbers(lists.search(desk.db, desk.center, {"q": "变压器冒烟"}, at("2026-03-06 09:00"))) == {county["power"]}
    assert numbers(lists.search(desk.db, desk.center, {"q": "冰箱里的东西"}, at("2026-03-06 09:00"))) == set()


@pytest.mark.parametrize("raw,norm", [
    ("138-0000-1111", "13800001111"), ("+86 13800001111", "13800001111"), ("0086 138 0000 1111", "13800001111"),
    ("(0879) 526-0453", "08795260453"), ("+86 879 5260453", "08795260453"), ("+86-10-12345678", "01012345678"),
    ("+86 0879 5260453", "08795260453"), ("", ""), ("无", ""),
])
def test_normalize_phone(raw, norm):
    assert normalize_phone(raw) == norm


@pytest.mark.parametrize("phone,hit", [
    ("+86 13800001111", "road"), ("138 0000 1111", "road"), ("0086-138-0000-1111", "road"),
    ("13800001111", "road"), ("08795260453", "lamp"), ("0879-5260453", "lamp"), ("+86 879 5260453", "lamp"),
    ("13800001112", None),
])
def test_search_by_phone_in_any_format(desk, county, phone, hit):
    got = numbers(lists.search(desk.db, desk.center, {"phone": phone}, at("2026-03-06 09:00")))
    assert got == ({county[hit]} if hit else set())


@pytest.mark.parametrize("f,hits", [
    ({"state": "received"}, {"power"}),
    ({"state": "dispatched"}, {"road", "water"}),
    ({"state": "in_progress"}, {"lamp"}),
    ({"unit": "QSZ"}, {"road", "lamp"}),
    ({"unit": "ZLS"}, {"water"}),
    ({"township": "539901102"}, {"road", "lamp"}),
    ({"township": "539901101"}, {"water"}),
    ({"category": "0301"}, {"power"}),
    ({"territory": "539901103201"}, {"power"}),
    ({"from": "2026-03-03", "to": "2026-03-04"}, {"lamp", "water"}),
    ({"from": "2026-03-05"}, {"power"}),
    ({"to": "2026-03-02"}, {"road"}),
    ({"caller": "赵有福"}, {"water"}),
    ({"number": "TST-20260303-0001"}, {"lamp"}),
    ({"number": "0303-0001"}, {"lamp"}),
    ({"state": "dispatched", "township": "539901102"}, {"road"}),
    ({}, {"road", "lamp", "water", "power"}),
])
def test_search_filters(desk, county, f, hits):
    assert numbers(lists.search(desk.db, desk.center, f, at("2026-03-06 09:00"))) == {county[h] for h in hits}


def test_search_overdue(desk, county):
    # road: due 03-09, lamp: due 03-10, water: due 03-11
    assert numbers(lists.search(desk.db, desk.center, {"overdue": "1"}, at("2026-03-06 09:00"))) == set()
    assert numbers(lists.search(desk.db, desk.center, {"overdue": "1"}, at("2026-03-10 09:00"))) == {county["road"]}
    desk.act(desk.qsz, county["road"], "sign", at("2026-03-10 10:00"))
    desk.act(desk.qsz, county["road"], "reply", at("2026-03-10 10:30"), result="已修复")
    assert numbers(lists.search(desk.db, desk.center, {"overdue": "on"}, at("2026-03-11 09:00"))) == {county["lamp"]}


@pytest.mark.parametrize("who,hits", [
    ("qsz", {"road", "lamp", "water"}),  # water: QSZ is a co-unit
    ("zls", {"water"}),
    ("gdj", set()),
    ("operator", {"road", "lamp", "water", "power"}),
    ("leader", {"road", "lamp", "water", "power"}),
])
def test_handler_searches_only_its_own_units_tickets(desk, county, who, hits):
    got = lists.search(desk.db, getattr(desk, who), {}, at("2026-03-06 09:00"))
    assert numbers(got) == {county[h] for h in hits}
    assert got.total == len(hits)
    assert numbers(lists.search(desk.db, getattr(desk, who), {"q": "停电"}, at("2026-03-06 09:00"))) == (
        {county["power"]} if "power" in hits else set())


def test_search_pages_and_sorts_by_deadline(desk, county):
    p1 = lists.search(desk.db, desk.center, {"sort": "due"}, at("2026-03-06 09:00"), page=1, per_page=2)
    p2 = lists.search(desk.db, desk.center, {"sort": "due"}, at("2026-03-06 09:00"), page=2, per_page=2)
    assert (p1.total, p1.pages) == (4, 2)
    assert [r["number"] for r in p1.rows + p2.rows] == [county["road"], county["lamp"], county["water"], county["power"]]


@pytest.mark.parametrize("f", [{"state": "open"}, {"from": "03/02/2026"}])
def test_search_refuses_bad_filters(desk, f):
    with pytest.raises(ValidationFailed):
        lists.search(desk.db, desk.center, f, at("2026-03-06 09:00"))


# ---- queues --------------------------------------------------------------------------------------------


@pytest.fixture
def queue(desk):
    """QSZ holds one ticket in each situation of its queue; ZLS holds one of its own. Looked at 2026-03-10 10:00."""
    d, q = desk, {}
    q["unsigned"] = d.new(at("2026-03-09 09:00"))
    d.dispatch(q["unsigned"], at("2026-03-09 09:00"))                        # due 03-16
    q["working"] = d.new(at("2026-03-09 09:00"))
    d.dispatch(q["working"], at("2026-03-09 09:00"))
    d.act(d.qsz, q["working"], "sign", at("2026-03-09 10:00"))
    q["overdue"] = d.new(at("2026-03-02 09:00"))
    d.dispatch(q["overdue"], at("2026-03-02 09:00"))                         # due 03-09: overdue
    d.act(d.qsz, q["overdue"], "sign", at("2026-03-02 10:00"))
    q["soon"] = d.new(at("2026-03-10 08:00"))
    d.dispatch(q["soon"], at("2026-03-10 08:00"), urgency="urgent")          # due 03-11 08:00
    q["asking"] = d.new(at("2026-03-09 09:00"))
    d.dispatch(q["asking"], at("2026-03-09 09:00"))
    d.act(d.qsz, q["asking"], "sign", at("2026-03-09 09:30"))
    d.act(d.qsz, q["asking"], "request_extension", at("2026-03-09 09:40"), workdays=2, reason="等材料")
    q["reworked"] = d.new(at("2026-03-09 09:00"))
    d.dispatch(q["reworked"], at("2026-03-09 09:00"))
    d.act(d.qsz, q["reworked"], "sign", at("2026-03-09 09:30"))
    d.act(d.qsz, q["reworked"], "reply", at("2026-03-09 11:00"), result="已修复")
    d.act(d.center, q["reworked"], "send_back", at("2026-03-09 12:00"), reason="缺照片")
    q["answered"] = d.new(at("2026-03-09 09:00"))
    d.dispatch(q["answered"], at("2026-03-09 09:00"))
    d.act(d.qsz, q["answered"], "sign", at("2026-03-09 09:30"))
    d.act(d.qsz, q["answered"], "reply", at("2026-03-09 15:00"), result="已修复")
    q["returning"] = d.new(at("2026-03-10 08:00"))
    d.dispatch(q["returning"], at("2026-03-10 08:00"))
    d.act(d.qsz, q["returning"], "request_return", at("2026-03-10 08:30"), reason_code="not_our_duty", reason="x")
    q["late_sign"] = d.new(at("2026-03-05 09:00"))
    d.dispatch(q["late_sign"], at("2026-03-05 09:00"))                       # due 03-12, sign by 03-06 09:00
    q["elsewhere"] = d.new(at("2026-03-02 09:00"), category="0202")
    d.dispatch(q["elsewhere"], at("2026-03-02 09:00"), lead="ZLS")           # ZLS, overdue, unsigned
    q["waiting"] = d.new(at("2026-03-10 09:00"))
    q["escalated"] = d.new(at("2026-03-10 09:00"))
    d.act(d.center, q["escalated"], "escalate", at("2026-03-10 09:05"), reason="涉及多个部门")
    return q


NOW = "2026-03-10 10:00"


@pytest.mark.parametrize("tab,names", [
    ("to_sign", {"unsigned", "soon", "returning", "late_sign"}),
    ("in_progress", {"working", "overdue", "asking", "reworked"}),
    ("due_soon", {"soon"}),
    ("overdue", {"overdue"}),
    ("sent_back", {"reworked"}),
    ("pending", {"asking", "returning"}),
    ("done", {"answered"}),
])
def test_unit_queue_tabs(desk, queue, tab, names):
    page = lists.unit_queue(desk.db, "QSZ", tab, at(NOW))
    assert numbers(page) == {queue[n] for n in names}
    assert page.total == len(names)


def test_unit_counts_match_the_tabs(desk, queue):
    counts = lists.unit_counts(desk.db, "QSZ", at(NOW))
    assert counts == {"to_sign": 4, "in_progress": 4, "due_soon": 1, "overdue": 1, "sent_back": 1, "pending": 2}
    assert lists.unit_counts(desk.db, "ZLS", at(NOW)) == {
        "to_sign": 1, "in_progress": 0, "due_soon": 0, "overdue": 1, "sent_back": 0, "pending": 0}


def test_unit_queue_lists_soonest_deadline_first(desk, queue):
    rows = lists.unit_queue(desk.db, "QSZ", "to_sign", at(NOW)).rows
    assert [r["number"] for r in rows] == [queue[n] for n in ("soon", "late_sign", "unsigned", "returning")]


@pytest.mark.parametrize("tab,names", [
    ("to_dispatch", {"waiting"}),
    ("returns", {"returning"}),
    ("extensions", {"asking"}),
    ("replies", {"answered"}),
    ("overdue", {"overdue", "elsewhere"}),
    ("sign_overdue", {"late_sign", "elsewhere", "unsigned"}),
    ("escalated", {"escalated"}),
])
def test_center_queue_tabs(desk, queue, tab, names):
    page = lists.center_queue(desk.db, tab, at(NOW))
    assert numbers(page) == {queue[n] for n in names}
    assert lists.center_counts(desk.db, at(NOW))[tab] == len(names)


@pytest.mark.parametrize("fn", [lambda db: lists.unit_queue(db, "QSZ", "nope", at(NOW)),
                                lambda db: lists.center_queue(db, "nope", at(NOW))])
def test_unknown_tab_is_refused(db, fn):
    with pytest.raises(ValidationFailed):
        fn(db)
