"""Repeat appeals at service level on a real SQLite file: intake trips the rules, corrections, links, rescan."""
import io
import json
from datetime import timedelta

import pytest
from conftest import at
from docx import Document

from app.domain.errors import NotPermitted, ValidationFailed
from app.domain.roles import Actor
from app.services import repeats, supervision
from app.services import tickets as svc
from app.store import all_rows, one, scalar

VILLAGE, NEXT_VILLAGE = "539901102201", "539901102202"  # 青石镇 岩脚村 and its neighbour
T0 = at("2026-03-02 09:00")
PIPE = ["岩脚村村委会门口的自来水管爆了，水一直往外冒，路都淹了，请赶快来修。",
        "村委会门口水管爆裂了，水不停地往外冒，路面全是水，麻烦派人来。",
        "喂你好，我们村委会旁边的自来水管子爆开了，一直在冒水，整条路成了河。",
        "村委会门口那里水管爆了，路都淹了，到现在没人来管。",
        "你好，村委会门口的水管破了在冒水，赶紧来处理吧。",
        "村委会门口水管爆裂，一直冒水，路上全是水，快来修。"]
WAGE = "张老板的砖厂欠了我八千多块工资，打电话也不接，请劳动部门帮忙讨回来。"


def user(db, username: str) -> Actor:
    row = one(db, "SELECT id, display_name, role, unit_code FROM users WHERE username = ?", (username,))
    return Actor(row["id"], row["display_name"], row["role"], row["unit_code"])


class Calls:
    """Take calls in the demo county and look at what key supervision made of them."""

    def __init__(self, db, cfg):
        self.db, self.cfg = db, cfg
        self.operator, self.center, self.leader = user(db, "operator"), user(db, "center"), user(db, "leader")

    def take(self, when, *, phone="13512340000", content=PIPE[0], category="0202", territory=VILLAGE, anonymous=False,
             title="水管爆裂", id_number="", **kw):
        form = {"channel": "phone", "kind": "complaint", "urgency": "normal", "caller_name": "" if anonymous else "村民",
                "caller_phone": phone, "territory": territory, "category": category, "title": title,
                "content": content, "anonymous": "1" if anonymous else "", "id_number": id_number}
        return svc.intake(self.db, self.cfg, self.operator, form, when, **kw).number

    def villagers(self, n, start=T0, step=timedelta(hours=1), phones=None):
        phones = phones or [f"1398888000{i}" for i in range(n)]
        return [self.take(start + i * step, phone=phones[i], content=PIPE[i % len(PIPE)]) for i in range(n)]

    def items(self, rule=None):
        sql = "SELECT * FROM supervision_items" + (" WHERE rule = ?" if rule else "") + " ORDER BY id"
        return all_rows(self.db, sql, (rule,) if rule else ())

    def members(self, item_id):
        return [m["number"] for m in supervision.members(self.db, item_id)]

    def ticket(self, number):
        return svc.get(self.db, self.center, number)

    def actions(self, number):
        return [e["action"] for e in self.ticket(number)["events"]]


@pytest.fixture
def calls(db, cfg):
    return Calls(db, cfg)


def test_the_fifth_call_trips_repeat_caller_and_the_fourth_does_not(calls, db):
    numbers = [calls.take(T0 + timedelta(days=i), content=PIPE[i]) for i in range(4)]
    assert calls.items() == []
    numbers.append(calls.take(T0 + timedelta(days=4), content=PIPE[4]))
    [item] = calls.items("repeat_caller")
    assert calls.members(item["id"]) == numbers
    assert (item["ticket_count"], item["caller_count"], item["status"]) == (5, 1, "open")
    assert item["first_at"].startswith("2026-03-02T09:00") and item["last_at"].startswith("2026-03-06T09:00")
    assert "135****0000" in item["title"]
    for n in numbers:  # every member carries the flag, the item and an event
        t = calls.ticket(n)
        assert t["supervision"]["flags"] == ["repeat_caller"] and t["supervision"]["key_supervision"] == item["id"]
        assert "key_supervision" in calls.actions(n)
    note = one(db, "SELECT * FROM notifications WHERE kind = 'key_supervision'")
    assert note["role"] == "center" and f"#{item['id']}" in note["text"] and "一人多次" in note["text"]


