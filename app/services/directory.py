"""The county directory: units (departments, townships, companies) and territories (township → village)."""
from __future__ import annotations

import re
from datetime import datetime

from ..domain.errors import ImportFailed, NotFound, ValidationFailed
from ..domain.roles import TERRITORY_LEVELS, UNIT_KINDS, Actor, label_to_id
from ..store import all_rows, one, write
from . import audit
from .csvfile import read_rows

CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,20}")
UNIT_COLUMNS = ["code", "name", "kind", "phone", "contact"]
TERRITORY_COLUMNS = ["code", "name", "level", "parent_code", "unit_code"]


def list_units(db, include_inactive: bool = True) -> list[dict]:
    """All units, townships first then by code."""
    where = "" if include_inactive else "WHERE active = 1"
    return all_rows(
        db,
        f"SELECT * FROM units {where} ORDER BY CASE kind WHEN 'township' THEN 0 WHEN 'department' THEN 1 "
        "WHEN 'company' THEN 2 ELSE 3 END, code",
    )


def get_unit(db, code: str) -> dict:
    """One unit, or NotFound."""
    unit = one(db, "SELECT * FROM units WHERE code = ?", (code,))
    if unit is None:
        raise NotFound(f"单位 {code} 不存在。")
    return unit


def _unit_errors(db, row: dict, existing_code: str | None) -> dict:
    errors = {}
    if not CODE_RE.fullmatch(row["code"]):
        errors["code"] = "代码只能是 1–20 位字母、数字、下划线或横线。"
    if not row["name"] or len(row["name"]) > 60:
        errors["name"] = "名称不能为空，且不超过 60 个字。"
    if row["kind"] is None:
        errors["kind"] = "类型应为：县直部门、乡镇、企事业 或 其他。"
    if len(row["phone"]) > 40:
        errors["phone"] = "电话太长。"
    clash = one(db, "SELECT code FROM units WHERE name = ? AND code != ?", (row["name"], existing_code or row["code"]))
    if clash:
        errors["name"] = f"名称与单位 {clash['code']} 重复。"
    return errors


def _unit_row(form: dict) -> dict:
    return {
        "code": (form.get("code") or "").strip().upper(),
        "name": (form.get("name") or "").strip(),
        "kind": label_to_id(UNIT_KINDS, form.get("kind") or ""),
        "phone": (form.get("phone") or "").strip(),
        "contact": (form.get("contact") or "").strip(),
    }


def save_unit(db, actor: Actor, form: dict, now: datetime, existing_code: str | None = None) -> str:
    """Create a unit, or update one (its code never changes); returns the code."""
    row = _unit_row(form)
    if existing_code:
        row["code"] = existing_code
        get_unit(db, existing_code)
    elif one(db, "SELECT code FROM units WHERE code = ?", (row["code"],)):
        raise ValidationFailed("请改正标出的内容。", errors={"code": f"代码 {row['code']} 已存在。"})
    errors = _unit_errors(db, row, existing_code)
    if errors:
        raise ValidationFailed("请改正标出的内容。", errors=errors)
    active = 0 if form.get("active") in ("0", "false", False) else 1
    with write(db):
        db.conn.execute(
            "INSERT INTO units (code, name, kind, phone, contact, active) VALUES (:code,:name,:kind,:phone,:contact,:active) "
            "ON CONFLICT(code) DO UPDATE SET name=excluded.name, kind=excluded.kind, phone=excluded.phone, "
            "contact=excluded.contact, active=excluded.active",
            {**row, "active": active},
        )
        audit.record(db, actor, "unit.update" if existing_code else "unit.create", row["code"], {**row, "active": active}, now)
    return row["code"]


