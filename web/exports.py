"""Export what the page shows: search results and compare, as CSV or XLSX (Excel).

Each file starts with what was asked (query, filters, order, page) and a link back to the page, then a blank
row, then the rows under Chinese headers. The file name carries the query and the date. CSV reuses the API's
`csv_response` (UTF-8 with a BOM, cells that would be formulas defused); XLSX is written with openpyxl.
"""

from __future__ import annotations

import io
import re
from datetime import date
from urllib.parse import quote

from flask import Blueprint, Response, abort, request, url_for

from .api import csv_response
from .pages import FACET_LABELS, SORT_LABELS, VALUE_LABELS, compare_view, search_view

bp = Blueprint("exports", __name__, url_prefix="/export")

SEARCH_COLUMNS = {  # field → header
    "rank": "序号", "title": "文档", "issuing_body": "发布机关", "region": "地区", "year": "年份",
    "published": "发布日期", "heading": "标题路径", "text": "段落", "matched": "匹配词", "link": "原文链接",
}
COMPARE_COLUMNS = {  # the API's CSV headers for the same fields, plus what the page shows besides
    "rank": "排名", "issuing_body": "发布机关", "region": "地区", "year": "年份", "title": "文档", "heading": "标题路径",
    "text": "段落", "matched": "匹配词", "others": "其他相关段落数", "link": "原文链接",
}
FILTER_LABELS = {**FACET_LABELS, "year_from": "起始年份", "year_to": "截止年份"}
BY_LABELS = {"document": "每份文档一行", "issuing_body": "每个发布机关一行"}
FILE_UNSAFE = re.compile(r'[\\/:*?"<>|\s]+')
NAME_QUERY_CHARS = 40  # a file name keeps this much of the query
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _format() -> str:
    fmt = request.args.get("format", "csv")
    if fmt not in ("csv", "xlsx"):
        abort(400, "导出格式应为 csv 或 xlsx")
    return fmt


def _filters_about(filters) -> list[tuple[str, str]]:
    return [(FILTER_LABELS.get(k, k), "、".join(VALUE_LABELS.get(x, x) for x in v) if isinstance(v, list) else str(v))
            for k, v in filters.to_json().items()]


def _back_link(endpoint: str) -> str:
    """The page this export was taken from: the same parameters, without `format`."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "format"]
    return url_for(endpoint, _external=True) + "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in args)


def _doc_link(hit, q: str) -> str:
    link = url_for("pages.document_page", doc_id=hit.doc_id, p=hit.passage_id, q=q, _external=True)
    return f"{link}#{hit.passage_id}"


@bp.get("/search")
def search_export():
    """The search page's current page of results (its order, filters and page) as CSV or XLSX."""
    fmt = _format()
    view = search_view()
    if not view["q"]:
        abort(400, "请先输入检索词")
    result = view["result"]
    page_link = _back_link("pages.search_page")
    rows = [
        {"rank": result.offset + i, "title": h.title, "issuing_body": h.issuing_body, "region": h.region,
         "year": h.year, "published": h.published, "heading": " › ".join(h.heading_path), "text": h.text,
         "matched": "、".join(h.matched_terms), "link": _doc_link(h, view["q"])}
        for i, h in enumerate(result.hits, 1)
    ]
    about = [("检索词", view["q"]), *_filters_about(result.filters), ("排序", SORT_LABELS[view["sort"]]),
             ("页码", f"第 {view['page']} 页，共 {view['pages']} 页（{result.total} 个段落）"), ("链接", page_link)]
    return _respond(fmt, rows, SEARCH_COLUMNS, f"检索-{view['q']}", about, "检索结果")


@bp.get("/compare")
def compare_export():
    """The compare table (one row per document or issuing body) as CSV or XLSX."""
    fmt = _format()
    view = compare_view()
    if not view["q"]:
        abort(400, "请先输入对比主题")
    result = view["result"]
    rows = [
        {"rank": i, "issuing_body": h.issuing_body, "region": h.region, "year": h.year, "title": h.title,
         "heading": " › ".join(h.heading_path), "text": h.text, "matched": "、".join(h.matched_terms),
         "others": len(view["others"].get(h.passage_id, [])), "link": _doc_link(h, view["q"])}
        for i, h in enumerate(result.hits, 1)
    ]
    page_link = _back_link("pages.compare_page")
    about = [("对比主题", view["q"]), ("分组", BY_LABELS[view["by"]]), *_filters_about(result.filters),
             ("排序", SORT_LABELS[view["sort"]]), ("链接", page_link)]
    return _respond(fmt, rows, COMPARE_COLUMNS, f"对比-{view['q']}", about, "各单位对比")


def file_title(title: str) -> str:
    """A title fit for a file name: no path or shell characters, the query shortened."""
    kind, _, query = title.partition("-")
    return f"{kind}-{FILE_UNSAFE.sub('_', query).strip('_.')[:NAME_QUERY_CHARS] or '检索'}"


def _respond(fmt: str, rows: list[dict], columns: dict[str, str], title: str, about, sheet: str) -> Response:
    title = file_title(title)
    if fmt == "csv":
        return csv_response(rows, columns, title, about)
    return xlsx_response(rows, columns, title, about, sheet)


def xlsx_response(rows: list[dict], columns: dict[str, str], title: str, about, sheet: str) -> Response:
    """Rows as an XLSX workbook: what was asked, a blank row, bold Chinese headers (frozen), wrapped text."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for label, value in about:
        ws.append([label, value])
        ws.cell(ws.max_row, 1).font = Font(bold=True)
    ws.append([])
    ws.append(list(columns.values()))
    header = ws.max_row
    for cell in ws[header]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([row[c] for c in columns])
    for line in ws.iter_rows():
        for cell in line:
            if cell.data_type == "f":  # text that starts with "=" is text here, never a formula
                cell.data_type = "s"
            if isinstance(cell.value, str) and len(cell.value) > 30:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = ws.cell(header + 1, 1)
    widths = {"text": 80, "title": 30, "heading": 30, "issuing_body": 20, "link": 40}
    for i, name in enumerate(columns, 1):
        ws.column_dimensions[ws.cell(header, i).column_letter].width = widths.get(name, 12)
    buffer = io.BytesIO()
    wb.save(buffer)
    name = f"{title}-{date.today().isoformat()}.xlsx"
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    return Response(buffer.getvalue(), mimetype=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"})