def test_the_sixth_call_grows_the_item(calls):
    numbers = [calls.take(T0 + timedelta(days=i), content=PIPE[i]) for i in range(6)]
    [item] = calls.items("repeat_caller")
    assert calls.members(item["id"]) == numbers and item["ticket_count"] == 6
    kinds = [n["kind"] for n in supervision.get_item(calls.db, calls.center, item["id"])["notes"]]
    assert kinds == ["created", "grew"]


@pytest.mark.parametrize("fifth_day, trips", [(30, True), (31, False)])
def test_repeat_caller_window_edge_at_intake(calls, fifth_day, trips):
    for i, d in enumerate([0, 1, 2, 3]):
        calls.take(T0 + timedelta(days=d), content=PIPE[i])
    calls.take(T0 + timedelta(days=fifth_day), content=PIPE[4])
    assert bool(calls.items("repeat_caller")) is trips


def test_same_caller_with_a_different_matter_is_not_counted(calls):
    for i in range(3):
        calls.take(T0 + timedelta(days=i), content=PIPE[i])
    calls.take(T0 + timedelta(days=3), content=WAGE, category="0901", title="拖欠工资")
    calls.take(T0 + timedelta(days=4), content=PIPE[3])
    assert calls.items() == []
    calls.take(T0 + timedelta(days=5), content=PIPE[4])
    [item] = calls.items("repeat_caller")
    assert item["ticket_count"] == 5


def test_five_villagers_trip_mass_event_and_five_calls_from_four_people_do_not(calls):
    phones = ["13988880000", "13988880001", "13988880002", "13988880003", "13988880000"]
    calls.villagers(5, phones=phones)
    assert calls.items("mass_event") == []
    sixth = calls.take(T0 + timedelta(hours=6), phone="13988880009", content=PIPE[5])
    [item] = calls.items("mass_event")
    assert (item["ticket_count"], item["caller_count"]) == (6, 5)
    assert sixth in calls.members(item["id"])


@pytest.mark.parametrize("last_hour, trips", [(72, True), (73, False)])
def test_mass_event_window_edge_at_intake(calls, last_hour, trips):
    calls.villagers(4)
    calls.take(T0 + timedelta(hours=last_hour), phone="13977770000", content=PIPE[4])
    assert bool(calls.items("mass_event")) is trips


def test_anonymous_calls_never_make_a_repeat_caller_group(calls):
    for i in range(6):
        calls.take(T0 + timedelta(days=i), content=PIPE[i], anonymous=True)
    assert calls.items("repeat_caller") == []


def test_a_corrected_category_makes_a_group(calls, db):
    numbers = [calls.take(T0 + timedelta(days=i), content=PIPE[i]) for i in range(4)]
    wrong = calls.take(T0 + timedelta(days=4), content=PIPE[4], category="0201", title="停水")
    assert calls.items() == []
    svc.act(db, calls.cfg, calls.operator, wrong, "update", {"category": "0202", "reason": "分类选错"}, T0 + timedelta(days=5))
    [item] = calls.items("repeat_caller")
    assert calls.members(item["id"]) == numbers + [wrong]


def test_a_corrected_category_breaks_a_group(calls, db):
    numbers = [calls.take(T0 + timedelta(days=i), content=PIPE[i]) for i in range(5)]
    [item] = calls.items("repeat_caller")
    svc.act(db, calls.cfg, calls.operator, numbers[2], "update", {"category": "0201"}, T0 + timedelta(days=6))
    item = one(db, "SELECT * FROM supervision_items WHERE id = ?", (item["id"],))
    assert numbers[2] not in calls.members(item["id"])
    assert (item["status"], item["close_kind"]) == ("closed", "dissolved")
    assert calls.actions(numbers[2])[-1] == "key_supervision_removed"
    assert calls.ticket(numbers[0])["supervision"]["flags"] == []


