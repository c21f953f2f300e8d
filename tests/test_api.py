"""The integration API /api/v1: the whole loop, who sees what, every error status, idempotency, the OpenAPI document."""
import io
import json
import re
import shutil

import pytest
from conftest import write_config

from app import config as config_mod, create_app
from app.api import openapi
from app.domain.lifecycle import ACTIONS, RECORD_ONLY
from app.domain.roles import SYSTEM
from app.services import tokens
from app.store import connect, one, scalar

INTAKE = {
    "channel": "wechat", "kind": "complaint", "urgency": "normal", "caller_name": "王大妈",
    "caller_phone": "139 1234 5678", "territory": "539901102201", "category": "0101",
    "title": "岩脚村村道坑洼", "content": "岩脚村到青石社区的村道路面坑洼，下雨积水，车辆难行。",
}
TOKENS = {  # who: (role, unit)
    "operator": ("operator", None), "center": ("center", None), "leader": ("leader", None),
    "qsz": ("handler", "QSZ"), "zls": ("handler", "ZLS"),
}
# a plausible body for every action, so that a refusal can only come from who is asking
BODIES = {
    "answer_directly": {"answer": "已解答"}, "dispatch": {"lead_unit": "ZLS"}, "sign": {},
    "contact": {"method": "phone", "note": "已电话联系"}, "note": {"note": "正在处理"}, "co_reply": {"part": "协办意见"},
    "reply": {"result": "已修复"}, "request_extension": {"workdays": 2, "reason": "需要采购材料"},
    "decide_extension": {"approve": True}, "request_return": {"reason_code": "not_our_duty", "reason": "不归我们管"},
    "decide_return": {"approve": True}, "send_back": {"reason": "答复不完整"}, "escalate": {"reason": "无法确定"},
    "reject": {"reason_code": "no_demand"}, "transfer": {"target": "petition", "note": "转信访"},
    "callback": {"resolved": True, "satisfaction": "satisfied", "outcome": "close"}, "update": {"title": "改过的标题"},
}
PDF = b"%PDF-1.4\n% test\n"


class Api:
    """A test client that speaks JSON with one bearer token per demo role."""

    def __init__(self, client, plain: dict):
        self.client = client
        self.plain = plain

    def headers(self, who, key=None):
        out = {"Authorization": f"Bearer {self.plain[who]}"} if who else {}
        if key:
            out["Idempotency-Key"] = key
        return out

    def get(self, who, path, **params):
        return self.client.get(f"/api/v1{path}", headers=self.headers(who), query_string=params)

    def post(self, who, path, body=None, key=None, **kw):
        if "data" not in kw:
            kw["json"] = {} if body is None else body
        resp = self.client.post(f"/api/v1{path}", headers=self.headers(who, key), **kw)
        # werkzeug's test client spools a large upload to a temporary file and leaves it open when the
        # app refuses the body unread (413); close it here so filterwarnings=error does not trip on it
        resp.request.input_stream.close()
        return resp

    def act(self, who, number, action, body=None, status=200, **kw):
        resp = self.post(who, f"/tickets/{number}/{action}", body, **kw)
        assert resp.status_code == status, resp.get_json()
        return resp.get_json()

    def intake(self, who="operator", status=201, **fields):
        resp = self.post(who, "/tickets", {**INTAKE, **fields})
        assert resp.status_code == status, resp.get_json()
        return resp.get_json()

    def dispatched(self, lead="QSZ", co=("JTJ",)):
        """A new ticket dispatched by the centre; returns its number."""
        number = self.intake()["number"]
        self.act("center", number, "dispatch", {"lead_unit": lead, "co_units": list(co), "note": "请尽快处理"})
        return number


def _tokens(db, now) -> dict:
    return {who: tokens.create(db, SYSTEM, f"{who}-令牌", role, unit, now)[1] for who, (role, unit) in TOKENS.items()}


@pytest.fixture
def api(client, db, clock):
    return Api(client, _tokens(db, clock.current))


