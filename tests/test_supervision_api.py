"""Key supervision through /api/v1: flags and key_supervision in the ticket JSON, the item list, link and unlink."""
import pytest

from app.domain.roles import SYSTEM
from app.services import tokens

INTAKE = {"channel": "wechat", "kind": "complaint", "urgency": "normal", "caller_name": "村民",
          "territory": "539901102201", "category": "0202", "title": "水管爆裂"}
PIPE = ["村委会门口的自来水管爆了，水一直往外冒，路都淹了。", "村委会门口水管爆裂了，水不停地往外冒，路面全是水。",
        "我们村委会旁边的自来水管子爆开了，一直在冒水，整条路成了河。", "村委会门口那里水管爆了，路都淹了。",
        "村委会门口的水管破了在冒水，赶紧来处理吧。"]
ROLES = {"operator": ("operator", None), "center": ("center", None), "leader": ("leader", None), "qsz": ("handler", "QSZ")}


@pytest.fixture
def api(client, db, clock):
    plain = {who: tokens.create(db, SYSTEM, f"{who}-令牌", role, unit, clock.current)[1] for who, (role, unit) in ROLES.items()}

    class Api:
        def get(self, who, path, **q):
            return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {plain[who]}"}, query_string=q)

        def post(self, who, path, body):
            return client.post(f"/api/v1{path}", headers={"Authorization": f"Bearer {plain[who]}"}, json=body)

    return Api()


def villagers(api, n):
    out = []
    for i in range(n):
        resp = api.post("operator", "/tickets", {**INTAKE, "caller_phone": f"1398888000{i}", "content": PIPE[i]})
        assert resp.status_code == 201, resp.get_json()
        out.append(resp.get_json())
    return out


def test_ticket_json_carries_flags_and_the_item(api):
    first = villagers(api, 1)[0]
    assert first["flags"] == [] and first["key_supervision"] is None
    last = villagers(api, 5)[-1]  # the four calls above plus this one: five villagers
    assert last["flags"] == ["mass_event"] and isinstance(last["key_supervision"], int)
    again = api.get("center", f"/tickets/{first['number']}").get_json()
    assert again["key_supervision"] == last["key_supervision"]
    assert "key_supervision" in [e["action"] for e in again["events"]]


def test_the_item_list_for_centre_and_leader_only(api):
    villagers(api, 5)
    for who in ("center", "leader"):
        body = api.get(who, "/key-supervision").get_json()
        assert body["total"] == 1 and body["items"][0]["rule"] == "mass_event"
        assert body["items"][0]["caller_count"] == 5 and body["items"][0]["rule_label"] == "一事多人"
    assert api.get("center", "/key-supervision", rule="repeat_caller").get_json()["total"] == 0
    for who in ("operator", "qsz"):
        resp = api.get(who, "/key-supervision")
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    assert api.get("center", "/key-supervision", rule="nonsense").status_code == 422


def test_link_and_unlink(api):
    a, b, c, d = (t["number"] for t in villagers(api, 4))
    odd = api.post("operator", "/tickets", {**INTAKE, "caller_phone": "13955550000", "category": "0201",
                                            "content": "停水了。"}).get_json()["number"]
    resp = api.post("center", f"/tickets/{a}/link", {"other": odd, "note": "同一处管道"})
    assert resp.status_code == 200 and resp.get_json()["flags"] == ["mass_event"]
    resp = api.post("center", f"/tickets/{a}/unlink", {"other": odd})
    assert resp.status_code == 200 and resp.get_json()["flags"] == []
    assert api.post("operator", f"/tickets/{a}/link", {"other": b}).status_code == 403
    assert api.post("center", f"/tickets/{a}/link", {}).status_code == 422
    assert api.post("center", f"/tickets/{a}/link", {"other": "TST-19990101-0001"}).status_code == 404
    actions = [e["action"] for e in api.get("center", f"/tickets/{odd}").get_json()["events"]]
    assert actions.count("link") == 1 and actions.count("unlink") == 1
