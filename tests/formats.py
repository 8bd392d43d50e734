"""Turn a seed report into the files users actually get: GBK/Big5 text, Word, PDF, a web page."""

from __future__ import annotations

import html
import textwrap
from pathlib import Path


def write_encoded(text: str, path: Path, encoding: str) -> Path:
    """The text in a legacy encoding (characters it lacks become '?', as an export would do)."""
    path.write_bytes(text.encode(encoding, errors="replace"))
    return path


def write_docx(text: str, path: Path, heading_styles: bool = True) -> Path:
    """A Word document, one paragraph per line; 一、 lines in Heading 1 style when asked."""
    import docx

    document = docx.Document()
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        if heading_styles and len(line) < 40 and line[:1] in "一二三四五六七八九十" and line[1:2] == "、":
            document.add_heading(line, level=1)
        else:
            document.add_paragraph(line)
    document.save(path)
    return path


def write_pdf(text: str, path: Path, width: int = 38) -> Path:
    """A PDF with a real text layer, lines wrapped at a page width as a word processor would."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    pdf = canvas.Canvas(str(path))
    y = 800
    for para in text.split("\n"):
        para = para.strip()
        for line in textwrap.wrap(para, width) if para else []:
            if y < 60:
                pdf.showPage()
                y = 800
            pdf.setFont("STSong-Light", 11)
            pdf.drawString(40, y, line)
            y -= 16
        y -= 6
    pdf.showPage()
    pdf.save()
    return path


def write_html(text: str, path: Path, title: str = "法治政府建设") -> Path:
    """A government-site page: navigation, breadcrumb and footer around the report paragraphs."""
    paragraphs = "\n".join(f"<p>{html.escape(line.strip())}</p>" for line in text.split("\n") if line.strip())
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<script>var _hmt = _hmt || [];</script><style>body{{font-size:14px}}</style></head><body>
<header><div class="logo">某市人民政府门户网站</div><nav><a href="/">首页</a> | <a href="/zwgk">政务公开</a> | <a href="/hdjl">互动交流</a></nav></header>
<div class="crumb">您当前的位置：<a href="/">首页</a> &gt; 政务公开 &gt; 法治政府建设</div>
<div class="content"><article>{paragraphs}</article></div>
<aside><h3>相关链接</h3><ul><li><a href="#">国务院</a></li><li><a href="#">广东省人民政府</a></li></ul></aside>
<footer>主办单位：某市人民政府办公室　网站标识码：4401000000　ICP备案号：粤ICP备00000000号</footer>
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
