"""Read an uploaded CSV the way county offices produce it: UTF-8 with or without BOM, or GBK from Excel."""
from __future__ import annotations

import csv
import io

from ..domain.errors import ImportFailed


def decode(data: bytes) -> str:
    """Decode UTF-8 (BOM or not) first, then GB18030 (a superset of GBK); refuse anything else."""
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise ImportFailed("文件编码无法识别：请另存为 UTF-8 或 GBK（Excel 的“CSV（逗号分隔）”）。", [])


def read_rows(data: bytes, required: list[str]) -> list[tuple[int, dict]]:
    """Rows as (line number in the file, {column: stripped value}); checks the header names."""
    text = decode(data)
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise ImportFailed(f"表头缺少列：{'、'.join(missing)}。第一行应为：{','.join(required)}", [(1, "表头不对")])
    rows = []
    # Number every record, blank ones too, as Excel numbers rows (csv.DictReader skips blank lines silently,
    # which would shift the row number of every bad row after them).
    for i, values in enumerate(reader, start=2):
        row = {name: values[j].strip() if j < len(values) else "" for j, name in enumerate(header) if name}
        if not any(row.values()):
            continue
        rows.append((i, row))
    if not rows:
        raise ImportFailed("文件里没有数据行。", [])
    return rows


def split_list(value: str) -> list[str]:
    """Split a cell holding several values separated by ; ； 、 or |."""
    for sep in ("；", "、", "|"):
        value = value.replace(sep, ";")
    return [v.strip() for v in value.split(";") if v.strip()]