def test_a_changed_phone_moves_a_call_into_the_group(calls, db):
    for i in range(4):
        calls.take(T0 + timedelta(days=i), content=PIPE[i])
    typo = calls.take(T0 + timedelta(days=4), content=PIPE[4], phone="13512340009")
    assert calls.items() == []
    svc.act(db, calls.cfg, calls.operator, typo, "update", {"caller_phone": "13512340000"}, T0 + timedelta(days=4, hours=1))
    assert len(calls.items("repeat_caller")) == 1


def test_the_operator_confirms_and_detaches_suggestions_at_intake(calls, db):
    a, b, c, d = calls.villagers(4)
    odd = calls.take(T0 + timedelta(hours=1), phone="13966660000", content="停水了，不知道什么原因。", category="0201")
    # the fifth villager: the operator ties in the odd call and rules out one of the four
    n = calls.take(T0 + timedelta(hours=5), phone="13966660001", content=PIPE[4], links=[odd], detached=[d])
    assert json.loads(one(db, "SELECT details FROM events WHERE ticket_id = (SELECT id FROM tickets WHERE number = ?)"
                              " AND action = 'unlink'", (n,))["details"]) == {"others": [d]}
    [item] = calls.items("mass_event")
    assert set(calls.members(item["id"])) == {a, b, c, odd, n}
    link = one(db, "SELECT * FROM ticket_links WHERE state = 'linked'")
    assert link["actor_name"] == calls.operator.name and "link" in calls.actions(odd)


def test_preview_counts_toward_the_threshold_while_typing(calls, db):
    for i in range(3):
        calls.take(T0 + timedelta(days=i), content=PIPE[i])
    form = {"caller_phone": "135 1234 0000", "territory": VILLAGE, "category": "0202 供水/水管破裂漏水",
            "title": "水管爆裂", "content": PIPE[3]}
    p = repeats.preview(db, calls.cfg, form, T0 + timedelta(days=3))
    assert p.warnings["repeat_caller"] == "30天内第4次反映同一事项，再1次将纳入重点督办"
    assert len(p.findings["repeat_caller"].others) == 3
    assert scalar(db, "SELECT COUNT(*) FROM supervision_items") == 0  # a preview writes nothing


def test_centre_links_and_unlinks(calls, db):
    a, b, c, d = calls.villagers(4)
    other = calls.take(T0 + timedelta(hours=2), phone="13955550000", content=WAGE, category="0901")
    assert calls.items() == []
    repeats.link(db, calls.cfg, calls.center, a, other, T0 + timedelta(hours=3), "同一村民反映的连带问题")
    [item] = calls.items("mass_event")
    assert set(calls.members(item["id"])) == {a, b, c, d, other}
    repeats.unlink(db, calls.cfg, calls.center, a, other, T0 + timedelta(hours=4))
    item = one(db, "SELECT * FROM supervision_items WHERE id = ?", (item["id"],))
    assert other not in calls.members(item["id"]) and item["status"] == "closed"
    assert [x for x in calls.actions(other) if x in ("link", "unlink")] == ["link", "unlink"]
    with pytest.raises(NotPermitted):
        repeats.link(db, calls.cfg, calls.operator, a, b, T0)
    with pytest.raises(ValidationFailed):
        repeats.link(db, calls.cfg, calls.center, a, a, T0)


def test_manual_item_grows_by_links_and_closes_when_its_tickets_close(calls, db):
    a = calls.take(T0, content=WAGE, category="0901", title="拖欠工资")
    b = calls.take(T0 + timedelta(hours=1), phone="13944440000", content=WAGE, category="0901", title="拖欠工资")
    item_id = supervision.put_manual(db, calls.center, a, "涉及多名农民工，领导批示跟踪", T0 + timedelta(hours=2))
    repeats.link(db, calls.cfg, calls.center, a, b, T0 + timedelta(hours=3))
    assert calls.members(item_id) == [a, b]
    for n in (a, b):
        svc.act(db, calls.cfg, calls.center, n, "reject", {"reason_code": "no_demand"}, T0 + timedelta(hours=4))
    item = one(db, "SELECT * FROM supervision_items WHERE id = ?", (item_id,))
    assert (item["status"], item["close_kind"]) == ("closed", "all_closed")


