"""Key supervision in the browser: the warning while typing, the demo's five villagers, role gates, the centre's actions."""
import io

import pytest
from conftest import page
from docx import Document

from app.store import all_rows, one, scalar

pytestmark = pytest.mark.usefixtures("fast_hashes")

VILLAGE = "539901102201"  # 青石镇 岩脚村
PIPE = ["岩脚村村委会门口的自来水管爆了，水一直往外冒，路都淹了，请赶快来修。",
        "村委会门口水管爆裂了，水不停地往外冒，路面全是水，麻烦派人来。",
        "喂你好，我们村委会旁边的自来水管子爆开了，一直在冒水，整条路成了河。",
        "村委会门口那里水管爆了，路都淹了，到现在没人来管。",
        "你好，村委会门口的水管破了在冒水，赶紧来处理吧。"]
NAMES = ["李建国", "王红梅", "张志强", "刘丽萍", "陈永福"]


def form(i: int, **extra) -> dict:
    return {"channel": "phone", "kind": "complaint", "urgency": "normal", "caller_name": NAMES[i],
            "caller_phone": f"1398888000{i}", "territory": VILLAGE, "category": "0202 供水/水管破裂漏水",
            "title": "水管爆裂", "content": PIPE[i], "then": "save", **extra}


def preview(client, i: int):
    f = form(i)
    return client.get("/tickets/new/repeats", query_string={k: f[k] for k in
                      ("caller_phone", "territory", "category", "title", "content")}, headers={"HX-Request": "true"})


def take(client, i: int, **extra):
    resp = client.post("/tickets/new", data=form(i, **extra))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return resp.headers["Location"].split("/tickets/")[1].split("?")[0]


def test_five_villagers_in_a_day_see_the_warning_grow_and_the_item_appear(client, auth, db, clock):
    """The demo story: one broken water pipe, five villagers, one operator."""
    auth.login("operator")
    warnings = []
    numbers = []
    for i in range(5):
        clock.advance(hours=1)
        frag = page(preview(client, i))
        assert frag.get("id") == "repeats"
        warn = frag.xpath("//*[@id='warn-mass_event']")
        warnings.append(warn[0].text_content() if warn else "")
        assert len(frag.xpath("//ul[@id='same-event']/li")) == i
        numbers.append(take(client, i))
    assert warnings[0] == ""
    assert "已有2人反映同一事件" in warnings[1] and "再有3人反映将纳入重点督办" in warnings[1]
    assert "已有4人反映同一事件" in warnings[3] and "再有1人反映" in warnings[3]
    assert "已有5人反映同一事件" in warnings[4] and "将纳入重点督办" in warnings[4]
    shown = client.get(f"/tickets/{numbers[-1]}")
    assert "已纳入重点督办" in shown.get_data(as_text=True)
    auth.logout()
    auth.login("center")
    listing = page(client.get("/supervision/"))
    rows = listing.xpath("//div[@id='items']//tbody/tr[contains(@class, 'ks-mass_event')]")
    assert len(rows) == 1 and "5 张 / 5 人" in rows[0].text_content()
    item_id = one(db, "SELECT id FROM supervision_items")["id"]
    item = page(client.get(f"/supervision/{item_id}"))
    assert [a.text for a in item.xpath("//section[@id='members']//tbody/tr/td[1]/a")] == numbers
    ticket = page(client.get(f"/tickets/{numbers[0]}"))
    assert ticket.xpath("//section[@id='supervision']//span[contains(@class, 'ks-mass_event')]")
    assert ticket.xpath(f"//section[@id='supervision']//a[@href='/supervision/{item_id}']")


def test_the_operator_unticks_a_suggestion_and_it_is_detached(client, auth, db, clock):
    auth.login("operator")
    first = take(client, 0)
    clock.advance(minutes=30)
    frag = page(preview(client, 1))
    assert frag.xpath(f"//input[@name='link_confirm' and @value='{first}' and @checked]")
    second = take(client, 1, link_suggested=first)  # shown, not ticked
    link = one(db, "SELECT * FROM ticket_links")
    assert link["state"] == "detached"
    assert "unlink" in [r["action"] for r in all_rows(db, "SELECT action FROM events WHERE ticket_id = "
                                                          "(SELECT id FROM tickets WHERE number = ?)", (second,))]
    frag = page(client.get("/tickets/new/repeats", headers={"HX-Request": "true"}, query_string={
        **{k: form(2)[k] for k in ("caller_phone", "territory", "category", "title", "content")},
        "link_suggested": first, "link_confirm": second}))
    assert frag.xpath(f"//input[@name='link_confirm' and @value='{first}' and not(@checked)]")


@pytest.mark.parametrize("who, status", [("handler", 403), ("operator", 403), ("admin", 403), ("leader", 200),
                                         ("center", 200)])
def test_who_sees_the_list(client, auth, who, status):
    auth.login({"handler": "qingshi"}.get(who, who))
    assert client.get("/supervision/").status_code == status


@pytest.fixture
def item_id(client, auth, db, clock):
    auth.login("operator")
    for i in range(5):
        take(client, i)
    auth.logout()
    return one(db, "SELECT id FROM supervision_items")["id"]


