"""The HTML blueprint: search page, document view, find-similar results."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, abort, render_template, request, url_for
from markupsafe import Markup, escape
from pydantic import ValidationError

from core.errors import NotFoundError
from core.filters import LIST_FIELDS, Filters

from .context import get_engine
from .contract import MAX_QUERY_CHARS, MAX_TEXT_CHARS, FilterParams, problem

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


# The only request parameters a page carries into the links it builds (never the request's own arguments:
# `endpoint=`, `_method=` or `_external=` would steer url_for).
LINK_PARAMS = ("q", "by") + LIST_FIELDS + ("year_from", "year_to")


def link_args(*drop: str) -> list[tuple[str, str]]:
    """The allow-listed parameters of this request, as (name, value) pairs."""
    return [(k, v) for k, v in request.args.items(multi=True) if k in LINK_PARAMS and k not in drop]


def page_url(endpoint: str, items: list[tuple[str, str]]) -> str:
    """A page URL with these query parameters."""
    return url_for(endpoint) + ("?" + urlencode(items) if items else "")


def _page_filters() -> Filters:
    """Filters from the page's query string (the API's model); malformed ones are a styled 400 page."""
    given = {name: request.args.getlist(name) for name in LIST_FIELDS}
    for name in ("year_from", "year_to"):
        if request.args.get(name):
            given[name] = request.args.get(name)
    try:
        return FilterParams.model_validate(given).filters()
    except ValidationError as exc:
        abort(400, problem(exc))


def page_query() -> tuple[str, str]:
    """The query of a page and, when it had to be shortened, a note saying so."""
    q = (request.args.get("q") or "").strip()
    if len(q) > MAX_QUERY_CHARS:
        return q[:MAX_QUERY_CHARS], f"检索词过长，已截取前 {MAX_QUERY_CHARS} 个字。查找相似段落请使用“相似举措”。"
    return q, ""


def toggle_url(endpoint: str, name: str, value: str) -> str:
    """The current URL with one facet value switched on or off (years: a one-year range)."""
    items = link_args("page")
    if name == "year":
        active = request.args.get("year_from") == value and request.args.get("year_to") == value
        items = [(k, v) for k, v in items if k not in ("year_from", "year_to")]
        if not active:
            items += [("year_from", value), ("year_to", value)]
    elif (name, value) in items:
        items.remove((name, value))
    else:
        items.append((name, value))
    return page_url(endpoint, items)


def facet_active(name: str, value: str) -> bool:
    """Whether a facet value is among the current filters."""
    if name == "year":
        return request.args.get("year_from") == value and request.args.get("year_to") == value
    return value in request.args.getlist(name)


@bp.app_context_processor
def _facet_helpers():
    return {"toggle_url": toggle_url, "facet_active": facet_active, "FACET_LABELS": FACET_LABELS,
            "VALUE_LABELS": VALUE_LABELS}


@bp.get("/")
def search_page():
    """The search page; with ?q= it shows results grouped per document (no JavaScript needed)."""
    q, note = page_query()
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 1 <= int(page) <= MAX_PAGES else 1
    result, more = None, None
    if q:
        k = PAGE_K * page
        result = get_engine().search(q, k=k, per_doc=PAGE_PER_DOC, filters=_page_filters())
        if len(result.hits) == k and page < MAX_PAGES:
            more = page_url("pages.search_page", link_args("page") + [("page", str(page + 1))])
    compare = page_url("pages.compare_page", link_args("page", "by")) if q else None
    return render_template("search.html", q=q, note=note, result=result, hits=_by_id(result), more=more,
                           compare=compare)


@bp.get("/compare")
def compare_page():
    """One topic across bureaus: the best passage of each document (or issuing body) as a table."""
    q, note = page_query()
    by = request.args.get("by") if request.args.get("by") in ("document", "issuing_body") else "document"
    result = get_engine().compare(q, by=by, filters=_page_filters()) if q else None
    export = page_url("api.compare", link_args("q", "by") + [("q", q), ("by", by), ("format", "csv")]) if q else None
    return render_template("compare.html", q=q, note=note, by=by, result=result, export=export)


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
