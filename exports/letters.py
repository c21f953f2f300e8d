"""Printed letters built on the shared official-document builder: the clue transfer letter (线索移送函)."""
from __future__ import annotations

from datetime import datetime

from app.domain.lifecycle import STATES
from app.domain.repeats import RULES

from .official import OfficialDocument, chinese_date

TARGET_LABELS = {"discipline": "纪委监委", "petition": "信访"}


def _day(text: str) -> str:
    return chinese_date(datetime.fromisoformat(text))


def _span(first: str, last: str) -> str:
    """'2026年11月23日，' for one day; '自…至…，' for several."""
    a, b = _day(first), _day(last)
    return f"{a}，" if a == b else f"自{a}至{b}，"


def _caller(m: dict) -> str:
    if m["anonymous"]:
        return "匿名"
    return m["caller_name"] or "—"


def clue_transfer_letter(county: str, item: dict, transfer: dict, *, mask_phones: bool = True) -> bytes:
    """The letter sending an item's clues to 纪委监委 or 信访, with the member tickets listed."""
    centre = f"{county}12345热线中心"  # the same signature as the county-wide notice
    when = datetime.fromisoformat(transfer["at"])
    doc = OfficialDocument("关于移送重点督办事项问题线索的函", issuer=centre, date=when.date(),
                           doc_number=transfer["doc_number"], mask_phones=mask_phones)
    doc.paragraph(f"{transfer['recipient']}：", indent=False)
    place = "".join(x for x in (item.get("township_name"), item.get("territory_name")
                                if item.get("territory_name") != item.get("township_name") else "") if x)
    doc.paragraph(
        f"我中心在受理群众诉求中发现以下问题线索，已列为重点督办事项（第 {item['id']} 号，{RULES[item['rule']]}）。"
        f"根据有关规定，现将线索移送你{'委' if transfer['target'] == 'discipline' else '局'}，请依规依纪依法处理，"
        "并将处理结果函告我中心。"
    )
    doc.heading1("一、基本情况")
    doc.paragraph(
        f"事项：{item['title'].replace('：', '，')}。属地：{place or '—'}；事项分类：{item.get('category_name') or '—'}。"
        f"{_span(item['first_at'], item['last_at'])}共受理相关工单 {item['ticket_count']} 件，"
        f"涉及诉求人 {item['caller_count']} 人。"
    )
    doc.heading1("二、线索摘要")
    doc.paragraph(transfer["summary"])
    doc.heading1("三、相关工单")
    rows = [[str(i), m["number"], m["received_at"][:16].replace("T", " "), _caller(m), m["caller_phone"] or "—",
             m["title"], STATES.get(m["state"], m["state"])] for i, m in enumerate(item["members"], 1)]
    doc.table(["序号", "工单编号", "受理时间", "诉求人", "联系电话", "诉求标题", "状态"], rows,
              widths_cm=[1.2, 3.6, 2.6, 1.8, 2.6, 3.6, 1.6])
    if transfer.get("materials"):
        doc.heading1("四、附件材料")
        doc.paragraph(transfer["materials"])
    doc.paragraph(f"联系人：{transfer['actor_name']}（{centre}）。", indent=True)
    doc.signature(centre, when.date())
    return doc.to_bytes()
