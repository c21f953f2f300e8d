"""Load the fictional demo county (云岭县) into an empty database, through the same imports admins use."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ..domain.roles import SYSTEM
from ..store import scalar
from . import accounts, catalogue, directory

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_PASSWORD = "demo2026"
# (username, role, unit code)
ACCOUNTS = [
    ("admin", "admin", None),
    ("operator", "operator", None),
    ("center", "center", None),
    ("leader", "leader", None),
    ("qingshi", "handler", "QSZ"),
    ("zilaishui", "handler", "ZLS"),
    ("gongdian", "handler", "GDJ"),
    ("zhujian", "handler", "ZJJ"),
]
NAMES = {"admin": "系统管理员", "operator": "话务员小李", "center": "派单员老王", "leader": "县领导",
         "qingshi": "青石镇经办人", "zilaishui": "自来水公司经办人", "gongdian": "供电公司经办人",
         "zhujian": "住建局经办人"}


def is_empty(db) -> str | None:
    """None when the database holds no county data; otherwise what it holds."""
    for table, label in (("units", "承办单位"), ("users", "用户"), ("territories", "属地")):
        n = scalar(db, f"SELECT COUNT(*) FROM {table}")
        if n:
            return f"已有 {n} 条{label}"
    return None


def load(db, cfg, now: datetime, with_tickets: bool = True) -> dict:
    """Load units, territories, catalogue, accounts and demo tickets; refuse when anything is already there."""
    reason = is_empty(db)
    if reason:
        return {"loaded": False, "reason": reason}
    u = directory.import_units(db, SYSTEM, (DEMO_DIR / "units.csv").read_bytes(), now)
    t = directory.import_territories(db, SYSTEM, (DEMO_DIR / "territories.csv").read_bytes(), now)
    c = catalogue.import_csv(db, SYSTEM, (DEMO_DIR / "catalogue.csv").read_bytes(), now)
    for username, role, unit in ACCOUNTS:
        accounts.create_user(db, SYSTEM, now, username=username, password=DEMO_PASSWORD, role=role,
                             unit_code=unit, display_name=NAMES[username], must_change=False,
                             phone="13800000000" if role == "handler" else "")
    n = demo_tickets(db, cfg, now) if with_tickets else 0
    summary = (f"{u['added']} 个单位，{t['added']} 个属地，{c['added']} 个事项小类，{len(ACCOUNTS)} 个账号，"
               f"{n} 张演示工单")
    return {"loaded": True, "summary": summary}


QSZ_TOWNSHIP = "539901102"  # 青石镇, whose handler account is `qingshi`

# Where each demo ticket ends up, with its weight: a believable spread over the last three weeks.
PLAN = [("received", 6), ("dispatched", 8), ("in_progress", 16), ("replied", 8), ("closed", 14),
        ("answered_directly", 6), ("rejected", 1), ("transferred", 1), ("escalated", 1)]


def demo_tickets(db, cfg, now: datetime, count: int = 61, seed: int = 12345) -> int:
    """Create demo tickets through the real services at past times, so deadlines and events are true.

    Tickets whose time would lie in the future are left at the step before; the queues therefore show
    due-soon and overdue work relative to the moment the demo was loaded.
    """
    import random
    from datetime import timedelta

    from ..demo.callers import GIVEN, SAMPLE_APPEALS, SURNAMES
    from ..domain.errors import HotlineError
    from ..domain.roles import Actor
    from ..store import all_rows
    from . import tickets

    rnd = random.Random(seed)
    users = {r["username"]: r for r in all_rows(db, "SELECT * FROM users")}

    def actor(username: str) -> Actor:
        u = users[username]
        return Actor(u["id"], u["display_name"], u["role"], u["unit_code"])

    operator, center = actor("operator"), actor("center")
    villages = all_rows(db, "SELECT t.code, t.name, t.parent_code FROM territories t WHERE t.level != 'township'")
    handlers = {r["unit_code"]: actor(r["username"]) for r in users.values() if r["role"] == "handler"}
    states = [s for s, w in PLAN for _ in range(w)]
    made = 0
    for i in range(count):
        target = states[i % len(states)]
        # most demo work lands on the units that have demo handler accounts, so every account has a queue
        qsz = [v for v in villages if v["parent_code"] == QSZ_TOWNSHIP]
        village = rnd.choice(qsz if rnd.random() < 0.5 else villages)
        appeal = SAMPLE_APPEALS[i % len(SAMPLE_APPEALS)]
        if rnd.random() < 0.8:
            for a in rnd.sample(SAMPLE_APPEALS, len(SAMPLE_APPEALS)):
                lead = next((s.unit_code for s in catalogue.suggest(db, a["category"], village["code"], "")
                             if s.role == "lead"), None)
                if lead in handlers:
                    appeal = a
                    break
        t0 = now - timedelta(days=rnd.uniform(0.2, 20), minutes=rnd.randint(0, 600))
        phone = f"1{rnd.choice('3578')}{rnd.randint(0, 9)}{rnd.randint(10000000, 99999999)}"
        form = {
            "channel": rnd.choice(["phone"] * 6 + ["wechat", "web", "visit"]), "kind": appeal["kind"],
            "urgency": "normal", "caller_name": rnd.choice(SURNAMES) + rnd.choice(GIVEN), "caller_phone": phone,
            "territory": village["code"], "category": appeal["category"], "title": appeal["title"],
            "content": appeal["content"].replace("{village}", village["name"]),
        }
        try:
            if target == "answered_directly":
                tickets.intake(db, cfg, operator, form, t0, then="answer_directly",
                               data={"answer": "已按政策口径当场答复来电人，来电人表示清楚。"})
                made += 1
                continue
            out = tickets.intake(db, cfg, operator, form, t0)
            made += 1
            if target == "received":
                continue
            number, t = out.number, t0 + timedelta(minutes=rnd.randint(10, 90))
            if target in ("rejected", "transferred", "escalated"):
                data = {"rejected": {"reason_code": "no_demand", "reason": "来电人仅表达情绪，无具体诉求。"},
                        "transferred": {"target": "110", "note": "涉及治安案件，已电话移送 110 指挥中心。"},
                        "escalated": {"reason": "涉及多个部门职责交叉，无法确定牵头单位，报县政府协调。"}}[target]
                action = {"rejected": "reject", "transferred": "transfer", "escalated": "escalate"}[target]
                tickets.act(db, cfg, center, number, action, data, t)
                continue
            sugg = catalogue.suggest(db, appeal["category"], village["code"], "")
            lead = next((s.unit_code for s in sugg if s.role == "lead"), None)
            if lead is None:
                continue
            tickets.act(db, cfg, center, number, "dispatch", {"lead_unit": lead, "note": "请按时限办理。"}, t)
            h = handlers.get(lead) or Actor(None, "经办人", "handler", lead)
            for step, after, data in (
                ("sign", rnd.randint(30, 600), {}),
                ("contact", rnd.randint(30, 300), {"method": "phone", "note": "已电话联系诉求人，了解具体情况。"}),
                ("reply", rnd.randint(600, 4000), {"result": "经现场核实，已安排人员处理完毕，并向诉求人反馈。"}),
                ("callback", rnd.randint(60, 1500), {"resolved": "1", "satisfaction": rnd.choice(
                    ["satisfied"] * 4 + ["basically_satisfied"]), "outcome": "close"}),
            ):
                if step == {"dispatched": "sign", "in_progress": "reply", "replied": "callback"}.get(target):
                    break
                t += timedelta(minutes=after)
                if t >= now:
                    break
                tickets.act(db, cfg, center if step == "callback" else h, number, step, data, t)
        except HotlineError:
            continue  # a demo ticket that does not fit the rules is simply left where it is
    return made
