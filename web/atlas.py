"""The atlas API blueprint: GET /api/atlas, every measure × every column in scope.

Thin handlers: validation here, the computation in search/atlas.py.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from search.atlas import ATLAS_BY, MAX_MEASURES, compute_atlas

from . import get_engine
from .api import FILTER_PARAMS, BadRequest, check_known, error, filters_from
from .openapi import MAX_QUERY_CHARS

bp = Blueprint("atlas_api", __name__, url_prefix="/api")
ATLAS_PARAMS = {"m", "by"} | FILTER_PARAMS


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return error(400, str(exc))


@bp.get("/atlas")
def atlas():
    """GET /api/atlas?m=<measure>&m=…&by=document|issuing_body|region|year + filters.

    A measure may carry aliases after '|': m=农民工|进城务工人员.
    """
    check_known(request.args, ATLAS_PARAMS)
    measures = [m.strip() for m in request.args.getlist("m") if m.strip()]
    if not measures:
        raise BadRequest("'m' is required: one or more measures (m=…&m=…)")
    if len(measures) > MAX_MEASURES:
        raise BadRequest(f"at most {MAX_MEASURES} measures")
    if any(len(m) > MAX_QUERY_CHARS for m in measures):
        raise BadRequest(f"a measure is too long (at most {MAX_QUERY_CHARS} characters)")
    if len(set(measures)) != len(measures):
        measures = list(dict.fromkeys(measures))
    by = request.args.get("by") or "document"
    if by not in ATLAS_BY:
        raise BadRequest(f"'by' must be one of {', '.join(ATLAS_BY)}")
    filters = filters_from(request.args.getlist, request.args.get)
    return jsonify(compute_atlas(get_engine(), measures, by=by, filters=filters).to_json())


# -- the page: /atlas (rows: measures, columns: documents, bodies, regions or years) ------------------
pages = Blueprint("atlas_pages", __name__)
PAGE_MEASURES = 30
STATUS_LABELS = {"strong": "涉及", "weak": "提及", "absent": "未提及"}
BY_LABELS = {"document": "文档", "issuing_body": "发布机关", "region": "地区", "year": "年份"}


def _page_measures() -> list[str]:
    """Measures from repeated m= and from the textarea (one a line), without repeats."""
    lines = list(request.args.getlist("m"))
    for block in request.args.getlist("ms"):
        lines += block.splitlines()
    return list(dict.fromkeys(m.strip() for m in lines if m.strip()))[:PAGE_MEASURES]


def _page_atlas():
    from flask import abort

    from search.atlas import compute_atlas as compute

    measures = _page_measures()
    by = request.args.get("by") or "document"
    if by not in ATLAS_BY:
        abort(400, f"by must be one of {', '.join(ATLAS_BY)}")
    try:
        filters = filters_from(request.args.getlist, request.args.get)
    except BadRequest as exc:
        abort(400, str(exc))
    if any(len(m) > MAX_QUERY_CHARS for m in measures):
        abort(400, "a measure is too long")
    result = compute(get_engine(), measures, by=by, filters=filters) if measures else None
    return measures, by, result


@pages.get("/atlas")
def atlas_page():
    """The atlas grid: a shareable GET URL (m=…&m=…&by=…), cells coloured by status, each linking to its evidence."""
    from urllib.parse import urlencode

    from flask import render_template

    from search.atlas import heading_suggestions

    measures, by, result = _page_atlas()
    engine = get_engine()
    grid = {}
    if result:
        for cell in result.cells:
            grid[(cell["measure"], cell["column"])] = cell
    base = [(k, v) for k, v in request.args.items(multi=True) if k not in ("m", "ms")]
    share = "/atlas?" + urlencode([("m", m) for m in measures] + base) if measures else "/atlas"
    return render_template(
        "atlas.html", measures=measures, by=by, result=result, grid=grid, labels=STATUS_LABELS, by_labels=BY_LABELS,
        suggestions=[s for s in heading_suggestions(engine._state, 24) if s not in measures],
        share=share, csv_url=share.replace("/atlas", "/atlas.csv", 1), add_url=lambda s: "/atlas?" + urlencode(
            [("m", m) for m in measures + [s]] + base),
    )


@pages.get("/atlas.csv")
def atlas_csv():
    """The grid as CSV (UTF-8 with BOM, opens in Excel): one line per cell with the evidence text and its link."""
    import csv
    import io

    from flask import Response, abort, url_for

    measures, by, result = _page_atlas()
    if result is None:
        abort(400, "give at least one measure (m=…)")
    titles = {c["key"]: c["title"] for c in result.columns}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["measure", "column", "title", "status", "状态", "score", "text", "link"])
    for cell in result.cells:
        link = (url_for("pages.document_page", doc_id=cell["doc_id"], p=cell["passage_id"], _external=True)
                + "#" + cell["passage_id"]) if cell.get("passage_id") else ""
        writer.writerow([cell["measure"], cell["column"], titles.get(cell["column"], ""), cell["status"],
                         STATUS_LABELS[cell["status"]], cell["score"], cell["text"] or "", link])
    return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=atlas.csv"})
