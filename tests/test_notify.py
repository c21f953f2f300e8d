"""Notifications and the outbox: recipients, a real SMS gateway on 127.0.0.1, retries and giving up, the file
channel, per-user read state, the menu badge, and GET /api/v1/notifications."""
import json
import socket
import threading
import urllib.parse
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import at, page

from app.domain.roles import SYSTEM
from app.services import accounts, notify, outbox, tokens
from app.store import all_rows

T0 = at("2026-03-02 09:00")
TEXT = '工单 TST-1「水管 "爆裂"」\n请于 {phone} 前处理 & 回复 100%'


class Gateway:
    """A real HTTP server on 127.0.0.1 (port 0): answers with the given statuses in turn, then 200; records requests."""

    def __init__(self, statuses=(), ok_body=b'{"Code":"OK"}'):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                gateway.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                         "body": self.rfile.read(length).decode("utf-8")})
                status = gateway.statuses.pop(0) if gateway.statuses else 200
                body = ok_body if status == 200 else b'{"Code":"isv.BUSINESS_LIMIT_CONTROL"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def gateway():
    made = []

    def start(statuses=(), **kw):
        g = Gateway(statuses, **kw)
        made.append(g)
        return g

    yield start
    for g in made:
        g.close()


def json_gateway(cfg, g, **extra):
    n = cfg.notify
    n.sms_url = g.base + "/sms/send?appkey=k1"
    n.sms_method = "POST"
    n.sms_headers = {"Content-Type": "application/json; charset=utf-8", "X-Token": "secret"}
    n.sms_body = '{"mobile": "{phone}", "content": "{text}", "sign": "云岭12345"}'
    n.sms_ok = '"Code":"OK"'
    n.max_attempts = extra.get("max_attempts", 5)
    n.retry_seconds = 60


def qsz_handler_only(db):
    """Make 青石镇's recipients exactly one mobile: its handler's."""
    with db.conn:
        db.conn.execute("UPDATE users SET phone = '' WHERE role = 'handler' AND unit_code != 'QSZ'")
        db.conn.execute("UPDATE users SET phone = '13800000001' WHERE username = 'qingshi'")


def sms_rows(db):
    return all_rows(db, "SELECT * FROM outbox WHERE channel = 'sms' ORDER BY id")


# ---- notify() and recipients --------------------------------------------------------------------


@pytest.mark.parametrize("targets", [{}, {"unit_code": "QSZ", "role": "center"}, {"unit_code": "QSZ", "user_id": 1}])
def test_notify_needs_exactly_one_target(db, targets):
    with pytest.raises(ValueError):
        notify.notify(db, kind="test", ticket_id=None, text="x", now=T0, **targets)


def test_recipients_are_the_mobiles_of_the_unit_and_its_active_handlers(db):
    qsz_handler_only(db)
    # the unit's own number is a landline (0879-…): SMS cannot reach it
    assert notify.recipients(db, unit_code="QSZ") == ["13800000001"]
    uid = accounts.create_user(db, SYSTEM, T0, username="qs2", password="abc12345", role="handler", unit_code="QSZ",
                               phone="+86 139-0000-0002")
    with db.conn:
        db.conn.execute("UPDATE units SET phone = '13800000001' WHERE code = 'QSZ'")  # same as the handler: once
    assert notify.recipients(db, unit_code="QSZ") == ["13800000001", "13900000002"]
    with db.conn:
        db.conn.execute("UPDATE users SET disabled = 1 WHERE id = ?", (uid,))
    assert notify.recipients(db, unit_code="QSZ") == ["13800000001"]
    assert notify.recipients(db, role="center") == []  # the demo centre account has no phone


def test_a_notification_queues_one_sms_per_mobile_and_one_file_line(db):
    qsz_handler_only(db)
    nid = notify.notify(db, kind="due_soon", ticket_id=None, unit_code="QSZ", text="提醒", now=T0, deadline=T0)
    rows = all_rows(db, "SELECT channel, recipient, status FROM outbox WHERE notification_id = ? ORDER BY id", (nid,))
    assert rows == [{"channel": "sms", "recipient": "13800000001", "status": "pending"},
                    {"channel": "file", "recipient": "", "status": "pending"}]


