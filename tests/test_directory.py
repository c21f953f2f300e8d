"""Units, territories and the dispatch catalogue: CSV imports (all or nothing, every bad row named) and unit suggestion."""
import json
import re

import pytest
from conftest import at

from app.domain.catalogue import Leaf, suggest_units
from app.domain.errors import ImportFailed, NotFound
from app.domain.roles import SYSTEM
from app.services import catalogue, directory

NOW = at("2026-03-02 09:00")
ENCODINGS = ["utf-8", "utf-8-sig", "gbk"]
CJK = re.compile(r"[\u4e00-\u9fff]")


def _snapshot(db):
    return {t: db.conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
            for t in ("units", "territories", "categories", "audit_log")}


def _check_bad_rows(db, fn, header, cases, encoding):
    """Import header + one row per case; every case with a reason must be reported at its line, no other."""
    text = header + "".join(row + "\n" for row, _ in cases)
    bad = _fails(db, fn, text, encoding)
    expected = {i + 2: why for i, (_, why) in enumerate(cases) if why}
    assert sorted(bad) == sorted(expected)
    for line, why in expected.items():
        assert why in bad[line], (line, bad[line])


def _fails(db, fn, text, encoding):
    """Run an import that must fail; check nothing changed; return {line: reason}."""
    before = _snapshot(db)
    with pytest.raises(ImportFailed) as exc:
        fn(db, SYSTEM, text.encode(encoding), NOW)
    assert "未导入任何数据" in exc.value.message
    assert _snapshot(db) == before
    return dict(exc.value.rows)


# ---- units ---------------------------------------------------------------------------------------

