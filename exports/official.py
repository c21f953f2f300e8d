"""One builder for every printed document in the Chinese official-document look (GB/T 9704-2012).

Letters, supervision lists and county-wide notices all go through ``OfficialDocument`` so the
paper looks the same everywhere: A4, margins 3.7/3.5/2.8/2.6 cm, title 2号 方正小标宋简体 centred,
body 3号 仿宋_GB2312, headings 3号 黑体 / 楷体_GB2312, page numbers "— 1 —" in 4号 宋体.

Phone numbers in any text handed to the builder are masked (138****1234) unless the caller
passes ``mask_phones=False`` (DOMAIN.md: "masked on paper unless the user asks otherwise").

    doc = OfficialDocument("关于……的函", issuer="云岭县12345热线中心", date=date(2026, 9, 30),
                           doc_number="云热督〔2026〕3号")
    doc.heading1("一、基本情况")
    doc.paragraph("……")
    doc.table(["序号", "工单编号"], [["1", "530000-20260930-0001"]], widths_cm=[2, 6])
    doc.signature("云岭县12345热线中心", date(2026, 9, 30))
    data = doc.to_bytes()
"""
from __future__ import annotations

import io
import re
from datetime import date as Date, datetime

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from app.domain.tickets import mask_phone

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
PAGE_NUMBER_FONT = "宋体"

TITLE_SIZE = Pt(22)        # 2号
BODY_SIZE = Pt(16)         # 3号
PAGE_NUMBER_SIZE = Pt(14)  # 4号
TABLE_SIZE = Pt(12)        # 小4号: a list of tickets must fit across an A4 page
LINE_PITCH = Pt(28)        # fixed line spacing that gives the usual 22 lines per page

MARGINS_CM = {"top": 3.7, "bottom": 3.5, "left": 2.8, "right": 2.6}

# Mobile numbers and landlines with area code; the look-arounds keep ID numbers and ticket numbers intact.
_PHONE_IN_TEXT = re.compile(r"(?<![\dXx])(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?![\dXx])")


def chinese_date(d: Date | datetime) -> str:
    """2026年9月30日 — the date form used in official documents (Arabic numerals, no leading zeros)."""
    return f"{d.year}年{d.month}月{d.day}日"


def mask_phones_in(text: str) -> str:
    """Replace every phone number inside free text with its masked form."""
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), text or "")


def set_run_font(run, name: str, size: Pt, *, bold: bool = False) -> None:
    """Font for Latin and East Asian text alike; Word and WPS read the Chinese name from w:eastAsia."""
    run.font.name = name
    run.font.size = size
    run.font.bold = bold
    _east_asia(run._element.get_or_add_rPr(), name)


def _east_asia(rpr, name: str) -> None:
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), name)
    # Theme font attributes would win over the explicit names, so drop any inherited ones.
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)