@pytest.mark.parametrize("path, data", [
    ("/supervision/{id}/note", {"note": "请青石镇今天回复"}),
    ("/supervision/{id}/close", {"reason": "已修复"}),
    ("/supervision/{id}/transfer", {"target": "petition", "summary": "x"}),
    ("/supervision/manual", {"number": "x", "reason": "y"}),
    ("/supervision/link", {"number": "a", "other": "b"}),
    ("/supervision/unlink", {"number": "a", "other": "b"}),
])
def test_leaders_read_only(client, auth, db, item_id, path, data):
    auth.login("leader")
    assert client.get(f"/supervision/{item_id}").status_code == 200
    assert client.post(path.format(id=item_id), data=data).status_code == 403
    assert scalar(db, "SELECT COUNT(*) FROM supervision_notes") == 1  # only "created"
    page_ = page(client.get(f"/supervision/{item_id}"))
    assert not page_.xpath("//section[@id='item-actions']")


def test_handler_sees_the_badge_but_no_link_and_no_item_page(client, auth, db, item_id):
    number = one(db, "SELECT t.number FROM tickets t JOIN supervision_members m ON m.ticket_id = t.id LIMIT 1")["number"]
    auth.login("center")
    client.post(f"/tickets/{number}/act/dispatch", data={"lead_unit": "QSZ"})
    auth.logout()
    auth.login("qingshi")
    box = page(client.get(f"/tickets/{number}")).xpath("//section[@id='supervision']")[0]
    assert "一事多人" in box.text_content() and not box.xpath(".//a[starts-with(@href, '/supervision/')]")
    assert client.get(f"/supervision/{item_id}").status_code == 403


def test_centre_notes_transfers_prints_and_closes(client, auth, db, item_id):
    auth.login("center")
    resp = client.post(f"/supervision/{item_id}/note", data={"note": "请自来水公司今天修复并回复"})
    assert resp.status_code == 302
    resp = client.post(f"/supervision/{item_id}/transfer", data={"target": "discipline", "summary": ""})
    assert resp.status_code == 422 and page(resp).xpath("//details[@id='act-transfer' and @open]")
    resp = client.post(f"/supervision/{item_id}/transfer", data={"target": "discipline",
                                                                 "summary": "村干部对群众反映推诿不管。", "materials": "工单5件"})
    assert resp.status_code == 302
    tid = one(db, "SELECT id FROM clue_transfers")["id"]
    letter = client.get(f"/supervision/transfers/{tid}.docx")
    assert letter.status_code == 200 and letter.mimetype.endswith("wordprocessingml.document")
    text = "\n".join(p.text for p in Document(io.BytesIO(letter.data)).paragraphs)
    assert "测试县纪委监委：" in text and "村干部对群众反映推诿不管。" in text
    resp = client.post(f"/supervision/{item_id}/close", data={"reason": ""})
    assert resp.status_code == 422
    client.post(f"/supervision/{item_id}/close", data={"reason": "已修复，群众满意"})
    item = page(client.get(f"/supervision/{item_id}"))
    assert item.xpath("//*[@id='item-status']")[0].text == "已结束"
    kinds = [li.get("class") for li in item.xpath("//section[@id='item-timeline']//li")]
    assert kinds == ["kn-created", "kn-note", "kn-transfer", "kn-closed"]
    assert client.get("/supervision/", query_string={"status": "closed", "rule": "mass_event"}).status_code == 200


def test_centre_puts_a_ticket_on_key_supervision_and_links_another(client, auth, db, clock):
    auth.login("operator")
    a = take(client, 0)
    b = take(client, 1, category="0201 供水/停水", content="停水了，村委会那边管子好像坏了。")
    auth.logout()
    auth.login("center")
    resp = client.post("/supervision/manual", data={"number": a, "reason": "领导批示跟踪"})
    item_id = one(db, "SELECT id FROM supervision_items WHERE rule = 'manual'")["id"]
    assert resp.headers["Location"].endswith(f"/supervision/{item_id}")
    client.post("/supervision/link", data={"number": a, "other": b, "note": "同一处管道"})
    members = [r["number"] for r in all_rows(db, "SELECT t.number FROM supervision_members m JOIN tickets t "
                                                 "ON t.id = m.ticket_id WHERE m.item_id = ? ORDER BY t.id", (item_id,))]
    assert members == [a, b]
    box = page(client.get(f"/tickets/{b}")).xpath("//section[@id='supervision']")[0]
    assert box.xpath(f".//a[@href='/tickets/{a}']") and "中心指定" in box.text_content()
    resp = client.post("/supervision/link", data={"number": a, "other": "TST-19990101-0001"}, follow_redirects=True)
    assert "不存在" in resp.get_data(as_text=True)


def test_filters_narrow_the_list(client, auth, db, item_id):
    auth.login("center")
    def count(**q):
        return len(page(client.get("/supervision/", query_string=q)).xpath("//div[@id='items']//tbody/tr[starts-with(@class, 'ks-')]"))
    assert count() == 1
    assert count(rule="repeat_caller") == 0
    assert count(township="539901102") == 1 and count(township="539901101") == 0
    assert count(unit="ZLS") == 0  # not dispatched yet
    assert count(**{"from": "2026-03-03"}) == 0 and count(**{"from": "2026-03-02", "to": "2026-03-02"}) == 1
    assert client.get("/supervision/", query_string={"from": "yesterday"}).status_code == 200
