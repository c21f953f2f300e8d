"""The dispatch catalogue (派单目录): category tree 大类 → 小类, each leaf naming who is responsible."""
from __future__ import annotations

import json
import re
from datetime import datetime

from ..domain.catalogue import Leaf, Suggestion, suggest_units
from ..domain.errors import ImportFailed, NotFound, ValidationFailed
from ..domain.roles import URGENCY_LABELS, Actor, label_to_id
from ..store import all_rows, one, write
from . import audit
from .csvfile import read_rows, split_list
from .directory import get_territory

CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,20}")
COLUMNS = ["major_code", "major_name", "code", "name", "responsible", "unit_code", "co_units", "keywords", "urgency"]
RESPONSIBLE = {"unit": "固定单位", "territory": "属地"}


def _leaf(row: dict) -> Leaf:
    return Leaf(
        code=row["code"], name=row["name"], responsible=row["responsible"], unit_code=row["unit_code"],
        co_units=tuple(json.loads(row["co_units"])), keywords=tuple(json.loads(row["keywords"])),
        urgency=row["urgency"],
    )


def tree(db, include_inactive: bool = True) -> list[dict]:
    """Major categories, each with its `leaves` list."""
    where = "" if include_inactive else "AND c.active = 1"
    rows = all_rows(
        db,
        f"SELECT c.*, u.name AS unit_name FROM categories c LEFT JOIN units u ON u.code = c.unit_code WHERE 1=1 {where} "
        "ORDER BY c.code",
    )
    majors = {r["code"]: {**r, "leaves": []} for r in rows if r["parent_code"] is None}
    for r in rows:
        if r["parent_code"] in majors:
            r["co_units"] = json.loads(r["co_units"])
            r["keywords"] = json.loads(r["keywords"])
            majors[r["parent_code"]]["leaves"].append(r)
    return list(majors.values())


def leaves(db) -> list[dict]:
    """Active leaves with their major's name, for pickers and the API."""
    return all_rows(
        db,
        "SELECT c.code, c.name, c.urgency, c.responsible, c.unit_code, c.keywords, p.code AS major_code, "
        "p.name AS major_name FROM categories c JOIN categories p ON p.code = c.parent_code "
        "WHERE c.active = 1 ORDER BY c.code",
    )


def get_leaf(db, code: str) -> dict:
    """One leaf category, or NotFound."""
    row = one(
        db,
        "SELECT c.*, p.name AS major_name FROM categories c JOIN categories p ON p.code = c.parent_code WHERE c.code = ?",
        (code,),
    )
    if row is None:
        raise NotFound(f"事项分类 {code} 不存在。")
    return row


def suggest(db, category_code: str | None, territory_code: str | None, text: str) -> list[Suggestion]:
    """Units suggested for a ticket by the catalogue, with reasons (see domain.catalogue.suggest_units)."""
    leaf = _leaf(get_leaf(db, category_code)) if category_code else None
    t_unit = t_name = None
    if territory_code:
        terr = get_territory(db, territory_code)
        t_unit, t_name = terr["township_unit"], terr["township_name"]
    cands = []
    if leaf is None and text:
        cands = [_leaf(r) for r in all_rows(db, "SELECT * FROM categories WHERE parent_code IS NOT NULL AND active = 1")]
    return suggest_units(leaf, t_unit, t_name, text or "", cands)


def _parse(db, raw: dict, units: set[str]) -> tuple[dict, dict]:
    row = {
        "major_code": (raw.get("major_code") or "").strip(),
        "major_name": (raw.get("major_name") or "").strip(),
        "code": (raw.get("code") or "").strip(),
        "name": (raw.get("name") or "").strip(),
        "responsible": label_to_id(RESPONSIBLE, raw.get("responsible") or ""),
        "unit_code": (raw.get("unit_code") or "").strip().upper() or None,
        "co_units": [c.upper() for c in split_list(raw.get("co_units") or "")],
        "keywords": split_list(raw.get("keywords") or ""),
        "urgency": label_to_id(URGENCY_LABELS, raw.get("urgency") or "一般"),
    }
    errors = {}
    if not CODE_RE.fullmatch(row["major_code"]):
        errors["major_code"] = "大类代码只能是字母或数字。"
    if not row["major_name"]:
        errors["major_name"] = "大类名称不能为空。"
    if not CODE_RE.fullmatch(row["code"]):
        errors["code"] = "小类代码只能是字母或数字。"
    elif row["code"] == row["major_code"]:
        errors["code"] = "小类代码不能与大类代码相同。"
    if not row["name"] or len(row["name"]) > 60:
        errors["name"] = "小类名称不能为空，且不超过 60 个字。"
    if row["responsible"] is None:
        errors["responsible"] = "责任方式应为“固定单位”或“属地”。"
    elif row["responsible"] == "unit":
        if not row["unit_code"]:
            errors["unit_code"] = "固定单位时必须填写单位代码。"
        elif row["unit_code"] not in units:
            errors["unit_code"] = f"单位代码 {row['unit_code']} 不存在。"
    elif row["unit_code"]:
        errors["unit_code"] = "属地办理时不填单位代码（由工单所在乡镇办理）。"
    missing = [c for c in row["co_units"] if c not in units]
    if missing:
        errors["co_units"] = f"协办单位代码不存在：{'、'.join(missing)}。"
    if row["urgency"] is None:
        errors["urgency"] = "紧急程度应为：一般、紧急 或 特急。"
    return row, errors


