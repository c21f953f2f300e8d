"""Roles, the acting person, and the labels the UI shows for them."""
from __future__ import annotations

from dataclasses import dataclass

ROLES = {
    "operator": "话务员",
    "center": "热线中心",
    "handler": "承办单位经办人",
    "leader": "领导",
    "admin": "管理员",
}

UNIT_KINDS = {"department": "县直部门", "township": "乡镇", "company": "企事业", "other": "其他"}
TERRITORY_LEVELS = {"township": "乡镇", "village": "村", "community": "社区"}
URGENCY_LABELS = {"normal": "一般", "urgent": "紧急", "critical": "特急"}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user, an API token, or the system itself."""

    id: int | None
    name: str
    role: str
    unit_code: str | None = None
    kind: str = "user"  # "user", "token" or "system"


SYSTEM = Actor(None, "系统", "admin", None, "system")


def label_to_id(labels: dict[str, str], value: str) -> str | None:
    """Accept either the id or the Chinese label of an enumeration; None if neither."""
    value = value.strip()
    if value in labels:
        return value
    for key, label in labels.items():
        if label == value:
            return key
    return None
