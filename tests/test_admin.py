"""Admin pages: the role gate on every admin route, edit forms, CSV imports, the calendar month view and gap banner."""
import io

import pytest
from conftest import classes, page

from app.store import one, scalar

pytestmark = pytest.mark.usefixtures("fast_hashes")

OTHER_ROLES = {"operator": "operator", "center": "center", "handler": "qingshi", "leader": "leader"}
# sample values for the URL arguments of admin routes: a new route with a new argument must be added here
SAMPLES = {
    ("admin.unit_form", "code"): "QSZ",
    ("admin.territory_form", "code"): "539901102",
    ("admin.category_form", "code"): "0101",
    (None, "user_id"): None,  # filled in from the database (the operator's id)
}


def admin_rules(app):
    """Every URL rule of the admin blueprint with the method to try: GET, or POST for POST-only routes."""
    rules = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            method = "GET" if "GET" in rule.methods else "POST"
            rules.append((rule, method))
    return rules


def _url(rule, db) -> str:
    values = {}
    for arg in rule.arguments:
        key = (rule.endpoint, arg) if (rule.endpoint, arg) in SAMPLES else (None, arg)
        assert key in SAMPLES, f"add a sample value for {rule.endpoint} <{arg}> to SAMPLES"
        values[arg] = SAMPLES[key] or scalar(db, "SELECT id FROM users WHERE username = 'operator'")
    path = rule.rule
    for arg, value in values.items():
        path = path.replace(f"<{arg}>", str(value)).replace(f"<int:{arg}>", str(value))
    assert "<" not in path, path
    return path


def test_admin_rules_are_found(app):
    endpoints = {rule.endpoint for rule, _ in admin_rules(app)}
    assert {"admin.users", "admin.user_new", "admin.user_password", "admin.units_import",
            "admin.calendar_view", "admin.calendar_day", "admin.audit_log"} <= endpoints
    assert len(admin_rules(app)) >= 20


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_get_403_on_every_admin_route(app, client, auth, db, role):
    assert auth.login(OTHER_ROLES[role]).status_code == 302
    wrong = []
    for rule, method in admin_rules(app):
        resp = client.open(_url(rule, db), method=method)
        if resp.status_code != 403:
            wrong.append((method, rule.rule, resp.status_code))
    assert wrong == []


def test_anonymous_is_sent_to_login_from_every_admin_route(app, client, db):
    wrong = []
    for rule, method in admin_rules(app):
        resp = client.open(_url(rule, db), method=method)
        if resp.status_code != 302 or not resp.headers["Location"].startswith("/login"):
            wrong.append((method, rule.rule, resp.status_code, resp.headers.get("Location")))
    assert wrong == []


def test_admin_reaches_every_admin_route(app, client, auth, db):
    auth.login("admin")
    wrong = []
    for rule, method in admin_rules(app):
        resp = client.open(_url(rule, db), method=method)
        ok = resp.status_code in (200, 302) if method == "GET" else resp.status_code not in (403, 500)
        if not ok:
            wrong.append((method, rule.rule, resp.status_code))
    assert wrong == []


def test_403_page_is_chinese(client, auth):
    auth.login("operator")
    resp = client.get("/admin/users")
    assert resp.status_code == 403
    assert "您没有权限访问这个页面" in page(resp).get_element_by_id("error").text_content()


# ---- users ------------------------------------------------------------------------------------------


@pytest.fixture
def admin(client, auth):
    assert auth.login("admin").status_code == 302
    return client


def _value(doc, name):
    values = doc.xpath(f'//form//input[@name="{name}"]/@value')
    return values[0] if values else None


def _selected(doc, name):
    return doc.xpath(f'//select[@name="{name}"]/option[@selected]/@value')


def _field_error(doc, name):
    errors = doc.xpath(f'//*[@name="{name}"]/ancestor::label[1]//em[@class="error"]')
    return errors[0].text_content() if errors else ""