def _upsert(db, row: dict) -> None:
    db.conn.execute(
        "INSERT INTO categories (code, name, parent_code) VALUES (?,?,NULL) "
        "ON CONFLICT(code) DO UPDATE SET name = excluded.name",
        (row["major_code"], row["major_name"]),
    )
    db.conn.execute(
        "INSERT INTO categories (code, name, parent_code, responsible, unit_code, co_units, keywords, urgency, active) "
        "VALUES (:code,:name,:major_code,:responsible,:unit_code,:co,:kw,:urgency,:active) ON CONFLICT(code) DO UPDATE SET "
        "name=excluded.name, parent_code=excluded.parent_code, responsible=excluded.responsible, "
        "unit_code=excluded.unit_code, co_units=excluded.co_units, keywords=excluded.keywords, "
        "urgency=excluded.urgency, active=excluded.active",
        {**row, "co": json.dumps(row["co_units"], ensure_ascii=False),
         "kw": json.dumps(row["keywords"], ensure_ascii=False), "active": row.get("active", 1)},
    )


def save_leaf(db, actor: Actor, form: dict, now: datetime, existing_code: str | None = None) -> str:
    """Create or update one leaf (its major is created or renamed as given)."""
    units = {r["code"] for r in all_rows(db, "SELECT code FROM units")}
    row, errors = _parse(db, {**form, "code": existing_code or form.get("code")}, units)
    if existing_code:
        get_leaf(db, existing_code)
    elif one(db, "SELECT code FROM categories WHERE code = ?", (row["code"],)):
        errors["code"] = f"代码 {row['code']} 已存在。"
    major = one(db, "SELECT * FROM categories WHERE code = ?", (row["major_code"],))
    if major and major["parent_code"] is not None:
        errors["major_code"] = f"{row['major_code']} 是小类，不能作大类。"
    if errors:
        raise ValidationFailed("请改正标出的内容。", errors=errors)
    row["active"] = 0 if form.get("active") in ("0", "false", False) else 1
    with write(db):
        _upsert(db, row)
        audit.record(db, actor, "category.update" if existing_code else "category.create", row["code"], row, now)
    return row["code"]


def import_csv(db, actor: Actor, data: bytes, now: datetime) -> dict:
    """CSV with COLUMNS, one row per leaf; majors are created from the rows; all or nothing."""
    rows = read_rows(data, COLUMNS[:5])
    units = {r["code"] for r in all_rows(db, "SELECT code FROM units")}
    existing = {r["code"]: r for r in all_rows(db, "SELECT code, parent_code FROM categories")}
    bad: list[tuple[int, str]] = []
    parsed, seen, majors = [], {}, {}
    for line, raw in rows:
        row, errors = _parse(db, raw, units)
        if row["code"] in seen:
            errors["code"] = f"小类代码 {row['code']} 与第 {seen[row['code']]} 行重复"
        if row["code"] in majors or (existing.get(row["code"]) or {}).get("parent_code", "x") is None:
            errors["code"] = f"{row['code']} 已经是大类代码"
        if row["major_code"] in seen or (existing.get(row["major_code"]) or {}).get("parent_code"):
            errors["major_code"] = f"{row['major_code']} 已经是小类代码"
        if row["major_code"] in majors and majors[row["major_code"]] != row["major_name"]:
            errors["major_name"] = f"大类 {row['major_code']} 的名称与前面的行不一致"
        seen.setdefault(row["code"], line)
        majors.setdefault(row["major_code"], row["major_name"])
        if errors:
            bad.append((line, "；".join(errors.values())))
        parsed.append(row)
    if bad:
        raise ImportFailed(f"派单目录文件有 {len(bad)} 行有问题，未导入任何数据。", bad)
    with write(db):
        for row in parsed:
            _upsert(db, row)
        result = {"added": sum(r["code"] not in existing for r in parsed),
                  "updated": sum(r["code"] in existing for r in parsed)}
        audit.record(db, actor, "category.import", "", result, now)
    return result
