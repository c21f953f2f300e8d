"""The county-wide overdue notice: on working days (make-up Saturdays too) once, its snapshot, its page and its .docx."""
import io
import json

import pytest
from conftest import at, page
from docx import Document

from app.domain.roles import Actor
from app.services import notices
from app.services import tickets as svc
from app.store import all_rows, one, scalar
from exports import notice as notice_doc

FORM = {"channel": "phone", "kind": "complaint", "urgency": "normal", "caller_name": "赵永福",
        "territory": "539901102201", "category": "0101", "content": "反映的问题一直没人处理。"}


def actor(db, username):
    row = one(db, "SELECT id, display_name, role, unit_code FROM users WHERE username = ?", (username,))
    return Actor(row["id"], row["display_name"], row["role"], row["unit_code"])


@pytest.fixture
def county(db, cfg):
    """The demo county with its own demo tickets closed, and five tickets of ours: three overdue at two units."""
    with db.conn:
        db.conn.execute("UPDATE tickets SET state = 'closed' WHERE state IN ('dispatched','in_progress')")
    center = actor(db, "center")
    made = {}
    for key, lead, when, phone in (("qsz1", "QSZ", "2026-02-02 09:00", "13812341234"),
                                   ("qsz2", "QSZ", "2026-02-04 09:00", "13912345678"),
                                   ("zls1", "ZLS", "2026-02-05 09:00", "0879-5331181"),
                                   ("fresh", "ZLS", "2026-02-12 09:00", "13700001111"),
                                   ("done", "GDJ", "2026-02-02 09:00", "13600001111")):
        made[key] = svc.intake(db, cfg, center, {**FORM, "title": f"工单{key}", "caller_phone": phone}, at(when),
                               then="dispatch", data={"lead_unit": lead}).number
    h = actor(db, "gongdian")
    svc.act(db, cfg, h, made["done"], "sign", {}, at("2026-02-02 10:00"))
    svc.act(db, cfg, h, made["done"], "reply", {"result": "已处理"}, at("2026-02-03 10:00"))
    return made


@pytest.mark.parametrize("now, made", [
    ("2026-02-13 08:30", True),   # Friday, on the minute
    ("2026-02-13 08:29", False),  # not yet
    ("2026-02-14 08:30", True),   # make-up Saturday (春节调休)
    ("2026-02-28 09:00", True),   # make-up Saturday
    ("2026-02-17 09:00", False),  # Spring Festival holiday, a Tuesday
    ("2026-03-07 09:00", False),  # an ordinary Saturday
    ("2026-03-08 09:00", False),  # Sunday
])
def test_the_daily_notice_follows_the_working_day_calendar(db, cfg, now, made):
    result = notices.run_daily(db, cfg, at(now))
    assert (result is not None) is made
    if made:
        assert result["scheduled"] == 1 and result["day"] == now[:10]
        assert notices.run_daily(db, cfg, at(now).replace(hour=17)) is None, "once per working day"


def test_a_notice_missed_while_off_is_made_late_when_the_server_starts(db, cfg):
    made = notices.run_daily(db, cfg, at("2026-03-02 11:00"))
    assert made["data"]["late"] is True
    on_time = notices.run_daily(db, cfg, at("2026-03-03 08:30:20"))
    assert on_time["data"]["late"] is False


def test_the_snapshot_lists_overdue_tickets_by_unit_with_masked_phones(db, cfg, county):
    made = notices.create(db, cfg, at("2026-02-14 08:30"), by="派单员老王")
    units = made["data"]["units"]
    assert [(u["code"], u["count"], u["max_days"]) for u in units] == [("QSZ", 2, 5), ("ZLS", 1, 2)]
    qsz = units[0]["tickets"]
    assert [t["number"] for t in qsz] == [county["qsz1"], county["qsz2"]]
    # due 02-09 23:59:59 → 4 days 8½ hours late on 02-14 08:30: a started day counts
    assert [t["days"] for t in qsz] == [5, 3]
    assert [t["phone"] for t in qsz] == ["138****1234", "139****5678"]
    assert units[1]["tickets"][0]["phone"] == "087****1181"
    assert "13812341234" not in json.dumps(made["data"], ensure_ascii=False)
    assert (made["ticket_count"], made["unit_count"]) == (3, 2)
    assert made["doc_number"] == f"{cfg.county.name}12345通报〔2026〕1号"
    second = notices.create(db, cfg, at("2026-02-14 09:00"), by="派单员老王")
    assert second["seq"] == 2 and second["doc_number"].endswith("〔2026〕2号")


