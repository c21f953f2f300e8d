"""Work-order fields, their labels and validation, phone normalisation, and how deadlines read (pure)."""
from __future__ import annotations

import re
from datetime import datetime

from .roles import URGENCY_LABELS

CHANNELS = {"phone": "电话", "web": "网站", "wechat": "微信", "visit": "来访", "upstream": "上级转办", "other": "其他"}
KINDS = {"consult": "咨询", "help": "求助", "complaint": "投诉", "report": "举报", "suggestion": "建议", "praise": "表扬"}
SATISFACTION = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
CONTACT_METHODS = {"phone": "电话", "visit": "上门", "wechat": "微信", "other": "其他"}
RETURN_REASONS = {
    "not_our_duty": "不属于本单位职责",
    "wrong_territory": "不属于本辖区",
    "unclear": "诉求内容不清、无法联系诉求人",
    "duplicate": "重复派单",
    "other": "其他",
}
REJECT_REASONS = {
    "no_demand": "无实质诉求",
    "unreasonable": "诉求明显不合理、违反法律法规",
    "litigation": "已进入诉讼、仲裁、行政复议等法定程序",
    "duplicate": "重复诉求且已答复",
    "not_government": "不属于政府职能范围",
    "harassment": "恶意骚扰、辱骂",
    "other": "其他",
}
TRANSFER_TARGETS = {"110": "110 报警", "discipline": "纪委监委", "petition": "信访", "other": "其他"}

PHONE_RE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9}|0\d{2,3}\d{7,8})$")
ID_RE = re.compile(r"^\d{17}[\dXx]$")

LIMITS = {"caller_name": 40, "caller_phone": 20, "address": 200, "title": 100, "content": 5000}


def normalize_phone(raw: str) -> str:
    """Digits only, without +86 / 0086; '' when there is nothing."""
    digits = re.sub(r"\D", "", raw or "")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) in (11, 10, 12):
            digits = digits[len(prefix):]
            # after the country code a landline drops its trunk 0: +86 879 5260453 is 0879-5260453
            if not digits.startswith("0") and not (len(digits) == 11 and digits.startswith("1")):
                digits = "0" + digits
            break
    return digits


def mask_phone(phone: str) -> str:
    """138****1234 for paper and for users who should not see the whole number."""
    p = normalize_phone(phone)
    if len(p) >= 7:
        return p[:3] + "*" * (len(p) - 7) + p[-4:]
    return p


def _text(value) -> str:
    """A form or JSON value as stripped text (numbers become text; lists and objects become '')."""
    if value is None or isinstance(value, (list, dict, bool)):
        return ""
    return str(value).strip()


def validate_intake(form: dict) -> tuple[dict, dict]:
    """Clean the intake fields; return (values, errors) with Chinese messages per field."""
    v = {k: _text(form.get(k)) for k in ("channel", "kind", "urgency", "caller_name", "caller_phone", "id_number",
                                           "address", "territory", "category", "title", "content")}
    v["anonymous"] = str(form.get("anonymous") or "").lower() in ("1", "true", "on", "yes")
    v["confidential"] = str(form.get("confidential") or "").lower() in ("1", "true", "on", "yes")
    errors: dict[str, str] = {}
    if v["channel"] not in CHANNELS:
        errors["channel"] = "请选择渠道。"
    if v["kind"] not in KINDS:
        errors["kind"] = "请选择诉求类型。"
    if v["urgency"] not in URGENCY_LABELS:
        errors["urgency"] = "请选择紧急程度。"
    if v["caller_phone"]:
        v["phone_norm"] = normalize_phone(v["caller_phone"])
        if not PHONE_RE.match(v["phone_norm"]):
            errors["caller_phone"] = "电话号码格式不对：手机 11 位，座机带区号。"
    else:
        v["phone_norm"] = ""
        if not v["anonymous"]:
            errors["caller_phone"] = "请填写来电号码；匿名来电请勾选“匿名”。"
    if not v["caller_name"] and not v["anonymous"]:
        errors["caller_name"] = "请填写诉求人姓名；匿名来电请勾选“匿名”。"
    if v["id_number"] and not ID_RE.match(v["id_number"]):
        errors["id_number"] = "身份证号应为 18 位。"
    v["id_number"] = v["id_number"].upper()
    if not v["territory"]:
        errors["territory"] = "请选择属地（乡镇、村/社区）。"
    if not v["category"]:
        errors["category"] = "请选择事项分类。"
    if not v["title"]:
        errors["title"] = "请填写标题。"
    if not v["content"]:
        errors["content"] = "请填写诉求内容。"
    for key, limit in LIMITS.items():
        if len(v[key]) > limit:
            errors[key] = f"不能超过 {limit} 个字（现有 {len(v[key])} 个）。"
    return v, errors


def remaining_text(deadline: datetime | None, now: datetime) -> str:
    """'剩余 1 天 3 小时' / '已超期 2 天' — how a deadline reads to a handler."""
    if deadline is None:
        return ""
    delta = deadline - now
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        span = f"{days} 天" + (f" {hours} 小时" if hours else "")
    elif hours:
        span = f"{hours} 小时" + (f" {minutes} 分" if minutes else "")
    else:
        span = f"{max(minutes, 1)} 分钟"
    return f"剩余 {span}" if delta.total_seconds() >= 0 else f"已超期 {span}"