def test_without_a_gateway_nothing_fails_and_nothing_piles_up(db, cfg):
    qsz_handler_only(db)
    notify.notify(db, kind="due_soon", ticket_id=None, unit_code="QSZ", text="提醒", now=T0)
    done = outbox.deliver(db, cfg, T0)
    assert (done.sent, done.failed, done.retrying, done.skipped) == (0, 0, 0, 2)
    assert outbox.counts(db)["pending"] == 0 and outbox.counts(db)["failed"] == 0


# ---- the SMS gateway over HTTP ----------------------------------------------------------------------


def test_the_gateway_fails_first_then_accepts_and_the_sms_is_delivered_exactly_once(db, cfg, gateway):
    qsz_handler_only(db)
    g = gateway([500])
    json_gateway(cfg, g)
    notify.notify(db, kind="sign_soon", ticket_id=None, unit_code="QSZ", text=TEXT, now=T0)

    first = outbox.deliver(db, cfg, T0)
    assert (first.sent, first.retrying) == (0, 1) and len(g.requests) == 1
    row = sms_rows(db)[0]
    assert row["status"] == "pending" and row["attempts"] == 1 and "HTTP 500" in row["last_error"]
    assert row["next_attempt_at"] == (T0 + timedelta(seconds=60)).isoformat()

    outbox.deliver(db, cfg, T0 + timedelta(seconds=59))  # backing off: the gateway is not asked
    assert len(g.requests) == 1
    second = outbox.deliver(db, cfg, T0 + timedelta(seconds=60))
    assert second.sent == 1 and len(g.requests) == 2
    for later in (61, 600, 86400):
        outbox.deliver(db, cfg, T0 + timedelta(seconds=later))
    assert len(g.requests) == 2, "sent exactly once"
    row = sms_rows(db)[0]
    assert row["status"] == "sent" and row["attempts"] == 2 and row["sent_at"] == (T0 + timedelta(seconds=60)).isoformat()

    req = g.requests[1]
    assert req["method"] == "POST" and req["path"] == "/sms/send?appkey=k1"
    assert req["headers"]["X-Token"] == "secret"
    # the text's quotes, newline and the literal "{phone}" survive JSON escaping untouched
    assert json.loads(req["body"]) == {"mobile": "13800000001", "content": TEXT, "sign": "云岭12345"}


def test_after_max_attempts_it_gives_up_and_the_admin_sees_and_resends_it(db, cfg, gateway, client, auth, clock):
    qsz_handler_only(db)
    g = gateway([500, 503, 502])
    json_gateway(cfg, g, max_attempts=3)
    notify.notify(db, kind="due_overdue", ticket_id=None, unit_code="QSZ", text="已超期", now=T0)
    t = T0
    for wait in (0, 60, 120):  # retry_seconds, then doubled
        t += timedelta(seconds=wait)
        outbox.deliver(db, cfg, t)
    assert len(g.requests) == 3
    row = sms_rows(db)[0]
    assert row["status"] == "failed" and row["attempts"] == 3 and "HTTP 502" in row["last_error"]
    outbox.deliver(db, cfg, t + timedelta(days=1))
    assert len(g.requests) == 3, "a failed row is not retried on its own"

    clock.current = t + timedelta(days=1)
    auth.login("admin")
    html = page(client.get("/admin/outbox?status=failed"))
    cells = html.xpath(f"//tr[@id='outbox-{row['id']}']/td")
    assert "发送失败" in cells[4].text_content() and "HTTP 502" in cells[6].text_content()
    assert page(client.get("/admin/jobs")).xpath("//a[contains(., '发送失败 1')]")
    resp = client.post("/admin/outbox/retry", data={"id": row["id"]})
    assert resp.status_code == 302
    assert sms_rows(db)[0]["status"] == "pending"
    outbox.deliver(db, cfg, t + timedelta(days=1))
    assert sms_rows(db)[0]["status"] == "sent" and len(g.requests) == 4


def test_a_200_without_the_success_mark_is_a_failure(db, cfg, gateway):
    qsz_handler_only(db)
    g = gateway(ok_body=b'{"Code":"isv.MOBILE_NUMBER_ILLEGAL"}')
    json_gateway(cfg, g)
    notify.notify(db, kind="x", ticket_id=None, unit_code="QSZ", text="t", now=T0)
    assert outbox.deliver(db, cfg, T0).retrying == 1
    assert "未确认发送" in sms_rows(db)[0]["last_error"]


