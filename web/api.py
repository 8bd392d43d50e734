"""The JSON API (/api/...): thin handlers over the engine; the contract is declared in web/contract.py."""

from __future__ import annotations

import csv
import io
from datetime import date
from urllib.parse import quote

from flask import Response, jsonify, url_for
from flask_openapi3 import APIBlueprint, Tag

from .context import get_engine
from .contract import (
    CompareQuery, CompareResponse, DocumentPath, DocumentResponse, DocumentsResponse, ErrorResponse,
    HealthResponse, PassagePath, PassageResponse, SearchQuery, SearchResponse, SimilarBody,
)

ERRORS = {400: ErrorResponse, 405: ErrorResponse, 413: ErrorResponse, 503: ErrorResponse}  # every operation's
NOT_FOUND = {404: ErrorResponse}
bp = APIBlueprint("api", __name__, url_prefix="/api", abp_tags=[Tag(name="search")], abp_responses=ERRORS)

COMPARE_COLUMNS = {  # CSV header (Chinese, for the people who open it in Excel) ← row field
    "rank": "排名", "issuing_body": "发布机关", "region": "地区", "year": "年份", "title": "文档", "heading": "标题路径",
    "text": "段落", "score": "相关度", "doc_id": "文档编号", "passage_id": "段落编号", "match": "匹配程度",
}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a cell starting so is a formula in Excel (CSV injection)


@bp.get("/health", responses={200: HealthResponse})
def health():
    """Index version, sizes and model; `ready` once the encoder is loaded and warmed."""
    return jsonify(get_engine().health())


@bp.get("/ready", responses={200: HealthResponse})
def ready():
    """200 once the server can answer searches at full speed, 503 (with Retry-After) before that."""
    engine = get_engine()
    body = engine.health()
    if not engine.ready:
        return jsonify({"error": {"status": 503, "message": "warming up"}}), 503, {"Retry-After": "2"}
    return jsonify(body)


@bp.get("/search", responses={200: SearchResponse})
def search(query: SearchQuery):
    """Hybrid search: BM25 and dense rankings fused; `per_doc` caps passages per document."""
    result = get_engine().search(query.q, k=query.k, per_doc=query.per_doc or None, filters=query.filters(),
                                 explain=query.explain, min_match=query.min_match, offset=query.offset, sort=query.sort)
    return jsonify(result.to_json())


@bp.get("/compare", responses={200: CompareResponse})
def compare(query: CompareQuery):
    """Each document's (or issuing body's) best passage on a topic, most relevant first."""
    result = get_engine().compare(query.q, by=query.by, filters=query.filters(), limit=query.limit,
                                  min_match=query.min_match)
    rows = [
        {"rank": i, "issuing_body": h.issuing_body, "region": h.region, "year": h.year, "title": h.title,
         "heading": " › ".join(h.heading_path), "text": h.text, "score": h.score, "doc_id": h.doc_id,
         "passage_id": h.passage_id, "match": h.match or ""}
        for i, h in enumerate(result.hits, 1)
    ]
    absent = result.absent or []
    if query.format == "csv":
        link = url_for("pages.compare_page", _external=True, q=query.q, by=query.by)
        rows += [{"rank": "", "issuing_body": a["issuing_body"], "region": a["region"], "year": a["year"],
                  "title": a["title"], "heading": "", "text": "未提及", "score": "", "doc_id": a["doc_id"] or "",
                  "passage_id": "", "match": "absent"} for a in absent]
        return csv_response(rows, COMPARE_COLUMNS, f"对比-{query.q}", [("检索词", query.q), ("分组", query.by)]
                            + [(k, ",".join(map(str, v)) if isinstance(v, list) else str(v))
                               for k, v in result.filters.to_json().items()] + [("链接", link)])
    return jsonify(CompareResponse(query=query.q, by=query.by, filters=result.filters.to_json(), count=len(rows),
                                   rows=rows, facets=result.facets, min_match=result.min_match,
                                   absent=absent).model_dump())


@bp.post("/similar", responses={200: SearchResponse, **NOT_FOUND})
def similar(body: SimilarBody):
    """Passages like a stored passage (other documents only) or like a selected text, grouped per document."""
    options = {"k": body.k, "per_doc": body.per_doc or None, "filters": body.filters.filters(), "explain": body.explain,
               "min_match": body.min_match, "include_same_doc": body.include_same_doc}
    if body.passage_id is not None:
        result = get_engine().similar(passage_id=body.passage_id, **options)
    else:
        result = get_engine().similar(text=body.text, doc_id=body.doc_id, **options)
    return jsonify(result.to_json())


@bp.get("/passages/<passage_id>", responses={200: PassageResponse, **NOT_FOUND})
def passage(path: PassagePath):
    """One passage with its document's metadata."""
    return jsonify(get_engine().passage(path.passage_id))


@bp.get("/documents", responses={200: DocumentsResponse})
def documents():
    """All indexed documents (metadata only)."""
    docs = get_engine().documents()
    return jsonify({"count": len(docs), "documents": docs})


@bp.get("/documents/<doc_id>", responses={200: DocumentResponse, **NOT_FOUND})
def document(path: DocumentPath):
    """One document: metadata, cleaned text and passage spans."""
    return jsonify(get_engine().document(path.doc_id))


def safe_cell(value: object) -> object:
    """A CSV cell that Excel will not run as a formula: text starting with = + - @ gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_response(rows: list[dict], columns: dict[str, str], title: str, about: list[tuple[str, str]]) -> Response:
    """Rows as a UTF-8 CSV with a BOM (Excel), Chinese headers, what was asked first, a dated file name."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for label, value in about:
        writer.writerow([safe_cell(label), safe_cell(value)])
    writer.writerow([])
    writer.writerow(columns.values())
    for row in rows:
        writer.writerow([safe_cell(row[c]) for c in columns])
    name = f"{title}-{date.today().isoformat()}.csv"
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"})