def test_a_new_call_reopens_a_closed_item(calls, db):
    calls.villagers(5)
    [item] = calls.items("mass_event")
    supervision.close(db, calls.center, item["id"], "已现场抢修完毕", T0 + timedelta(hours=6))
    late = calls.take(T0 + timedelta(hours=8), phone="13933330000", content=PIPE[5])
    item = one(db, "SELECT * FROM supervision_items WHERE id = ?", (item["id"],))
    assert item["status"] == "open" and late in calls.members(item["id"])
    assert scalar(db, "SELECT COUNT(*) FROM notifications WHERE kind = 'key_supervision'") == 2


def test_rescan_is_idempotent_and_finds_groups_after_a_threshold_change(calls, db, cfg):
    calls.villagers(3)
    for i in range(3):
        calls.take(T0 + timedelta(days=i), phone="13522220000", content=PIPE[i])
    assert calls.items() == []
    cfg.repeats.mass_event_threshold = cfg.repeats.repeat_caller_threshold = 3
    first = repeats.rescan(db, cfg, T0 - timedelta(days=1), T0 + timedelta(days=5))
    assert first["changes"] == {"created": 2}
    events = scalar(db, "SELECT COUNT(*) FROM events")
    second = repeats.rescan(db, cfg, T0 - timedelta(days=1), T0 + timedelta(days=6))
    assert second["changes"] == {} and scalar(db, "SELECT COUNT(*) FROM events") == events
    cfg.repeats.mass_event_threshold = 5
    assert repeats.rescan(db, cfg, T0 - timedelta(days=1), T0 + timedelta(days=6))["below_threshold"] == 1


def test_clue_transfer_is_recorded_and_its_letter_reads_right(calls, db, cfg):
    numbers = calls.villagers(5)
    [item] = calls.items("mass_event")
    tid = supervision.transfer(db, cfg, calls.center, item["id"], "discipline",
                               "村组干部对群众反映的水管爆裂问题推诿不管，涉嫌不作为。", "工单5件及录音", T0 + timedelta(days=1))
    row = one(db, "SELECT * FROM clue_transfers WHERE id = ?", (tid,))
    assert row["recipient"] == "测试县纪委监委" and row["doc_number"] == "测试县热线移〔2026〕1号"
    assert row["actor_name"] == calls.center.name
    assert "clue_transfer" in calls.actions(numbers[0])
    name, data = supervision.transfer_letter(db, cfg, calls.leader, tid)
    assert name.endswith(".docx")
    doc = Document(io.BytesIO(data))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "关于移送重点督办事项问题线索的函" in text and "测试县纪委监委：" in text
    assert "涉嫌不作为" in text and "共受理相关工单 5 件" in text and "一事多人" in text
    cells = [c.text for row in doc.tables[0].rows for c in row.cells]
    assert numbers[0] in cells and "139****0000" in cells and "13988880000" not in cells
    with pytest.raises(NotPermitted):
        supervision.transfer(db, cfg, calls.leader, item["id"], "petition", "x", "", T0)


def test_intake_check_uses_indexes_only(calls, db, cfg):
    calls.villagers(3)
    seen = []
    db.conn.set_trace_callback(seen.append)
    calls.take(T0 + timedelta(hours=4), phone="13900001111", content=PIPE[3], id_number="53010219900101123X")
    db.conn.set_trace_callback(None)
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "tickets" in s]
    assert selects
    for sql in selects:
        plan = " | ".join(r[3] for r in db.conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "SCAN tickets" not in plan, (sql, plan)