def test_an_unreachable_gateway_is_retried_not_a_crash(db, cfg):
    qsz_handler_only(db)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    cfg.notify.sms_url = f"http://127.0.0.1:{port}/sms"
    cfg.notify.sms_body = "mobile={phone}&content={text}"
    notify.notify(db, kind="x", ticket_id=None, unit_code="QSZ", text="t", now=T0)
    done = outbox.deliver(db, cfg, T0)
    assert done.retrying == 1 and "无法连接短信网关" in sms_rows(db)[0]["last_error"]


def test_get_and_form_templates_escape_their_values(cfg, gateway):
    n = cfg.notify
    n.sms_url, n.sms_method, n.sms_body, n.sms_headers = "http://gw/send?m={phone}&c={text}", "GET", "", {}
    req = outbox.build_request(n, "13800000001", "a b&c=d/{phone}")
    assert req.full_url == "http://gw/send?m=13800000001&c=a%20b%26c%3Dd%2F%7Bphone%7D" and req.data is None
    n.sms_url, n.sms_method, n.sms_body = "http://gw/send", "POST", "mobile={phone}&content={text}"
    req = outbox.build_request(n, "13800000001", "水 管&=+")
    assert req.get_header("Content-type").startswith("application/x-www-form-urlencoded")
    assert urllib.parse.parse_qs(req.data.decode()) == {"mobile": ["13800000001"], "content": ["水 管&=+"]}
    n.sms_body = '{"to": "{phone}", "msg": "{text}"}'  # no Content-Type: a JSON-looking body is sent as JSON
    req = outbox.build_request(n, "13800000001", 'say "hi"\\ \n')
    assert req.get_header("Content-type").startswith("application/json")
    assert json.loads(req.data) == {"to": "13800000001", "msg": 'say "hi"\\ \n'}


def test_a_get_gateway_over_http(db, cfg, gateway):
    qsz_handler_only(db)
    g = gateway()
    cfg.notify.sms_url = g.base + "/api?mobile={phone}&msg={text}"
    cfg.notify.sms_method = "GET"
    notify.notify(db, kind="x", ticket_id=None, unit_code="QSZ", text="签收 & 办理", now=T0)
    assert outbox.deliver(db, cfg, T0).sent == 1
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(g.requests[0]["path"]).query)
    assert query == {"mobile": ["13800000001"], "msg": ["签收 & 办理"]}


# ---- the file channel ------------------------------------------------------------------------------


