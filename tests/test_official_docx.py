"""The shared official-document builder: reopen its bytes with python-docx and check the GB/T 9704 look."""
from __future__ import annotations

import io
from datetime import date

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from exports.official import OfficialDocument, chinese_date, mask_phones_in


def build(**kw) -> Document:
    doc = OfficialDocument("关于重点督办事项的函", issuer="云岭县12345热线中心", date=date(2026, 9, 30),
                           doc_number="云热督〔2026〕3号", **kw)
    doc.heading1("一、基本情况")
    doc.heading2("（一）来电情况")
    doc.paragraph("诉求人张三（13812345678）反映水管破裂。")
    doc.table(["序号", "工单编号", "电话"], [["1", "YL-20260930-0001", "13812345678"]], widths_cm=[2, 6, 5])
    doc.signature("云岭县12345热线中心", date(2026, 9, 30))
    return Document(io.BytesIO(doc.to_bytes()))


def east_asia(run) -> str:
    return run._element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia"))


def para(doc, text):
    return next(p for p in doc.paragraphs if text in p.text)


def test_margins_and_a4():
    s = build().sections[0]
    assert (round(s.page_width.cm, 1), round(s.page_height.cm, 1)) == (21.0, 29.7)
    for attr, cm in (("top_margin", 3.7), ("bottom_margin", 3.5), ("left_margin", 2.8), ("right_margin", 2.6)):
        assert abs(getattr(s, attr) - Cm(cm)) < Cm(0.01), attr


@pytest.mark.parametrize("text, font, size", [
    ("关于重点督办事项的函", "方正小标宋简体", 22),
    ("一、基本情况", "黑体", 16),
    ("（一）来电情况", "楷体_GB2312", 16),
    ("诉求人张三", "仿宋_GB2312", 16),
    ("云岭县12345热线中心", "仿宋_GB2312", 16),
])
def test_fonts(text, font, size):
    run = para(build(), text).runs[0]
    assert east_asia(run) == font and run.font.name == font
    assert run.font.size == Pt(size)


def test_title_centred_and_doc_number_before_it():
    doc = build()
    texts = [p.text for p in doc.paragraphs if p.text]
    assert texts[:2] == ["云热督〔2026〕3号", "关于重点督办事项的函"]
    assert para(doc, "关于重点督办事项的函").alignment == 1  # CENTER


def test_phone_masked_everywhere_on_paper():
    doc = build()
    assert "138****5678" in para(doc, "诉求人张三").text
    cells = [c.text for row in doc.tables[0].rows for c in row.cells]
    assert cells == ["序号", "工单编号", "电话", "1", "YL-20260930-0001", "138****5678"]
    assert "13812345678" not in "".join(p.text for p in doc.paragraphs)


def test_phone_kept_when_asked():
    assert "13812345678" in para(build(mask_phones=False), "诉求人张三").text


def test_footer_page_field_in_songti_4():
    footer = build().sections[0].footer.paragraphs[0]
    xml = footer._p.xml
    assert "PAGE" in "".join(t.text for t in footer._p.iter(qn("w:instrText")))
    assert xml.count('w:fldCharType="begin"') == 1 and 'w:fldCharType="end"' in xml
    assert footer.text.startswith("— ") and footer.text.endswith(" —")
    for run in footer.runs:
        assert east_asia(run) == "宋体" and run.font.size == Pt(14)


def test_signature_and_date():
    doc = build()
    texts = [p.text for p in doc.paragraphs if p.text]
    assert texts[-2:] == ["云岭县12345热线中心", "2026年9月30日"]
    assert doc.core_properties.author == "云岭县12345热线中心"


@pytest.mark.parametrize("text, expected", [
    ("电话13812345678。", "电话138****5678。"),
    ("座机0871-65123456", "座机087*****3456"),
    ("身份证53010219900101123X", "身份证53010219900101123X"),
    ("工单YL-20260930-0001", "工单YL-20260930-0001"),
])
def test_mask_phones_in(text, expected):
    assert mask_phones_in(text) == expected


def test_chinese_date():
    assert chinese_date(date(2026, 1, 5)) == "2026年1月5日"
