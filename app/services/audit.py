"""The admin audit log: who changed what, when. Rows are only ever appended."""
from __future__ import annotations

import json
from datetime import datetime

from ..domain.roles import Actor
from ..store import all_rows


def record(db, actor: Actor, action: str, target: str, details: dict, now: datetime) -> None:
    """Append one audit row (inside the caller's transaction)."""
    db.conn.execute(
        "INSERT INTO audit_log (at, actor_id, actor_name, action, target, details) VALUES (?,?,?,?,?,?)",
        (now.isoformat(timespec="seconds"), actor.id, actor.name, action, target, json.dumps(details, ensure_ascii=False)),
    )


ACTION_LABELS = {
    "user.create": "新建用户", "user.update": "修改用户", "user.reset_password": "重置密码",
    "user.change_password": "修改本人密码", "unit.create": "新增单位", "unit.update": "修改单位",
    "unit.import": "导入单位", "territory.create": "新增属地", "territory.update": "修改属地",
    "territory.import": "导入属地", "category.create": "新增事项分类", "category.update": "修改事项分类",
    "category.import": "导入派单目录", "calendar.set_day": "修改日历", "calendar.mark_year": "标记年份已录入",
    "calendar.import": "导入工作日历", "token.create": "创建接口令牌", "token.revoke": "撤销接口令牌",
}
FIELD_LABELS = {
    "role": "角色", "unit_code": "单位", "display_name": "姓名", "phone": "电话", "disabled": "停用", "kind": "类型",
    "name": "名称", "code": "代码", "contact": "联系人", "active": "在用", "level": "层级", "parent_code": "上级",
    "added": "新增", "updated": "更新", "rows": "行数", "responsible": "责任方式", "urgency": "紧急程度",
    "major_code": "大类", "major_name": "大类名称", "co_units": "协办", "keywords": "关键词",
}


def describe(details_json: str) -> str:
    """An audit row's details as short Chinese text: 角色：operator → center；姓名：…"""
    try:
        details = json.loads(details_json or "{}")
    except ValueError:
        return details_json
    parts = []
    for key, value in details.items():
        label = FIELD_LABELS.get(key, key)
        if isinstance(value, list) and len(value) == 2 and not isinstance(value[0], (list, dict)):
            parts.append(f"{label}：{value[0] if value[0] not in (None, '') else '（空）'} → {value[1]}")
        elif isinstance(value, list):
            parts.append(f"{label}：{'、'.join(map(str, value))}")
        else:
            parts.append(f"{label}：{value}")
    return "；".join(parts)


def recent(db, limit: int = 200, offset: int = 0) -> list[dict]:
    """The newest audit rows first, with Chinese labels for the action and the details."""
    rows = all_rows(db, "SELECT * FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
    for r in rows:
        r["action_label"] = ACTION_LABELS.get(r["action"], r["action"])
        r["details_text"] = describe(r["details"])
    return rows
