"""The HTML blueprint: search page, document view, find-similar results."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, jsonify, render_template, request, url_for
from markupsafe import Markup, escape

from core.errors import IndexUnavailableError, NotFoundError

from .context import get_engine
from .api import MAX_QUERY_CHARS, MAX_TEXT_CHARS, BadRequest, filters_from

bp = Blueprint("pages", __name__)
PAGE_K = 20
PAGE_PER_DOC = 3
MAX_PAGES = 5  # "更多结果" widens the list 20 passages at a time, up to the API's 100


def marked(text: str, spans) -> Markup:
    """`text` HTML-escaped, with each (start, end) span wrapped in <mark>."""
    out, pos = [], 0
    for start, end in spans:
        out += [str(escape(text[pos:start])), "<mark>", str(escape(text[start:end])), "</mark>"]
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


bp.add_app_template_filter(marked, "marked")

FACET_LABELS = {"issuing_body": "发布机关", "region": "地区", "year": "年份", "doc_type": "类型", "script": "文字"}
VALUE_LABELS = {"simplified": "简体", "traditional": "繁体", "mixed": "简繁混合"}


def _page_filters():
    """Filters from the page's query string; malformed ones are a 400 page."""
    try:
        return filters_from(request.args.getlist, request.args.get)
    except BadRequest as exc:
        abort(400, str(exc))


def toggle_url(endpoint: str, name: str, value: str) -> str:
    """The current URL with one facet value switched on or off (years: a one-year range)."""
    items = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
    if name == "year":
        active = request.args.get("year_from") == value and request.args.get("year_to") == value
        items = [(k, v) for k, v in items if k not in ("year_from", "year_to")]
        if not active:
            items += [("year_from", value), ("year_to", value)]
    elif (name, value) in items:
        items.remove((name, value))
    else:
        items.append((name, value))
    return url_for(endpoint) + ("?" + urlencode(items) if items else "")


def facet_active(name: str, value: str) -> bool:
    """Whether a facet value is among the current filters."""
    if name == "year":
        return request.args.get("year_from") == value and request.args.get("year_to") == value
    return value in request.args.getlist(name)


@bp.app_context_processor
def _facet_helpers():
    return {"toggle_url": toggle_url, "facet_active": facet_active, "FACET_LABELS": FACET_LABELS,
            "VALUE_LABELS": VALUE_LABELS}


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _not_found(exc):
    if request.path.startswith("/api/"):
        return jsonify({"error": {"status": exc.code, "message": exc.description}}), exc.code
    return render_template("error.html", message=exc.description, status=exc.code), exc.code


@bp.app_errorhandler(IndexUnavailableError)
def _no_index(exc):
    return render_template("error.html", message=str(exc), status=503), 503


@bp.get("/")
def search_page():
    """The search page; with ?q= it shows results grouped per document (no JavaScript needed)."""
    q = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 1 <= int(page) <= MAX_PAGES else 1
    result, more = None, None
    if q:
        k = PAGE_K * page
        result = get_engine().search(q, k=k, per_doc=PAGE_PER_DOC, filters=_page_filters())
        if len(result.hits) == k and page < MAX_PAGES:
            args = {**request.args.to_dict(flat=False), "page": [str(page + 1)]}
            more = url_for("pages.search_page") + "?" + urlencode(args, doseq=True)
    return render_template("search.html", q=q, result=result, hits=_by_id(result), more=more)


@bp.get("/compare")
def compare_page():
    """One topic across bureaus: the best passage of each document (or issuing body) as a table."""
    q = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
    by = request.args.get("by") if request.args.get("by") in ("document", "issuing_body") else "document"
    result = get_engine().compare(q, by=by, filters=_page_filters()) if q else None
    export = url_for("api.compare", **{k: v for k, v in request.args.items()}, format="csv") if q else None
    return render_template("compare.html", q=q, by=by, result=result, export=export)


@bp.route("/similar", methods=["GET", "POST"])
def similar_page():
    """Find-similar results for ?passage_id= or a posted/selected text."""
    passage_id = request.values.get("passage_id") or None
    text = (request.values.get("text") or "").strip()[:MAX_TEXT_CHARS]
    if not passage_id and not text:
        abort(400, "请选择一个段落或一段文字")
    engine = get_engine()
    try:
        source = engine.passage(passage_id) if passage_id else None
        result = engine.similar(passage_id=passage_id, text=None if passage_id else text, k=PAGE_K, per_doc=2)
    except NotFoundError as exc:
        abort(404, str(exc.args[0]))
    return render_template("similar.html", source=source, text=text, result=result, hits=_by_id(result))


@bp.get("/documents/<doc_id>")
def document_page(doc_id: str):
    """A whole report in its original script; each passage can be sent to find-similar."""
    try:
        doc = get_engine().document(doc_id)
    except NotFoundError as exc:
        abort(404, str(exc.args[0]))
    return render_template(
        "document.html", doc=doc, blocks=_blocks(doc), toc=_toc(doc), focus=request.args.get("p"),
    )


@bp.get("/documents")
def documents_page():
    """The list of indexed documents."""
    return render_template("documents.html", docs=get_engine().documents())


def _by_id(result) -> dict:
    return {h.passage_id: h for h in result.hits} if result else {}


def _toc(doc: dict) -> list[dict]:
    """Table of contents: each heading once, in order, linked to the first passage under it."""
    seen, entries = set(), []
    for p in doc["passages"]:
        for depth in range(1, len(p["heading_path"]) + 1):
            key = tuple(p["heading_path"][:depth])
            if key not in seen:
                seen.add(key)
                entries.append({"depth": depth, "title": key[-1], "target": p["passage_id"]})
    return entries


def _blocks(doc: dict) -> list[dict]:
    """The document text cut into passage blocks and the text between them (headings, titles)."""
    text, pos, blocks = doc["text"], 0, []
    for p in doc["passages"]:
        if p["start"] > pos:
            blocks.append({"text": text[pos : p["start"]], "passage": None})
        blocks.append({"text": text[p["start"] : p["end"]], "passage": p})
        pos = p["end"]
    if pos < len(text):
        blocks.append({"text": text[pos:], "passage": None})
    return blocks