def _count(db, table="tickets"):
    return scalar(db, f"SELECT COUNT(*) FROM {table}")


# ---- the whole loop --------------------------------------------------------------------------


def test_the_whole_loop_through_the_api(api, clock, db):
    created = api.post("operator", "/tickets", INTAKE)
    assert created.status_code == 201
    t = created.get_json()
    number = t["number"]
    assert re.fullmatch(r"TST-20260302-0001", number)
    assert created.headers["Location"].endswith(f"/api/v1/tickets/{number}")
    assert (t["state"], t["state_label"], t["caller_phone"], t["lead_unit"]) == ("received", "待派单", "139 1234 5678", None)
    assert t["territory"] == {"code": "539901102201", "name": "岩脚村", "township_code": "539901102", "township": "青石镇"}
    assert t["category"]["code"] == "0101" and t["flags"] == [] and t["key_supervision"] is None

    t = api.act("center", number, "dispatch", {"lead_unit": "QSZ", "co_units": ["JTJ"], "note": "请尽快处理"})
    assert t["state"] == "dispatched"
    assert t["sign_deadline"] == "2026-03-03T09:00:00+08:00"
    assert t["due_at"] == "2026-03-09T23:59:59+08:00"  # 5 working days, the dispatch day not counted
    assert t["lead_unit"]["code"] == "QSZ" and t["lead_unit"]["name"] == "青石镇人民政府"
    assert [u["code"] for u in t["co_units"]] == ["JTJ"]

    clock.advance(hours=1)
    t = api.act("qsz", number, "sign")
    assert t["state"] == "in_progress" and t["lead_unit"]["signed_at"] == "2026-03-02T10:00:00+08:00"
    t = api.act("qsz", number, "contact", {"method": "phone", "note": "约好明天到现场"})
    assert t["first_contact_at"] == "2026-03-02T10:00:00+08:00"

    clock.advance(days=1)
    t = api.act("qsz", number, "request_extension", {"workdays": 3, "reason": "需等雨停后铺设路面"})
    [pending] = t["pending_requests"]
    assert (pending["kind"], pending["workdays"], pending["new_due_at"]) == ("extension", 3, "2026-03-12T23:59:59+08:00")
    assert t["due_at"] == "2026-03-09T23:59:59+08:00"
    t = api.act("center", number, "decide_extension", {"approve": True})
    assert t["pending_requests"] == [] and t["due_at"] == "2026-03-12T23:59:59+08:00" and t["extension_count"] == 1

    clock.advance(days=2)
    t = api.act("qsz", number, "reply", {"result": "已组织人员填补坑洼"})
    assert t["state"] == "replied" and t["reply"] == "已组织人员填补坑洼"
    t = api.act("operator", number, "callback", {"resolved": False, "satisfaction": "unsatisfied", "outcome": "reopen"})
    assert t["state"] == "in_progress" and t["reopen_count"] == 1 and t["resolved"] is False
    assert t["due_at"] == "2026-03-12T23:59:59+08:00"  # a fresh 5 working days from the reopen on Thu 03-05

    t = api.act("qsz", number, "reply", {"result": "重新铺设了水泥路面"})
    assert t["state"] == "replied"
    t = api.act("operator", number, "callback", {"resolved": True, "satisfaction": "satisfied", "outcome": "close"})
    assert (t["state"], t["satisfaction"], t["resolved"]) == ("closed", "satisfied", True)
    assert t["closed_at"] == "2026-03-05T10:00:00+08:00"

    final = api.get("qsz", f"/tickets/{number}").get_json()
    steps = [(e["action"], e["from_state"], e["to_state"], e["role"], e["actor_name"]) for e in final["events"]]
    assert steps == [
        ("intake", None, "received", "operator", "operator-令牌"),
        ("dispatch", "received", "dispatched", "center", "center-令牌"),
        ("sign", "dispatched", "in_progress", "handler", "qsz-令牌"),
        ("contact", "in_progress", "in_progress", "handler", "qsz-令牌"),
        ("request_extension", "in_progress", "in_progress", "handler", "qsz-令牌"),
        ("decide_extension", "in_progress", "in_progress", "center", "center-令牌"),
        ("reply", "in_progress", "replied", "handler", "qsz-令牌"),
        ("callback", "replied", "in_progress", "operator", "operator-令牌"),
        ("reply", "in_progress", "replied", "handler", "qsz-令牌"),
        ("callback", "replied", "closed", "operator", "operator-令牌"),
    ]
    assert final["events"][2]["unit_code"] == "QSZ" and final["events"][1]["note"] == "请尽快处理"
    assert final["events"][7]["details"]["outcome"] == "reopen"
    assert all(e["at"].endswith("+08:00") for e in final["events"])
    stored = one(db, "SELECT received_at, sign_deadline, due_at, closed_at FROM tickets WHERE number = ?", (number,))
    assert {k: final[k] for k in stored} == stored  # timestamps exactly as stored