def test_the_file_channel_appends_one_line_per_notification_once(db, cfg, tmp_path):
    qsz_handler_only(db)
    cfg.notify.file_path = "out/notices.tsv"
    notify.notify(db, kind="due_soon", ticket_id=None, unit_code="QSZ", text="第一行\n续", now=T0)
    notify.notify(db, kind="callback_due", ticket_id=None, role="center", text="第二条", now=T0, late=True)
    outbox.deliver(db, cfg, T0)
    outbox.deliver(db, cfg, T0 + timedelta(minutes=5))
    lines = (tmp_path / "out" / "notices.tsv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    first, second = (line.split("\t") for line in lines)
    assert first[1:5] == ["due_soon", "", "QSZ", "13800000001"] and first[-1] == "第一行 续"
    assert second[1] == "callback_due" and second[3] == "role:center" and second[5] == "late"


# ---- reading: per user, the badge, the list, the API --------------------------------------------------


def _user(db, username):
    return dict(all_rows(db, "SELECT id, role, unit_code, created_at FROM users WHERE username = ?", (username,))[0])


def test_read_state_is_per_user(db):
    accounts.create_user(db, SYSTEM, T0, username="center2", password="abc12345", role="center")
    one_, two = _user(db, "center"), _user(db, "center2")
    before = notify.unread_count(db, one_), notify.unread_count(db, two)
    nid = notify.notify(db, kind="x", ticket_id=None, role="center", text="给中心", now=T0 + timedelta(minutes=1))
    assert (notify.unread_count(db, one_), notify.unread_count(db, two)) == (before[0] + 1, before[1] + 1)
    assert notify.mark_read(db, one_, T0, nid) == 1
    assert notify.mark_read(db, one_, T0, nid) == 0
    assert (notify.unread_count(db, one_), notify.unread_count(db, two)) == (before[0], before[1] + 1)
    # a handler never sees the centre's notifications
    assert nid not in [r["id"] for r in notify.for_user(db, _user(db, "qingshi"), per_page=1000)[0]]


def test_the_badge_the_list_and_marking_read(db, client, auth, fast_hashes):
    qsz = _user(db, "qingshi")
    notify.mark_read(db, qsz, T0)
    for i in range(3):
        notify.notify(db, kind="due_soon", ticket_id=None, unit_code="QSZ", text=f"提醒{i}", now=T0)
    notify.notify(db, kind="due_soon", ticket_id=None, unit_code="ZLS", text="别的单位", now=T0)
    auth.login("qingshi")
    html = page(client.get("/notifications/"))
    assert html.xpath("string(//summary/b[@class='badge'])") == "3"
    assert html.xpath("string((//a[contains(@class,'nav-notifications')])[1]/b)") == "3"
    rows = html.xpath("//tr[contains(@class,'notification')]")
    texts = [r.xpath("string(td[@class='text'])") for r in rows]
    assert "别的单位" not in texts and {"提醒0", "提醒1", "提醒2"} <= set(texts)
    first = html.xpath("//tr[contains(@class,'unread')]")[0].get("id").split("-")[1]
    resp = client.post(f"/notifications/{first}/read", data={"next": "/notifications/?unread=1"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/notifications/?unread=1")
    assert page(client.get("/notifications/")).xpath("string(//summary/b[@class='badge'])") == "2"
    assert client.post(f"/notifications/{first}/read", data={"next": "//evil.example/"}).headers["Location"] == \
        "/notifications/"
    client.post("/notifications/read-all")
    html = page(client.get("/notifications/?unread=1"))
    assert not html.xpath("//summary/b[@class='badge']") and html.xpath("//td[contains(@class,'empty')]")


def test_api_notifications_are_the_tokens_own(db, client):
    _, handler = tokens.create(db, SYSTEM, "青石镇 App", "handler", "QSZ", T0)
    _, center = tokens.create(db, SYSTEM, "中心大屏", "center", None, T0)
    ids = {
        "qsz": notify.notify(db, kind="due_soon", ticket_id=None, unit_code="QSZ", text="青石镇", now=T0,
                             deadline=at("2026-03-06 23:59:59")),
        "zls": notify.notify(db, kind="due_soon", ticket_id=None, unit_code="ZLS", text="自来水", now=T0),
        "center": notify.notify(db, kind="callback_due", ticket_id=None, role="center", text="中心", now=T0, late=True),
    }
    got = client.get("/api/v1/notifications?limit=200", headers={"Authorization": f"Bearer {handler}"}).get_json()
    mine = [i for i in got["items"] if i["id"] in ids.values()]
    assert mine == [{"id": ids["qsz"], "kind": "due_soon", "kind_label": "办结即将到期", "ticket": None, "text": "青石镇",
                     "deadline": "2026-03-06T23:59:59+08:00", "created_at": T0.isoformat(), "late": False}]
    got = client.get(f"/api/v1/notifications?since_id={ids['zls']}", headers={"Authorization": f"Bearer {center}"})
    assert [(i["id"], i["late"]) for i in got.get_json()["items"]] == [(ids["center"], True)]
    assert client.get("/api/v1/notifications").status_code == 401
    bad = client.get("/api/v1/notifications?limit=0", headers={"Authorization": f"Bearer {center}"})
    assert bad.status_code == 422 and "limit" in bad.get_json()["error"]["errors"]


def test_notifications_are_in_the_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    op = doc["paths"]["/notifications"]["get"]
    item = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["items"]["items"]
    assert {"kind", "ticket", "deadline", "created_at", "late"} <= set(item["properties"])
    assert "401" in op["responses"]



def test_the_list_pages_through_many_notifications(db, client, auth, fast_hashes):
    for i in range(notify.PER_PAGE + 5):
        notify.notify(db, kind="due_soon", ticket_id=None, unit_code="GDJ", text=f"第{i}条", now=T0)
    auth.login("gongdian")
    first = page(client.get("/notifications/"))
    assert len(first.xpath("//tr[contains(@class,'notification')]")) == notify.PER_PAGE
    nxt = first.xpath("//nav[@class='pager']/a[. = '下一页']/@href")[0]
    second = page(client.get("/notifications/" + nxt))
    assert "第0条" in second.xpath("string(//table)")