class OfficialDocument:
    """A .docx in the GB/T 9704 look, built paragraph by paragraph."""

    def __init__(self, title: str, *, issuer: str, date: Date, doc_number: str | None = None,
                 mask_phones: bool = True):
        self.title = title
        self.issuer = issuer
        self.date = date
        self.doc_number = doc_number
        self.mask_phones = mask_phones
        self._doc = Document()
        self._setup_page()
        self._setup_styles()
        self._add_page_number_footer()
        props = self._doc.core_properties
        props.title = title
        props.author = issuer
        props.created = datetime(date.year, date.month, date.day)
        # python-docx's template starts with one empty paragraph; reuse it for the first line.
        self._first = self._doc.paragraphs[0] if self._doc.paragraphs else None
        if doc_number:
            p = self._new_paragraph(WD_ALIGN_PARAGRAPH.CENTER)
            set_run_font(p.add_run(doc_number), BODY_FONT, BODY_SIZE)
            self._new_paragraph(WD_ALIGN_PARAGRAPH.CENTER)
        p = self._new_paragraph(WD_ALIGN_PARAGRAPH.CENTER, line=Pt(35))
        p.style = self._doc.styles["公文标题"]
        set_run_font(p.add_run(self._text(title)), TITLE_FONT, TITLE_SIZE)
        self._new_paragraph(WD_ALIGN_PARAGRAPH.CENTER)  # one empty line between title and body

    # --- page set-up -------------------------------------------------------------------------
    def _setup_page(self) -> None:
        section = self._doc.sections[0]
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Cm(21.0), Cm(29.7)
        section.top_margin = Cm(MARGINS_CM["top"])
        section.bottom_margin = Cm(MARGINS_CM["bottom"])
        section.left_margin = Cm(MARGINS_CM["left"])
        section.right_margin = Cm(MARGINS_CM["right"])
        section.footer_distance = Cm(2.8)
        section.header_distance = Cm(1.5)

    def _setup_styles(self) -> None:
        styles = self._doc.styles
        normal = styles["Normal"]
        normal.font.name = BODY_FONT
        normal.font.size = BODY_SIZE
        _east_asia(normal.element.get_or_add_rPr(), BODY_FONT)
        lang = OxmlElement("w:lang")
        lang.set(qn("w:val"), "en-US")
        lang.set(qn("w:eastAsia"), "zh-CN")
        normal.element.get_or_add_rPr().append(lang)
        fmt = normal.paragraph_format
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = LINE_PITCH
        fmt.space_before = fmt.space_after = Pt(0)
        for name, font, level in (("公文标题", TITLE_FONT, None), ("公文一级标题", HEADING1_FONT, 0),
                                  ("公文二级标题", HEADING2_FONT, 1)):
            style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
            style.base_style = normal
            style.font.name = font
            style.font.size = TITLE_SIZE if level is None else BODY_SIZE
            _east_asia(style.element.get_or_add_rPr(), font)
            if level is not None:
                # An outline level lets Word's navigation pane show the headings.
                ppr = style.element.get_or_add_pPr()
                outline = OxmlElement("w:outlineLvl")
                outline.set(qn("w:val"), str(level))
                ppr.append(outline)

    def _add_page_number_footer(self) -> None:
        footer = self._doc.sections[0].footer
        p = footer.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        set_run_font(p.add_run("— "), PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)
        for kind, text in (("begin", None), ("instr", " PAGE "), ("separate", None), ("text", "1"),
                           ("end", None)):
            run = p.add_run()
            set_run_font(run, PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)
            if kind == "instr":
                instr = OxmlElement("w:instrText")
                instr.set(qn("xml:space"), "preserve")
                instr.text = text
                run._element.append(instr)
            elif kind == "text":
                run.text = text
            else:
                fld = OxmlElement("w:fldChar")
                fld.set(qn("w:fldCharType"), kind)
                run._element.append(fld)
        set_run_font(p.add_run(" —"), PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)

    # --- content -----------------------------------------------------------------------------
    def _text(self, text: str) -> str:
        return mask_phones_in(text) if self.mask_phones else (text or "")

    def _new_paragraph(self, align=None, *, line: Pt | None = None):
        if self._first is not None:
            p, self._first = self._first, None
        else:
            p = self._doc.add_paragraph()
        if align is not None:
            p.alignment = align
        if line is not None:
            p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
            p.paragraph_format.line_spacing = line
        return p

    def heading1(self, text: str) -> None:
        """Level-1 heading (一、…): 3号 黑体, indented two characters like the body."""
        p = self._new_paragraph()
        p.style = self._doc.styles["公文一级标题"]
        p.paragraph_format.first_line_indent = BODY_SIZE * 2
        set_run_font(p.add_run(self._text(text)), HEADING1_FONT, BODY_SIZE)

    def heading2(self, text: str) -> None:
        """Level-2 heading (（一）…): 3号 楷体_GB2312, indented two characters."""
        p = self._new_paragraph()
        p.style = self._doc.styles["公文二级标题"]
        p.paragraph_format.first_line_indent = BODY_SIZE * 2
        set_run_font(p.add_run(self._text(text)), HEADING2_FONT, BODY_SIZE)

    def paragraph(self, text: str, indent: bool = True) -> None:
        """Body text in 3号 仿宋_GB2312; first line indented two characters unless indent=False."""
        p = self._new_paragraph(WD_ALIGN_PARAGRAPH.JUSTIFY)
        if indent:
            p.paragraph_format.first_line_indent = BODY_SIZE * 2
        set_run_font(p.add_run(self._text(text)), BODY_FONT, BODY_SIZE)

    def table(self, headers: list[str], rows: list[list[str]], widths_cm: list[float] | None = None) -> None:
        """A bordered table; the header row (黑体) repeats on every page and rows never split."""
        table = self._doc.add_table(rows=1 + len(rows), cols=len(headers))
        table.style = self._doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        if widths_cm:
            table.autofit = False
        for r, values in enumerate([headers, *rows]):
            row = table.rows[r]
            tr_pr = row._tr.get_or_add_trPr()
            flag = OxmlElement("w:cantSplit")
            tr_pr.append(flag)
            if r == 0:
                tr_pr.append(OxmlElement("w:tblHeader"))
            for c in range(len(headers)):
                cell = row.cells[c]
                if widths_cm and c < len(widths_cm):
                    cell.width = Cm(widths_cm[c])
                value = values[c] if c < len(values) else ""
                p = cell.paragraphs[0]
                p.alignment = WD_ALIGN_PARAGRAPH.CENTER if r == 0 else WD_ALIGN_PARAGRAPH.LEFT
                p.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
                p.paragraph_format.first_line_indent = Pt(0)
                set_run_font(p.add_run(self._text(str(value))),
                             HEADING1_FONT if r == 0 else BODY_FONT, TABLE_SIZE)
        self._new_paragraph()  # Word needs a paragraph between a table and what follows

    def signature(self, org: str, date: Date) -> None:
        """Issuing organisation and date at the lower right, four characters from the right margin."""
        self._new_paragraph()
        self._new_paragraph()
        for text in (org, chinese_date(date)):
            p = self._new_paragraph(WD_ALIGN_PARAGRAPH.RIGHT)
            p.paragraph_format.right_indent = BODY_SIZE * 4
            set_run_font(p.add_run(self._text(text)), BODY_FONT, BODY_SIZE)

    def to_bytes(self) -> bytes:
        """The finished .docx file."""
        buf = io.BytesIO()
        self._doc.save(buf)
        return buf.getvalue()