def test_intake_can_answer_directly_or_dispatch_in_one_step(api):
    t = api.intake(then="answer_directly", answer="供水报装请带身份证到营业厅办理。", kind="consult")
    assert t["state"] == "answered_directly" and t["answer"].startswith("供水报装")
    assert [e["action"] for e in t["events"]] == ["intake", "answer_directly"]
    t = api.intake("center", then="dispatch", lead_unit="QSZ", co_units="JTJ", note="派青石镇")
    assert t["state"] == "dispatched" and t["co_units"][0]["code"] == "JTJ"
    assert t["events"][1]["note"] == "派青石镇"


def test_received_at_is_kept_for_tickets_from_elsewhere(api):
    t = api.intake(channel="upstream", received_at="2026-03-01T16:30:00+08:00")
    assert t["received_at"] == "2026-03-01T16:30:00+08:00" and t["created_at"] == "2026-03-02T09:00:00+08:00"


def test_reply_accepts_multipart_with_files(api):
    number = api.dispatched()
    api.act("qsz", number, "sign")
    resp = api.post("qsz", f"/tickets/{number}/reply", data={"result": "已修复，见照片", "files": [(io.BytesIO(PDF), "验收单.pdf")]},
                    content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    t = resp.get_json()
    assert t["state"] == "replied" and t["reply"] == "已修复，见照片"
    [att] = t["attachments"]
    assert (att["mime"], att["size"], att["label"]) == ("application/pdf", len(PDF), "验收单.pdf")
    assert att["event_id"] == t["events"][-1]["id"] and t["events"][-1]["action"] == "reply"


def test_directory_lists(api):
    units = {u["code"]: u for u in api.get("zls", "/units").get_json()["items"]}
    assert units["QSZ"] == {"code": "QSZ", "name": "青石镇人民政府", "kind": "township", "kind_label": "乡镇"}
    terr = {t["code"]: t for t in api.get("operator", "/territories").get_json()["items"]}
    assert terr["539901102201"] == {"code": "539901102201", "name": "岩脚村", "level": "village", "parent_code": "539901102"}
    assert terr["539901102"]["parent_code"] is None
    cats = {c["code"]: c for c in api.get("leader", "/categories").get_json()["items"]}
    assert cats["0101"]["name"] == "村组道路损坏" and cats["0101"]["major_name"] == "道路交通"
    assert "01" not in cats  # majors are not pickable


# ---- search ----------------------------------------------------------------------------------


def test_search_filters_and_unit_scope(api, clock):
    qsz = api.dispatched("QSZ", ())
    zls = api.dispatched("ZLS", ())
    api.intake(caller_phone="13700000000", title="咨询路灯")
    assert api.get("operator", "/tickets").get_json()["total"] == 3
    page = api.get("operator", "/tickets", phone="13912345678").get_json()
    assert [r["number"] for r in page["items"]] == [zls, qsz] and page["pages"] == 1 and page["page"] == 1
    assert page["items"][1]["lead_unit"] == {"code": "QSZ", "name": "青石镇人民政府"}
    assert [r["number"] for r in api.get("operator", "/tickets", unit="ZLS").get_json()["items"]] == [zls]
    assert api.get("operator", "/tickets", state="received").get_json()["total"] == 1
    assert api.get("operator", "/tickets", q="路灯").get_json()["total"] == 1
    assert [r["number"] for r in api.get("qsz", "/tickets").get_json()["items"]] == [qsz]
    assert api.get("zls", "/tickets", unit="QSZ").get_json()["items"] == []  # a handler sees its own unit's only
    assert api.get("operator", "/tickets", overdue="1").get_json()["total"] == 0
    clock.set("2026-03-10 09:00")
    assert api.get("operator", "/tickets", overdue="1").get_json()["total"] == 2
    assert api.get("operator", "/tickets", page="2").get_json()["items"] == []


@pytest.mark.parametrize("params,field", [({"page": "0"}, "page"), ({"page": "x"}, "page"), ({"state": "bogus"}, "state")])
def test_search_refuses_bad_parameters_with_422(api, params, field):
    resp = api.get("operator", "/tickets", **params)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["errors"]


# ---- a handler of another unit sees nothing ---------------------------------------------------


def _without_number(body: dict, number: str) -> dict:
    return {"error": {k: (v.replace(number, "N") if isinstance(v, str) else v) for k, v in body["error"].items()}}


@pytest.fixture
def qsz_ticket(api):
    number = api.dispatched("QSZ", ())
    api.act("qsz", number, "sign")
    return number


def test_another_units_ticket_is_a_404_like_a_missing_one(api, qsz_ticket):
    missing = "TST-20260302-9999"
    mine = api.get("zls", f"/tickets/{qsz_ticket}")
    absent = api.get("zls", f"/tickets/{missing}")
    assert mine.status_code == absent.status_code == 404
    assert _without_number(mine.get_json(), qsz_ticket) == _without_number(absent.get_json(), missing)
    assert mine.get_json()["error"]["code"] == "not_found"
    assert "王大妈" not in mine.get_data(as_text=True)
    assert api.get("qsz", f"/tickets/{qsz_ticket}").status_code == 200


STEPS = [a for a in ACTIONS if a not in RECORD_ONLY]  # the actions a client can take; intake is POST /tickets


@pytest.mark.parametrize("action", STEPS)
def test_every_action_on_another_units_ticket_is_a_404(api, db, qsz_ticket, action):
    before = one(db, "SELECT version, state FROM tickets WHERE number = ?", (qsz_ticket,))
    events = _count(db, "events")
    missing = "TST-20260302-9999"
    mine = api.post("zls", f"/tickets/{qsz_ticket}/{action}", BODIES[action])
    absent = api.post("zls", f"/tickets/{missing}/{action}", BODIES[action])
    assert mine.status_code == absent.status_code == 404
    assert _without_number(mine.get_json(), qsz_ticket) == _without_number(absent.get_json(), missing)
    assert "王大妈" not in mine.get_data(as_text=True)
    assert one(db, "SELECT version, state FROM tickets WHERE number = ?", (qsz_ticket,)) == before
    assert _count(db, "events") == events


def test_multipart_reply_to_another_units_ticket_is_a_404(api, db, qsz_ticket):
    resp = api.post("zls", f"/tickets/{qsz_ticket}/reply", data={"result": "x", "files": [(io.BytesIO(PDF), "a.pdf")]},
                    content_type="multipart/form-data")
    assert resp.status_code == 404 and _count(db, "attachments") == 0


def test_an_idempotency_key_never_crosses_tokens(api, qsz_ticket):
    # keys are scoped per token and URL: another client's key is never replayed as this client's answer
    zls_ticket = api.dispatched("ZLS", ())
    assert api.post("qsz", f"/tickets/{qsz_ticket}/note", {"note": "青石镇记录"}, key="k-1").status_code == 200
    resp = api.post("zls", f"/tickets/{qsz_ticket}/note", {"note": "越权"}, key="k-1")
    assert resp.status_code == 404 and "王大妈" not in resp.get_data(as_text=True)
    resp = api.post("zls", f"/tickets/{zls_ticket}/note", {"note": "自来水记录"}, key="k-1")
    assert resp.status_code == 200 and "Idempotent-Replayed" not in resp.headers
    assert resp.get_json()["number"] == zls_ticket and resp.get_json()["events"][-1]["note"] == "自来水记录"


# ---- 401 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", "token-without-scheme"])
@pytest.mark.parametrize("method,path", [("get", "/tickets"), ("get", "/units"), ("post", "/tickets"),
                                         ("get", "/tickets/TST-20260302-0001")])
def test_missing_or_bad_token_is_a_401(client, api, header, method, path):
    headers = {"Authorization": header} if header else {}
    resp = getattr(client, method)(f"/api/v1{path}", headers=headers, json=INTAKE if method == "post" else None)
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_is_a_401_at_once(api, db, clock):
    assert api.get("operator", "/units").status_code == 200
    token_id = scalar(db, "SELECT id FROM api_tokens WHERE name = 'operator-令牌'")
    tokens.revoke(db, SYSTEM, token_id, clock.current)
    resp = api.post("operator", "/tickets", INTAKE)
    assert resp.status_code == 401 and _count(db) == 0


def test_the_openapi_document_needs_no_token(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200 and resp.get_json()["openapi"].startswith("3.")


def test_a_session_login_is_no_api_credential(client, auth):
    auth.login("center")
    assert client.get("/api/v1/tickets").status_code == 401


# ---- 403 / 409 -------------------------------------------------------------------------------


def test_a_leader_token_reads_but_never_writes(api, db, qsz_ticket):
    assert api.get("leader", f"/tickets/{qsz_ticket}").status_code == 200
    before = one(db, "SELECT version, state FROM tickets WHERE number = ?", (qsz_ticket,))
    resp = api.post("leader", "/tickets", INTAKE)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    for action in ("note", "reply", "dispatch", "send_back", "update"):
        resp = api.post("leader", f"/tickets/{qsz_ticket}/{action}", BODIES[action])
        assert resp.status_code == 403, action
        assert resp.get_json()["error"]["message"]
    assert one(db, "SELECT version, state FROM tickets WHERE number = ?", (qsz_ticket,)) == before
    assert _count(db) == 1


def test_refused_transitions_are_409(api, db):
    number = api.intake(then="answer_directly", answer="已解答")["number"]
    resp = api.post("center", f"/tickets/{number}/dispatch", {"lead_unit": "QSZ"})
    assert resp.status_code == 409
    assert resp.get_json()["error"] == {"code": "invalid_transition", "message": "工单当前状态为“直接答复”，不能进行“派单”。"}
    number = api.dispatched("QSZ", ())
    api.act("qsz", number, "sign")
    assert api.post("qsz", f"/tickets/{number}/sign").status_code == 409  # signed already


def test_signing_a_closed_ticket_is_409(api):
    number = api.dispatched("QSZ", ())
    api.act("qsz", number, "sign")
    api.act("qsz", number, "reply", {"result": "已修复"})
    api.act("operator", number, "callback", {"resolved": True, "satisfaction": "satisfied", "outcome": "close"})
    resp = api.post("qsz", f"/tickets/{number}/sign")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "invalid_transition"


def test_a_stale_version_is_a_409_conflict_and_nothing_is_applied(api, db, qsz_ticket):
    version = api.get("qsz", f"/tickets/{qsz_ticket}").get_json()["version"]
    api.act("qsz", qsz_ticket, "note", {"note": "甲先写", "version": version})
    resp = api.post("qsz", f"/tickets/{qsz_ticket}/note", {"note": "乙后写", "version": version})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "conflict"
    notes = [e["note"] for e in api.get("qsz", f"/tickets/{qsz_ticket}").get_json()["events"]]
    assert "甲先写" in notes and "乙后写" not in notes


# ---- 400 / 422 -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_a_400(api, db, raw):
    resp = api.post("operator", "/tickets", data=raw, content_type="application/json")
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "bad_json"
    assert _count(db) == 0


def test_intake_field_errors_are_422_and_nothing_is_kept(api, db):
    resp = api.post("operator", "/tickets", {"channel": "fax", "caller_phone": "123", "territory": "000"})
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "invalid"
    assert {"channel", "kind", "urgency", "caller_phone", "caller_name", "category", "title", "content"} <= set(err["errors"])
    assert _count(db) == 0


@pytest.mark.parametrize("field,value", [("caller_phone", ["139"]), ("title", True), ("territory", {"code": "x"})])
def test_values_of_the_wrong_type_are_422_not_a_crash(api, db, field, value):
    resp = api.post("operator", "/tickets", {**INTAKE, field: value})
    assert resp.status_code == 422 and field in resp.get_json()["error"]["errors"]
    assert _count(db) == 0


def test_numbers_are_read_as_text(api):
    assert api.intake(caller_phone=13912345678)["caller_phone"] == "13912345678"


def test_a_failed_dispatch_at_intake_keeps_no_ticket_and_no_number(api, db):
    resp = api.post("center", "/tickets", {**INTAKE, "then": "dispatch", "lead_unit": "NOPE"})
    assert resp.status_code == 422 and "lead_unit" in resp.get_json()["error"]["errors"]
    resp = api.post("operator", "/tickets", {**INTAKE, "then": "dispatch", "lead_unit": "QSZ"})
    assert resp.status_code == 403  # an operator may not dispatch: the ticket is not kept either
    resp = api.post("operator", "/tickets", {**INTAKE, "then": "archive"})
    assert resp.status_code == 422 and "then" in resp.get_json()["error"]["errors"]
    assert _count(db) == 0 and _count(db, "events") == 0
    assert api.intake()["number"] == "TST-20260302-0001"  # the day's sequence has no gap


def test_an_action_with_bad_fields_is_422_and_changes_nothing(api, db, qsz_ticket):
    before = one(db, "SELECT version, due_at FROM tickets WHERE number = ?", (qsz_ticket,))
    events = _count(db, "events")
    resp = api.post("qsz", f"/tickets/{qsz_ticket}/request_extension", {"workdays": 20, "reason": "工程量大"})
    assert resp.status_code == 422 and "workdays" in resp.get_json()["error"]["errors"]
    resp = api.post("qsz", f"/tickets/{qsz_ticket}/contact", {"method": "pigeon"})
    assert resp.status_code == 422 and "method" in resp.get_json()["error"]["errors"]
    resp = api.post("qsz", f"/tickets/{qsz_ticket}/note", {"note": "x", "version": "abc"})
    assert resp.status_code == 422 and "version" in resp.get_json()["error"]["errors"]
    assert one(db, "SELECT version, due_at FROM tickets WHERE number = ?", (qsz_ticket,)) == before
    assert _count(db, "events") == events and _count(db, "requests") == 0


def test_unknown_action_is_a_json_404(api, qsz_ticket):
    resp = api.post("center", f"/tickets/{qsz_ticket}/explode")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


# ---- 413 -------------------------------------------------------------------------------------


@pytest.fixture
def small(tmp_path, demo_template, clock):
    """An app whose attachment limit is 1 MB, with the demo county and tokens."""
    d = tmp_path / "small"
    d.mkdir()
    cfg = config_mod.load(str(write_config(d, "[limits]\nattachment_max_mb = 1\n")))
    cfg.data_path.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_template, cfg.db_path)
    db = connect(cfg.db_path)
    app = create_app(cfg, {"TESTING": True})
    yield Api(app.test_client(), _tokens(db, clock.current)), db, cfg
    db.conn.close()


def test_api_posts_need_no_csrf_token(small):
    api, db, cfg = small  # this app keeps CSRF protection on, as in production
    assert api.client.application.config.get("WTF_CSRF_ENABLED", True)
    assert api.post("operator", "/tickets", INTAKE).status_code == 201
    assert api.client.post("/admin/tokens/", data={"name": "x", "role": "center"}).status_code == 400  # the rest keeps it


def test_an_oversize_upload_is_a_413_and_the_reply_is_not_applied(small):
    api, db, cfg = small
    number = api.dispatched("QSZ", ())
    api.act("qsz", number, "sign")
    big = PDF + b"0" * (1024 * 1024)
    resp = api.post("qsz", f"/tickets/{number}/reply", data={"result": "已修复", "files": [(io.BytesIO(big), "大.pdf")]},
                    content_type="multipart/form-data")
    assert resp.status_code == 413
    err = resp.get_json()["error"]
    assert err["code"] == "too_large" and "1 MB" in err["message"]
    assert scalar(db, "SELECT state FROM tickets WHERE number = ?", (number,)) == "in_progress"
    assert _count(db, "attachments") == 0
    assert not (cfg.data_path / "attachments").exists()


def test_a_request_over_the_body_limit_is_a_json_413(small):
    api, db, cfg = small
    number = api.dispatched("QSZ", ())
    huge = PDF + b"0" * (8 * 1024 * 1024)  # over MAX_CONTENT_LENGTH (5 files of the limit + 2 MB)
    resp = api.post("qsz", f"/tickets/{number}/reply", data={"result": "x", "files": [(io.BytesIO(huge), "a.pdf")]},
                    content_type="multipart/form-data")
    assert resp.status_code == 413 and resp.get_json()["error"]["message"]
    assert _count(db, "attachments") == 0


# ---- idempotency -----------------------------------------------------------------------------


def test_the_same_intake_twice_with_one_key_creates_one_ticket(api, db):
    first = api.post("operator", "/tickets", INTAKE, key="wx-20260302-001")
    again = api.post("operator", "/tickets", INTAKE, key="wx-20260302-001")
    assert first.status_code == again.status_code == 201
    assert first.get_json()["number"] == again.get_json()["number"]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert _count(db) == 1
    assert api.post("operator", "/tickets", INTAKE, key="wx-20260302-002").get_json()["number"] != first.get_json()["number"]
    assert api.post("center", "/tickets", INTAKE, key="wx-20260302-001").status_code == 201  # another client's key
    assert _count(db) == 3


def test_an_action_retried_with_its_key_is_applied_once(api, db):
    number = api.dispatched("QSZ", ())
    assert api.post("qsz", f"/tickets/{number}/sign", key="sign-1").status_code == 200
    again = api.post("qsz", f"/tickets/{number}/sign", key="sign-1")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert scalar(db, "SELECT COUNT(*) FROM events WHERE action = 'sign'") == 1


# ---- the OpenAPI document --------------------------------------------------------------------


def _routes(app) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            out.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    return out


def test_the_openapi_document_matches_the_routes(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["servers"] == [{"url": "/api/v1"}]
    documented = {path: set(ops) for path, ops in doc["paths"].items()}
    assert documented == _routes(app)
    # tickets, one ticket, 3 lists, notifications, openapi.json + actions; key-supervision list, link, unlink
    assert len(documented) == 10 + len(STEPS)


def test_the_openapi_document_describes_auth_errors_and_bodies(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "Authorization: Bearer <令牌>"}
    assert set(doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]) >= {"code", "message"}
    refs = re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', json.dumps(doc))
    assert all(name in doc["components"][kind] for kind, name in refs)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path != "/openapi.json":
                assert "401" in op["responses"], (path, method)
            if method == "post" and path.startswith("/tickets/{number}/"):
                assert {"404", "409", "422"} <= set(op["responses"]), path
    reply = doc["paths"]["/tickets/{number}/reply"]["post"]["requestBody"]["content"]
    assert "files" in reply["multipart/form-data"]["schema"]["properties"] and "413" in \
        doc["paths"]["/tickets/{number}/reply"]["post"]["responses"]
    callback = doc["paths"]["/tickets/{number}/callback"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert callback["properties"]["satisfaction"]["enum"] == ["satisfied", "basically_satisfied", "unsatisfied"]
    assert set(openapi.ACTION_BODIES) == set(STEPS)
