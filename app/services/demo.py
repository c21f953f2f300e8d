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


def load(db, cfg, now: datetime) -> dict:
    """Load units, territories, catalogue and accounts; refuse when anything is already there."""
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
    summary = f"{u['added']} 个单位，{t['added']} 个属地，{c['added']} 个事项小类，{len(ACCOUNTS)} 个账号"
    return {"loaded": True, "summary": summary}