UNITS_GOOD = ("code,name,kind,phone,contact\n"
              "tst,县测试局,县直部门,0879-5200000,张三（办公室）\n"
              "QSZ,青石镇人民政府,乡镇,0879-6000000,新联系人\n"
              "ABC,某公司,company,,\n")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_import_units(db, encoding):
    result = directory.import_units(db, SYSTEM, UNITS_GOOD.encode(encoding), NOW)
    assert result == {"added": 2, "updated": 1}
    assert directory.get_unit(db, "TST") | {} == {"code": "TST", "name": "县测试局", "kind": "department",
                                                   "phone": "0879-5200000", "contact": "张三（办公室）", "active": 1}
    assert directory.get_unit(db, "QSZ")["contact"] == "新联系人"
    assert directory.get_unit(db, "ABC")["kind"] == "company"
    audit = db.conn.execute("SELECT action, details FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    assert audit["action"] == "unit.import" and json.loads(audit["details"]) == result


UNITS_BAD = [
    # (row, what the reason must say)
    ("T1,县一局,县直部门,,", None),
    ("T1,县二局,县直部门,,", "与第 2 行重复"),          # duplicate code in the file
    ("T3,县一局,县直部门,,", "名称与第 2 行重复"),      # duplicate name in the file
    ("T4,县自来水公司,企事业,,", "名称与单位 ZLS 重复"),  # name of another unit already in the database
    ("T5,县五局,部门,,", "类型应为"),                  # unknown kind label
    ("T 6,县六局,县直部门,,", "代码只能是"),
    ("T7,,县直部门,,", "名称不能为空"),
    ("T8,县八局,县直部门," + "1" * 41 + ",", "电话太长"),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_import_units_bad_rows(db, encoding):
    _check_bad_rows(db, directory.import_units, "code,name,kind,phone,contact\n", UNITS_BAD, encoding)


def test_bad_row_numbers_count_blank_lines(db):
    """Row numbers are the ones the admin sees in Excel or an editor, blank lines and empty rows included."""
    text = "code,name,kind\nB1,县一局,县直部门\n\n,,\nB4,县四局,部门\n\n\nB7,县七局,部门\n"
    assert sorted(_fails(db, directory.import_units, text, "utf-8")) == [5, 8]


def test_header_and_cells_are_trimmed(db):
    text = " code , name ,kind\n  T9 ,  县九局 , 县直部门 ,额外的列\nT10,县十局\n"
    bad = _fails(db, directory.import_units, text, "utf-8")
    assert list(bad) == [3] and "类型应为" in bad[3]
    text = " code , name ,kind\n  T9 ,  县九局 , 县直部门 ,额外的列\n"
    assert directory.import_units(db, SYSTEM, text.encode(), NOW) == {"added": 1, "updated": 0}
    assert directory.get_unit(db, "T9")["name"] == "县九局"


@pytest.mark.parametrize("data,why", [
    ("code,name\nX,县某局\n", "表头缺少列：kind"),
    ("code,name,kind\n\n,,\n", "没有数据行"),
])
def test_import_units_bad_file(db, data, why):
    before = _snapshot(db)
    with pytest.raises(ImportFailed) as exc:
        directory.import_units(db, SYSTEM, data.encode(), NOW)
    assert why in exc.value.message
    assert _snapshot(db) == before


# ---- territories ------------------------------------------------------------------------------------

TERR_GOOD = ("code,name,level,parent_code,unit_code\n"
             "539901299201,测试村,村,539901299,\n"      # its township comes later in the same file
             "539901299,测试乡,乡镇,,yjz\n"
             "539901299001,测试社区,社区,539901299,\n"
             "539901102212,长田村,村,539901102,\n")      # already there: updated


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_import_territories(db, encoding):
    result = directory.import_territories(db, SYSTEM, TERR_GOOD.encode(encoding), NOW)
    assert result == {"added": 3, "updated": 1}
    village = directory.get_territory(db, "539901299201")
    assert (village["level"], village["parent_code"], village["unit_code"]) == ("village", "539901299", None)
    assert (village["township_code"], village["township_name"], village["township_unit"]) == \
        ("539901299", "测试乡", "YJZ")
    assert directory.get_territory(db, "539901299001")["level"] == "community"
    assert [v["code"] for v in directory.villages(db, "539901299")] == ["539901299001", "539901299201"]


TERR_BAD = [
    ("539901298,某乡,乡镇,,NOPE", "单位代码 NOPE 不存在"),                 # unknown unit code
    ("539901297,无单位乡,乡镇,,", "必须填写对应的乡镇政府单位代码"),       # township without unit
    ("539901102298,子村,村,539901102201,", "上级必须是乡镇"),             # parent is a village in the database
    ("539901102297,孙村,村,539901102298,", "上级必须是乡镇"),             # parent is a village in this file
    ("539901102296,野村,村,539909999,", "上级乡镇 539909999 不存在"),
    ("539901102295,无上级村,村,,", "上级乡镇 （空） 不存在"),
    ("539901102294,某组,组,539901102,", "层级应为"),                       # unknown level label
    ("539901296,带上级的乡,乡镇,539901102,QSZ", "乡镇不能有上级属地"),
    ("539901102201,岩脚村,村,539901102,", None),
    ("539901102201,岩脚村,村,539901102,", "与第 10 行重复"),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_import_territories_bad_rows(db, encoding):
    _check_bad_rows(db, directory.import_territories, "code,name,level,parent_code,unit_code\n", TERR_BAD, encoding)


def test_import_territories_into_empty_database(empty_cfg):
    from app.store import connect

    db = connect(empty_cfg.db_path)
    try:
        directory.import_units(db, SYSTEM, "code,name,kind\nXZ,新镇人民政府,乡镇\n".encode("gbk"), NOW)
        data = "\ufeffcode,name,level,parent_code,unit_code\n1,新镇,乡镇,,XZ\n1001,新村,村,1,\n".encode()
        assert directory.import_territories(db, SYSTEM, data, NOW) == {"added": 2, "updated": 0}
        assert [t["code"] for t in directory.list_territories(db)] == ["1", "1001"]
    finally:
        db.conn.close()


def test_get_territory_unknown(db):
    with pytest.raises(NotFound):
        directory.get_territory(db, "000")


# ---- catalogue --------------------------------------------------------------------------------------

CAT_HEADER = "major_code,major_name,code,name,responsible,unit_code,co_units,keywords,urgency\n"
CAT_GOOD = (CAT_HEADER
            + "31,测试大类,3101,测试小类,固定单位,gdj,zls；SWJ,停电、断电|跳闸,紧急\n"
            + "31,测试大类,3102,属地小类,territory,,,村道,\n"
            + "01,道路交通,0101,村组道路损坏,属地,,JTJ,村道;烂路,一般\n")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_import_catalogue(db, encoding):
    result = catalogue.import_csv(db, SYSTEM, CAT_GOOD.encode(encoding), NOW)
    assert result == {"added": 2, "updated": 1}
    leaf = catalogue.get_leaf(db, "3101")
    assert (leaf["major_name"], leaf["responsible"], leaf["unit_code"], leaf["urgency"]) == \
        ("测试大类", "unit", "GDJ", "urgent")
    assert json.loads(leaf["co_units"]) == ["ZLS", "SWJ"]
    assert json.loads(leaf["keywords"]) == ["停电", "断电", "跳闸"]
    other = catalogue.get_leaf(db, "3102")
    assert (other["responsible"], other["unit_code"], other["urgency"]) == ("territory", None, "normal")
    assert json.loads(catalogue.get_leaf(db, "0101")["keywords"]) == ["村道", "烂路"]
    major = [m for m in catalogue.tree(db) if m["code"] == "31"][0]
    assert [leaf["code"] for leaf in major["leaves"]] == ["3101", "3102"]


CAT_BAD = [
    ("31,测试大类,3101,测试小类,固定单位,NOPE,,,一般", "单位代码 NOPE 不存在"),      # unknown unit code
    ("31,测试大类,3102,测试小类,固定单位,GDJ,ZLS;NOPE2,,一般", "协办单位代码不存在：NOPE2"),
    ("31,测试大类,3103,测试小类,属地,GDJ,,,一般", "属地办理时不填单位代码"),
    ("31,测试大类,3104,测试小类,上级,,,,一般", "责任方式应为"),                    # unknown responsible label
    ("31,测试大类,3105,测试小类,固定单位,GDJ,,,很急", "紧急程度应为"),              # unknown urgency label
    ("31,测试大类,3106,测试小类,固定单位,,,,一般", "必须填写单位代码"),
    ("31,测试大类,3107,重复小类,固定单位,GDJ,,,一般", None),
    ("31,测试大类,3107,重复小类,固定单位,GDJ,,,一般", "与第 8 行重复"),             # duplicate leaf code
    ("31,测试大类,01,小类用了大类代码,固定单位,GDJ,,,一般", "已经是大类代码"),
    ("0101,小类当大类,3108,测试小类,固定单位,GDJ,,,一般", "已经是小类代码"),
    ("31,另一个名字,3109,测试小类,固定单位,GDJ,,,一般", "名称与前面的行不一致"),
    ("31,测试大类,31,同码,固定单位,GDJ,,,一般", "大类代码"),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_import_catalogue_bad_rows(db, encoding):
    _check_bad_rows(db, catalogue.import_csv, CAT_HEADER, CAT_BAD, encoding)


def test_demo_catalogue_is_consistent(db):
    """Every leaf of the demo county names existing units, and 属地 leaves name none."""
    units = {u["code"] for u in directory.list_units(db)}
    leaves = [leaf for major in catalogue.tree(db) for leaf in major["leaves"]]
    assert len(leaves) > 100
    for leaf in leaves:
        assert (leaf["unit_code"] is None) == (leaf["responsible"] == "territory"), leaf["code"]
        assert set(leaf["co_units"]) <= units and (leaf["unit_code"] is None or leaf["unit_code"] in units)


# ---- suggestion (pure domain) -------------------------------------------------------------------------

WATER = Leaf("0201", "停水", "unit", "ZLS", ("SWJ",), ("停水", "没水", "断水"), "urgent")
ROAD = Leaf("0101", "村组道路损坏", "territory", None, ("JTJ",), ("村道", "路烂了"), "normal")
POWER = Leaf("0301", "停电", "unit", "GDJ", (), ("停电", "没电"), "urgent")
LAMP = Leaf("0104", "农村路灯故障", "territory", None, (), ("路灯不亮",), "normal")
SELF_CO = Leaf("0999", "自协办", "unit", "ZLS", ("ZLS", "SWJ"), (), "normal")
ALL = [WATER, ROAD, POWER, LAMP]


def _plain(suggestions):
    return [(s.unit_code, s.role) for s in suggestions]


@pytest.mark.parametrize("leaf,t_unit,t_name,expected,lead_reason", [
    (WATER, None, None, [("ZLS", "lead"), ("SWJ", "co")], "派单目录规定“停水”由该单位办理"),
    (WATER, "QSZ", "青石镇", [("ZLS", "lead"), ("SWJ", "co")], "派单目录规定“停水”由该单位办理"),
    (ROAD, "QSZ", "青石镇", [("QSZ", "lead"), ("JTJ", "co")], "“村组道路损坏”按属地管理，由青石镇办理"),
    (ROAD, "QSZ", None, [("QSZ", "lead"), ("JTJ", "co")], "由所属乡镇办理"),
    (ROAD, None, None, [("JTJ", "co")], None),    # no territory yet: no lead can be determined
    (SELF_CO, None, None, [("ZLS", "lead"), ("SWJ", "co")], "派单目录规定“自协办”由该单位办理"),
])
def test_suggest_for_a_category(leaf, t_unit, t_name, expected, lead_reason):
    got = suggest_units(leaf, t_unit, t_name, "家里没电了", ALL)
    assert _plain(got) == expected, "a chosen category decides; keywords are not used"
    leads = [s for s in got if s.role == "lead"]
    if lead_reason:
        assert lead_reason in leads[0].reason
    for s in got:
        assert CJK.search(s.reason)
        if s.role == "co":
            assert s.reason == f"派单目录规定“{leaf.name}”由该单位协办"


@pytest.mark.parametrize("text,t_unit,expected", [
    ("家里停电了", None, [("GDJ", "lead")]),
    ("停水两天了，家里没水也没电", None, [("ZLS", "lead"), ("GDJ", "alt")]),   # two hits beat one
    ("村道路烂了，晚上路灯不亮", "QSZ", [("QSZ", "lead")]),                   # both 属地: same township unit
    ("村道路烂了，停电", None, [("GDJ", "lead")]),                          # 属地 leaf without territory: no unit
    ("今天天气很好", "QSZ", []),
    ("", "QSZ", []),
])
def test_suggest_by_keywords(text, t_unit, expected):
    got = suggest_units(None, t_unit, "青石镇" if t_unit else None, text, ALL)
    assert _plain(got) == expected
    for s in got:
        assert s.reason.startswith("内容含“") and "相符" in s.reason


def test_suggest_by_keywords_reason_names_hits_and_category():
    got = suggest_units(None, None, None, "停水两天了，家里没水", ALL)
    assert got[0].reason == "内容含“停水、没水”，与“停水”相符"


def test_suggest_by_keywords_offers_at_most_three():
    leaves = [Leaf(f"9{i}", f"类{i}", "unit", f"U{i}", (), ("漏",), "normal") for i in range(5)]
    got = suggest_units(None, None, None, "漏", leaves)
    assert _plain(got) == [("U0", "lead"), ("U1", "alt"), ("U2", "alt")], "ties are broken by category code"


# ---- suggestion through the service, over the demo county ----------------------------------------------


@pytest.mark.parametrize("category,territory,expected,in_reason", [
    ("0201", None, [("ZLS", "lead"), ("SWJ", "co")], "停水"),
    ("0101", "539901102", [("QSZ", "lead"), ("JTJ", "co")], "青石镇"),          # township
    ("0101", "539901102201", [("QSZ", "lead"), ("JTJ", "co")], "青石镇"),       # a village resolves to its township
    ("0101", "539901101001", [("YCZ", "lead"), ("JTJ", "co")], "云城镇"),       # a community too
    ("2302", "539901203205", [("CHX", "lead"), ("YJJ", "co"), ("ZRJ", "co")], "岔河乡"),
])
def test_service_suggest(db, category, territory, expected, in_reason):
    got = catalogue.suggest(db, category, territory, "")
    assert _plain(got) == expected
    assert in_reason in got[0].reason


def test_service_suggest_by_keywords_uses_the_catalogue(db):
    got = catalogue.suggest(db, None, "539901102201", "家里停电了，好几天没水了")
    assert got[0].unit_code == "ZLS" and got[0].role == "lead"
    assert "GDJ" in [s.unit_code for s in got]
    assert all(CJK.search(s.reason) for s in got)


def test_service_suggest_unknown_codes(db):
    with pytest.raises(NotFound):
        catalogue.suggest(db, "no-such", None, "")
    with pytest.raises(NotFound):
        catalogue.suggest(db, "0101", "no-such", "")