def test_centre_and_leaders_are_told(db, cfg, county):
    notices.run_daily(db, cfg, at("2026-02-14 08:30"))
    rows = all_rows(db, "SELECT role, text FROM notifications WHERE kind = 'overdue_notice'")
    assert {r["role"] for r in rows} == {"center", "leader"}
    assert "2 个单位共 3 件工单超期未办结" in rows[0]["text"]


def _table_rows(table):
    return [[c.text for c in row.cells] for row in table.rows]


def test_the_docx_reopens_with_the_rows_of_the_notice(db, cfg, county):
    made = notices.create(db, cfg, at("2026-02-14 08:30"), by="派单员老王")
    doc = Document(io.BytesIO(notice_doc.build(notices.get(db, made["id"]))))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert made["doc_number"] in text and made["title"] in text
    assert "全县共有3件12345热线工单超过办结时限仍未答复，涉及2个承办单位" in text
    assert "（一）青石镇人民政府（2件）" in text and "（二）县自来水公司（1件）" in text
    summary, qsz, zls = doc.tables
    assert _table_rows(summary) == [["序号", "承办单位", "超期件数", "最长超期（天）"],
                                    ["1", "青石镇人民政府", "2", "5"], ["2", "县自来水公司", "1", "2"]]
    assert _table_rows(qsz) == [
        ["序号", "工单编号", "诉求事项", "诉求人电话", "办结时限", "超期天数"],
        ["1", county["qsz1"], "工单qsz1", "138****1234", "2月9日", "5"],
        ["2", county["qsz2"], "工单qsz2", "139****5678", "2月11日", "3"],
    ]
    assert _table_rows(zls)[1][1] == county["zls1"]
    assert county["fresh"] not in str(_table_rows(zls)) and county["done"] not in text
    body = doc.element.xml
    assert "13812341234" not in body and "13912345678" not in body
    section = doc.sections[0]
    assert round(section.top_margin.cm, 1) == 3.7 and round(section.left_margin.cm, 1) == 2.8


def test_an_empty_notice_says_so(db, cfg):
    with db.conn:
        db.conn.execute("UPDATE tickets SET state = 'closed'")
    made = notices.create(db, cfg, at("2026-03-02 08:30"), by="系统")
    doc = Document(io.BytesIO(notice_doc.build(made)))
    assert "全县没有超过办结时限仍未答复" in "".join(p.text for p in doc.paragraphs) and not doc.tables


def test_the_pages_the_list_to_reprint_and_the_download(db, cfg, county, client, auth, clock, fast_hashes):
    clock.set("2026-02-14 08:40")
    old = notices.run_daily(db, cfg, at("2026-02-14 08:30"))
    auth.login("center")
    resp = client.post("/notices/")
    assert resp.status_code == 302
    new_id = scalar(db, "SELECT MAX(id) FROM notices")
    assert resp.headers["Location"].endswith(f"/notices/{new_id}")
    html = page(client.get("/notices/"))
    assert [r.get("id") for r in html.xpath("//table[@id='notice-list']/tbody/tr")] == [f"notice-{new_id}",
                                                                                       f"notice-{old['id']}"]
    assert "定时" in html.xpath(f"string(//tr[@id='notice-{old['id']}'])")
    show = page(client.get(f"/notices/{old['id']}"))
    assert show.xpath("string(//*[@id='notice-total'])") == "3"
    assert [c.text_content() for c in show.xpath("//table[@data-unit='QSZ']//td[@class='phone']")] == \
        ["138****1234", "139****5678"]
    auth.logout()
    auth.login("leader")
    resp = client.get(f"/notices/{old['id']}.docx")
    assert resp.status_code == 200 and resp.mimetype.endswith("wordprocessingml.document")
    assert "attachment" in resp.headers["Content-Disposition"]
    assert Document(io.BytesIO(resp.data)).tables[1].rows[1].cells[1].text == county["qsz1"]
    assert client.post("/notices/").status_code == 403, "leaders read, the centre generates"
    assert client.get("/notices/99999").status_code == 404