def import_units(db, actor: Actor, data: bytes, now: datetime) -> dict:
    """CSV `code,name,kind,phone,contact`; new codes are added, known codes updated; all or nothing."""
    rows = read_rows(data, ["code", "name", "kind"])
    bad: list[tuple[int, str]] = []
    seen_codes: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    parsed = []
    for line, raw in rows:
        row = _unit_row(raw)
        errors = _unit_errors(db, row, row["code"])
        if row["code"] in seen_codes:
            errors["code"] = f"代码 {row['code']} 与第 {seen_codes[row['code']]} 行重复"
        if row["name"] in seen_names:
            errors["name"] = f"名称与第 {seen_names[row['name']]} 行重复"
        if errors:
            bad.append((line, "；".join(errors.values())))
            continue
        seen_codes[row["code"]] = line
        seen_names[row["name"]] = line
        parsed.append(row)
    if bad:
        raise ImportFailed(f"单位文件有 {len(bad)} 行有问题，未导入任何数据。", bad)
    known = {r["code"] for r in all_rows(db, "SELECT code FROM units")}
    with write(db):
        for row in parsed:
            db.conn.execute(
                "INSERT INTO units (code, name, kind, phone, contact) VALUES (:code,:name,:kind,:phone,:contact) "
                "ON CONFLICT(code) DO UPDATE SET name=excluded.name, kind=excluded.kind, phone=excluded.phone, "
                "contact=excluded.contact",
                row,
            )
        result = {"added": sum(r["code"] not in known for r in parsed), "updated": sum(r["code"] in known for r in parsed)}
        audit.record(db, actor, "unit.import", "", result, now)
    return result


def list_territories(db) -> list[dict]:
    """Townships each followed by their villages, with the township's unit name."""
    return all_rows(
        db,
        "SELECT t.*, u.name AS unit_name, p.name AS parent_name FROM territories t "
        "LEFT JOIN units u ON u.code = t.unit_code LEFT JOIN territories p ON p.code = t.parent_code "
        "ORDER BY COALESCE(t.parent_code, t.code), t.parent_code IS NOT NULL, t.code",
    )


def townships(db) -> list[dict]:
    """Active townships."""
    return all_rows(db, "SELECT * FROM territories WHERE level = 'township' AND active = 1 ORDER BY code")


def villages(db, township_code: str) -> list[dict]:
    """Active villages and communities of one township."""
    return all_rows(
        db, "SELECT * FROM territories WHERE parent_code = ? AND active = 1 ORDER BY code", (township_code,)
    )


def territory_tree(db) -> list[tuple[dict, list[dict]]]:
    """Active townships, each with its active villages and communities (two queries, not one per township)."""
    towns = townships(db)
    by_town: dict[str, list[dict]] = {t["code"]: [] for t in towns}
    for v in all_rows(db, "SELECT * FROM territories WHERE parent_code IS NOT NULL AND active = 1 ORDER BY code"):
        if v["parent_code"] in by_town:
            by_town[v["parent_code"]].append(v)
    return [(t, by_town[t["code"]]) for t in towns]


def get_territory(db, code: str) -> dict:
    """One territory with its township code and unit resolved (a village's unit is its township's)."""
    row = one(
        db,
        "SELECT t.*, COALESCE(p.code, t.code) AS township_code, COALESCE(p.name, t.name) AS township_name, "
        "COALESCE(t.unit_code, p.unit_code) AS township_unit FROM territories t "
        "LEFT JOIN territories p ON p.code = t.parent_code WHERE t.code = ?",
        (code,),
    )
    if row is None:
        raise NotFound(f"属地 {code} 不存在。")
    return row


def _territory_row(form: dict) -> dict:
    return {
        "code": (form.get("code") or "").strip(),
        "name": (form.get("name") or "").strip(),
        "level": label_to_id(TERRITORY_LEVELS, form.get("level") or ""),
        "parent_code": (form.get("parent_code") or "").strip() or None,
        "unit_code": (form.get("unit_code") or "").strip().upper() or None,
    }