def test_handler_without_unit_is_refused_with_text_kept(admin, db):
    before = scalar(db, "SELECT COUNT(*) FROM users")
    resp = admin.post("/admin/users/new", data={"username": "xiaowang", "display_name": "小王", "role": "handler",
                                                "unit_code": "", "phone": "13912345678", "password": "Start2026x"})
    assert resp.status_code == 422
    doc = page(resp)
    form = doc.get_element_by_id("user-form")
    assert "请改正标出的内容" in form.text_content()
    assert (_value(doc, "username"), _value(doc, "display_name"), _value(doc, "phone")) == \
        ("xiaowang", "小王", "13912345678")
    assert _selected(doc, "role") == ["handler"]
    assert "承办单位经办人必须属于一个单位" in _field_error(doc, "unit_code")
    assert _value(doc, "password") in ("", None), "the password is never sent back in the page"
    assert scalar(db, "SELECT COUNT(*) FROM users") == before


def test_create_handler(admin, db):
    resp = admin.post("/admin/users/new", data={"username": "xiaowang", "display_name": "小王", "role": "handler",
                                                "unit_code": "QSZ", "password": "Start2026x"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/users"
    user = one(db, "SELECT role, unit_code, must_change FROM users WHERE username = 'xiaowang'")
    assert user == {"role": "handler", "unit_code": "QSZ", "must_change": 1}
    listing = page(admin.get("/admin/users")).get_element_by_id("users")
    row = [tr for tr in listing.xpath(".//tr") if "xiaowang" in tr.text_content()][0]
    assert "青石镇人民政府" in row.text_content() and "待改密码" in row.text_content()


REFUSED_FORMS = [
    # (url, form, fields whose text must come back, field with the error, error text, check query, its value)
    ("/admin/users/{operator}", {"display_name": "新名字", "role": "handler", "unit_code": "", "phone": "13800000009"},
     ["display_name", "phone"], "unit_code", "承办单位经办人必须属于一个单位",
     "SELECT role FROM users WHERE username = 'operator'", "operator"),
    ("/admin/units/QSZ", {"name": "县自来水公司", "kind": "township", "phone": "0879-1", "contact": "某人"},
     ["name", "phone", "contact"], "name", "名称与单位 ZLS 重复",
     "SELECT name FROM units WHERE code = 'QSZ'", "青石镇人民政府"),
    ("/admin/territories/new", {"code": "539901102299", "name": "新村", "level": "village", "parent_code": ""},
     ["code", "name"], "parent_code", "上级乡镇 （空） 不存在",
     "SELECT COUNT(*) FROM territories WHERE code = '539901102299'", 0),
    ("/admin/catalogue/0101", {"major_code": "01", "major_name": "道路交通", "name": "村组道路损坏",
                               "responsible": "unit", "unit_code": "", "co_units": "JTJ", "keywords": "村道;烂路",
                               "urgency": "normal"},
     ["major_name", "name", "co_units", "keywords"], "unit_code", "固定单位时必须填写单位代码",
     "SELECT responsible FROM categories WHERE code = '0101'", "territory"),
]


@pytest.mark.parametrize("url,form,kept,field,why,query,unchanged", REFUSED_FORMS,
                         ids=[url for url, *_ in REFUSED_FORMS])
def test_refused_form_keeps_the_text(admin, db, url, form, kept, field, why, query, unchanged):
    operator = scalar(db, "SELECT id FROM users WHERE username = 'operator'")
    resp = admin.post(url.format(operator=operator), data=form)
    assert resp.status_code == 422
    doc = page(resp)
    assert "请改正标出的内容" in doc.xpath('//*[@role="alert"]')[0].text_content()
    assert {name: _value(doc, name) for name in kept} == {name: form[name] for name in kept}
    assert why in _field_error(doc, field)
    assert scalar(db, query) == unchanged


def test_disable_user_from_the_page(admin, db):
    uid = scalar(db, "SELECT id FROM users WHERE username = 'leader'")
    resp = admin.post(f"/admin/users/{uid}", data={"display_name": "县领导", "role": "leader", "disabled": "1"})
    assert resp.status_code == 302
    assert scalar(db, "SELECT disabled FROM users WHERE id = ?", (uid,)) == 1
    doc = page(admin.get(f"/admin/users/{uid}"))
    assert doc.xpath('//input[@name="disabled"]/@checked')


# ---- units, territories, catalogue ------------------------------------------------------------------------


def test_edit_unit(admin, db):
    doc = page(admin.get("/admin/units/QSZ"))
    assert _value(doc, "name") == "青石镇人民政府" and _selected(doc, "kind") == ["township"]
    assert _value(doc, "code") is None, "the code of an existing unit cannot be changed"
    resp = admin.post("/admin/units/QSZ", data={"name": "青石镇人民政府", "kind": "township", "phone": "0879-6000001",
                                                "contact": "新联系人", "active": "1"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/units"
    assert one(db, "SELECT phone, contact FROM units WHERE code = 'QSZ'") == \
        {"phone": "0879-6000001", "contact": "新联系人"}
    assert scalar(db, "SELECT COUNT(*) FROM audit_log WHERE action = 'unit.update' AND target = 'QSZ'") == 1


def test_new_unit(admin, db):
    resp = admin.post("/admin/units/new", data={"code": "tyj2", "name": "县体育局", "kind": "department"})
    assert resp.status_code == 302
    assert one(db, "SELECT name, kind, active FROM units WHERE code = 'TYJ2'") == \
        {"name": "县体育局", "kind": "department", "active": 1}


def test_unknown_unit_is_404(admin):
    assert admin.get("/admin/units/NOPE").status_code == 404


def test_edit_territory(admin, db):
    doc = page(admin.get("/admin/territories/539901102201"))
    assert _value(doc, "name") == "岩脚村" and _selected(doc, "parent_code") == ["539901102"]
    resp = admin.post("/admin/territories/539901102201",
                      data={"name": "岩脚村委会", "level": "village", "parent_code": "539901102", "active": "1"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/territories"
    assert scalar(db, "SELECT name FROM territories WHERE code = '539901102201'") == "岩脚村委会"
    assert scalar(db, "SELECT COUNT(*) FROM audit_log WHERE action = 'territory.update'") == 1


def test_edit_catalogue_leaf(admin, db):
    doc = page(admin.get("/admin/catalogue/0101"))
    assert _value(doc, "co_units") == "JTJ" and _value(doc, "keywords").startswith("村道;路烂了")
    assert _selected(doc, "responsible") == ["territory"]
    resp = admin.post("/admin/catalogue/0101", data={
        "major_code": "01", "major_name": "道路交通", "name": "村组道路损坏", "responsible": "territory",
        "unit_code": "", "co_units": "JTJ;ZRJ", "keywords": "村道;烂路", "urgency": "normal", "active": "1"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/catalogue"
    row = one(db, "SELECT co_units, keywords FROM categories WHERE code = '0101'")
    assert row == {"co_units": '["JTJ", "ZRJ"]', "keywords": '["村道", "烂路"]'}
    assert scalar(db, "SELECT COUNT(*) FROM audit_log WHERE action = 'category.update' AND target = '0101'") == 1


# ---- imports through the pages ----------------------------------------------------------------------------

IMPORTS = {
    # kind: (url, table, good file, (bad file, bad line numbers))
    "units": ("/admin/units/import", "units",
              "code,name,kind,phone,contact\nTST,县测试局,县直部门,0879-1,张三\n",
              ("code,name,kind\nA1,县甲局,县直部门\nA1,县乙局,县直部门\nA3,县丙局,部门\nA4,县丁局,乡镇\nA5,,乡镇\n",
               [3, 4, 6])),
    "territories": ("/admin/territories/import", "territories",
                    "code,name,level,parent_code,unit_code\n539901102299,新村,村,539901102,\n",
                    ("code,name,level,parent_code,unit_code\n9,某乡,乡镇,,\n91,某村,村,539901102,\n92,某组,组,9,\n"
                     "93,某村,村,9,NOPE\n", [2, 4, 5])),
    "catalogue": ("/admin/catalogue/import", "categories",
                  "major_code,major_name,code,name,responsible,unit_code\n31,测试大类,3101,测试小类,固定单位,GDJ\n",
                  ("major_code,major_name,code,name,responsible,unit_code\n31,测试,3101,甲,固定单位,NOPE\n"
                   "31,测试,3102,乙,属地,\n31,测试,3103,丙,上级,\n", [2, 4])),
    "calendar": ("/admin/calendar/import", "calendar_days",
                 "date,type,name\n2027-01-01,节假日,元旦\n2027-02-20,调休上班,春节调休\n",
                 ("date,type,name\n2027-01-01,节假日,元旦\n2027-02-30,节假日,春节\n2027-02-10,调休上班,周三\n"
                  "2027-02-11,放假,春节\n", [3, 4, 5])),
}


def _snapshot(db):
    return {t: db.conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
            for t in ("units", "territories", "categories", "calendar_days", "calendar_years", "audit_log")}


def _upload(client, url, text, encoding):
    return client.post(url, data={"file": (io.BytesIO(text.encode(encoding)), "导入.csv")},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("encoding", ["utf-8", "gbk"])
@pytest.mark.parametrize("kind", IMPORTS)
def test_bad_import_lists_every_bad_row_and_changes_nothing(admin, db, kind, encoding):
    url, _, _, (bad, lines) = IMPORTS[kind]
    before = _snapshot(db)
    resp = _upload(admin, url, bad, encoding)
    assert resp.status_code == 422
    doc = page(resp)
    assert "导入失败" in doc.get_element_by_id("import-failed").text_content()
    shown = [td.text_content() for td in doc.xpath('//table[@id="bad-rows"]/tbody/tr/td[1]')]
    assert shown == [f"第 {n} 行" for n in lines]
    reasons = doc.xpath('//table[@id="bad-rows"]/tbody/tr/td[2]')
    assert all(r.text_content().strip() for r in reasons)
    assert _snapshot(db) == before


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
@pytest.mark.parametrize("kind", IMPORTS)
def test_good_import_adds_rows(admin, db, kind, encoding):
    url, table, good, _ = IMPORTS[kind]
    count = scalar(db, f"SELECT COUNT(*) FROM {table}")
    resp = _upload(admin, url, good, encoding)
    assert resp.status_code == 302
    assert scalar(db, f"SELECT COUNT(*) FROM {table}") > count
    flash = page(admin.get(resp.headers["Location"])).xpath('//div[contains(@class, "flash")]')
    assert flash and "导入成功" in flash[0].text_content()


def test_import_without_file(admin, db):
    resp = admin.post("/admin/units/import", data={}, content_type="multipart/form-data")
    assert resp.status_code == 302
    assert "请选择要导入的 CSV 文件" in admin.get(resp.headers["Location"]).get_data(as_text=True)


# ---- calendar ------------------------------------------------------------------------------------------------


def _cell(client, day: str):
    year, month, _ = day.split("-")
    resp = client.get(f"/admin/calendar?year={int(year)}&month={int(month)}")
    assert resp.status_code == 200
    return page(resp).get_element_by_id(f"d-{day}")


@pytest.mark.parametrize("day,expected,text", [
    ("2026-02-14", {"work", "workday"}, "春节调休"),
    ("2026-02-28", {"work", "workday"}, "春节调休"),
    ("2026-02-16", {"rest", "holiday"}, "春节"),
    ("2026-02-15", {"rest", "normal"}, "周末"),   # a Sunday inside the holiday is stored as a plain weekend
    ("2026-03-07", {"rest", "normal"}, "周末"),
    ("2026-03-09", {"work", "normal"}, ""),
])
def test_month_view_marks_days(admin, day, expected, text):
    cell = _cell(admin, day)
    assert expected <= classes(cell)
    assert not {"work", "rest"} <= classes(cell)
    assert text in cell.text_content()


def test_month_view_of_a_year_without_data(admin):
    resp = admin.get("/admin/calendar?year=2027&month=2")
    doc = page(resp)
    assert "2027 年尚未录入" in doc.get_element_by_id("calendar").text_content()
    assert doc.xpath('//form[@action="/admin/calendar/year"]//input[@name="year"]/@value') == ["2027"]
    assert "work" in classes(doc.get_element_by_id("d-2027-02-08"))


def test_month_view_defaults_to_today(admin, clock):
    clock.set("2026-10-10 09:00")
    doc = page(admin.get("/admin/calendar"))
    assert "2026 年 10 月" in doc.xpath("//h1")[0].text_content()
    assert {"today", "work", "workday"} <= classes(doc.get_element_by_id("d-2026-10-10"))


@pytest.mark.parametrize("query", ["year=2026&month=13", "year=abc", "year=0&month=1", "year=9999&month=12",
                                   "year=1&month=1", "month=0"])
def test_month_view_bad_month_is_404(admin, query):
    assert admin.get(f"/admin/calendar?{query}").status_code == 404


def test_set_day_from_the_month_view(admin, db):
    resp = admin.post("/admin/calendar/day", data={"date": "2026-03-09", "kind": "holiday", "name": "临时放假"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/calendar?year=2026&month=3"
    cell = _cell(admin, "2026-03-09")
    assert {"rest", "holiday"} <= classes(cell) and "临时放假" in cell.text_content()
    admin.post("/admin/calendar/day", data={"date": "2026-03-09", "kind": "normal"})
    assert "work" in classes(_cell(admin, "2026-03-09"))


def test_mark_year_from_the_month_view(admin, db, clock):
    clock.set("2026-11-23 09:00")
    assert page(admin.get("/")).xpath('//*[@id="calendar-banner"]')
    resp = admin.post("/admin/calendar/year", data={"year": "2027"})
    assert resp.status_code == 302
    assert scalar(db, "SELECT source FROM calendar_years WHERE year = 2027") == "manual"
    assert "2027 年尚未录入" not in admin.get("/admin/calendar?year=2027&month=1").get_data(as_text=True)
    assert not page(admin.get("/")).xpath('//*[@id="calendar-banner"]')


@pytest.fixture
def as_role(client, auth):
    def login(role):
        username = {"handler": "qingshi"}.get(role, role)
        assert auth.login(username).status_code == 302
        return client
    return login


def _banner(client):
    found = page(client.get("/")).xpath('//*[@id="calendar-banner"]')
    return found[0].text_content() if found else None


@pytest.mark.parametrize("role,shown", [("admin", True), ("center", True), ("operator", False), ("leader", False),
                                        ("handler", False)])
@pytest.mark.parametrize("today,deleted,year", [
    ("2026-11-23 09:00", None, "2027"),     # today + 60 days reaches 2027
    ("2026-03-02 09:00", 2026, "2026"),     # this year's rows deleted
])
def test_calendar_gap_banner(as_role, db, clock, role, shown, today, deleted, year):
    clock.set(today)
    if deleted:
        db.conn.execute("DELETE FROM calendar_years WHERE year = ?", (deleted,))
        db.conn.commit()
    banner = _banner(as_role(role))
    if shown:
        assert banner and f"工作日历缺少 {year} 年的节假日安排" in banner
    else:
        assert banner is None


@pytest.mark.parametrize("role", ["admin", "center"])
@pytest.mark.parametrize("today", ["2026-03-02 09:00", "2026-11-01 09:00"])
def test_no_banner_when_covered(as_role, clock, role, today):
    clock.set(today)
    assert _banner(as_role(role)) is None
