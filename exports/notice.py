"""The county-wide overdue notice (超时全县通报) as a .docx, built from a stored notice through exports.official."""
from __future__ import annotations

from datetime import datetime

from exports.official import OfficialDocument, chinese_date

DIGITS = "零一二三四五六七八九"
SUMMARY_HEADERS = ["序号", "承办单位", "超期件数", "最长超期（天）"]
SUMMARY_WIDTHS = [1.5, 8.6, 2.5, 3.0]
DETAIL_HEADERS = ["序号", "工单编号", "诉求事项", "诉求人电话", "办结时限", "超期天数"]
DETAIL_WIDTHS = [1.2, 3.8, 4.4, 2.6, 2.0, 1.6]  # 15.6 cm: the A4 width inside the official margins


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 23 → 二十三 (for （一）-style headings; up to 99)."""
    if n < 10:
        return DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else DIGITS[tens]) + "十" + ("" if ones == 0 else DIGITS[ones])


def _moment(dt: datetime) -> str:
    return f"{chinese_date(dt)}{dt.hour}时{dt.minute:02d}分"


def _short_date(text: str) -> str:
    dt = datetime.fromisoformat(text)
    return f"{dt.month}月{dt.day}日"


def summary_rows(units: list[dict]) -> list[list[str]]:
    """One row per unit: number, name, overdue count, longest overdue in days."""
    return [[str(i), u["name"], str(u["count"]), str(u["max_days"])] for i, u in enumerate(units, 1)]


def detail_rows(unit: dict) -> list[list[str]]:
    """One row per overdue ticket of a unit."""
    return [[str(i), t["number"], t["title"], t["phone"] or "（匿名）", _short_date(t["due_at"]), str(t["days"])]
            for i, t in enumerate(unit["tickets"], 1)]


def build(notice: dict) -> bytes:
    """The .docx of a stored notice (services.notices.get)."""
    data = notice["data"]
    as_of = datetime.fromisoformat(data["as_of"])
    units = data["units"]
    doc = OfficialDocument(notice["title"], issuer=data["issuer"], date=as_of.date(), doc_number=notice["doc_number"])
    doc.paragraph("各乡镇人民政府，县直各部门，各有关单位：", indent=False)
    if not units:
        doc.paragraph(f"截至{_moment(as_of)}，全县没有超过办结时限仍未答复的12345热线工单。特此通报。")
    else:
        total = sum(u["count"] for u in units)
        doc.paragraph(
            f"截至{_moment(as_of)}，全县共有{total}件12345热线工单超过办结时限仍未答复，涉及{len(units)}个承办单位。"
            "现将有关情况通报如下："
        )
        doc.heading1("一、各单位超期工单数量")
        doc.table(SUMMARY_HEADERS, summary_rows(units), widths_cm=SUMMARY_WIDTHS)
        doc.heading1("二、超期工单明细")
        for i, unit in enumerate(units, 1):
            doc.heading2(f"（{chinese_number(i)}）{unit['name']}（{unit['count']}件）")
            doc.table(DETAIL_HEADERS, detail_rows(unit), widths_cm=DETAIL_WIDTHS)
        doc.heading1("三、有关要求")
        doc.paragraph(
            "请被通报单位高度重视，立即督促经办人员办理并答复诉求人；确因客观原因无法按期办结的，"
            "请向县12345热线中心书面说明情况。热线中心将持续跟踪督办，超期情况纳入考核。"
        )
    doc.signature(data["issuer"], as_of.date())
    return doc.to_bytes()


def filename(notice: dict) -> str:
    """The download name: 超时全县通报-2026-03-02-3.docx."""
    return f"超时全县通报-{notice['day']}-{notice['seq']}.docx"