def _territory_errors(db, row: dict, pending: dict[str, dict]) -> dict:
    errors = {}
    if not CODE_RE.fullmatch(row["code"]):
        errors["code"] = "代码只能是 1–20 位字母、数字、下划线或横线。"
    if not row["name"] or len(row["name"]) > 40:
        errors["name"] = "名称不能为空，且不超过 40 个字。"
    if row["level"] is None:
        errors["level"] = "层级应为：乡镇、村 或 社区。"
    elif row["level"] == "township":
        if row["parent_code"]:
            errors["parent_code"] = "乡镇不能有上级属地。"
        if not row["unit_code"]:
            errors["unit_code"] = "乡镇必须填写对应的乡镇政府单位代码。"
    else:
        parent = pending.get(row["parent_code"] or "") or (
            one(db, "SELECT * FROM territories WHERE code = ?", (row["parent_code"],)) if row["parent_code"] else None
        )
        if parent is None:
            errors["parent_code"] = f"上级乡镇 {row['parent_code'] or '（空）'} 不存在。"
        elif parent["level"] != "township":
            errors["parent_code"] = "村和社区的上级必须是乡镇。"
    if row["unit_code"] and not one(db, "SELECT code FROM units WHERE code = ?", (row["unit_code"],)):
        errors["unit_code"] = f"单位代码 {row['unit_code']} 不存在。"
    return errors


def save_territory(db, actor: Actor, form: dict, now: datetime, existing_code: str | None = None) -> str:
    """Create or update one territory."""
    row = _territory_row(form)
    if existing_code:
        row["code"] = existing_code
        get_territory(db, existing_code)
    elif one(db, "SELECT code FROM territories WHERE code = ?", (row["code"],)):
        raise ValidationFailed("请改正标出的内容。", errors={"code": f"代码 {row['code']} 已存在。"})
    errors = _territory_errors(db, row, {})
    if errors:
        raise ValidationFailed("请改正标出的内容。", errors=errors)
    active = 0 if form.get("active") in ("0", "false", False) else 1
    with write(db):
        _upsert_territory(db, {**row, "active": active})
        audit.record(db, actor, "territory.update" if existing_code else "territory.create", row["code"], row, now)
    return row["code"]


def _upsert_territory(db, row: dict) -> None:
    db.conn.execute(
        "INSERT INTO territories (code, name, level, parent_code, unit_code, active) "
        "VALUES (:code,:name,:level,:parent_code,:unit_code,:active) ON CONFLICT(code) DO UPDATE SET "
        "name=excluded.name, level=excluded.level, parent_code=excluded.parent_code, unit_code=excluded.unit_code, "
        "active=excluded.active",
        row,
    )


def import_territories(db, actor: Actor, data: bytes, now: datetime) -> dict:
    """CSV `code,name,level,parent_code,unit_code`; townships may come in the same file; all or nothing."""
    rows = read_rows(data, TERRITORY_COLUMNS[:3])
    parsed = [(line, _territory_row(raw)) for line, raw in rows]
    # Every row of the file, so a village under a village of the same file is told its parent is no township.
    pending = {r["code"]: r for _, r in parsed}
    bad: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for line, row in parsed:
        errors = _territory_errors(db, row, pending)
        if row["code"] in seen:
            errors["code"] = f"代码 {row['code']} 与第 {seen[row['code']]} 行重复"
        seen.setdefault(row["code"], line)
        if errors:
            bad.append((line, "；".join(errors.values())))
    if bad:
        raise ImportFailed(f"属地文件有 {len(bad)} 行有问题，未导入任何数据。", bad)
    known = {r["code"] for r in all_rows(db, "SELECT code FROM territories")}
    ordered = sorted((r for _, r in parsed), key=lambda r: r["level"] != "township")
    with write(db):
        for row in ordered:
            _upsert_territory(db, {**row, "active": 1})
        result = {"added": sum(r["code"] not in known for r in ordered), "updated": sum(r["code"] in known for r in ordered)}
        audit.record(db, actor, "territory.import", "", result, now)
    return result
