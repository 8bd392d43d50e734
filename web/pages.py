"""The HTML blueprint: search page, document view, find-similar results."""

from __future__ import annotations

from urllib.parse import urlencode

import math

from flask import Blueprint, abort, render_template, request, url_for
from markupsafe import Markup, escape
from pydantic import ValidationError

from core.errors import NotFoundError
from core.filters import LIST_FIELDS, Filters
from core.textform import to_simplified, tokenize_query
from search import exclusions
from search import match as matching
from search.engine import MAX_K, SORTS, sort_value
from search.highlight import held_terms, highlight_spans

from .context import get_engine
from .contract import MAX_QUERY_CHARS, MAX_TEXT_CHARS, YEAR_MAX, YEAR_MIN, FilterParams, problem
from .examples import example_queries

bp = Blueprint("pages", __name__)
PAGE_K = 20  # passages a page
PAGE_PER_DOC = 3  # default passages a document on the search page
PER_DOC_CHOICES = {"1": 1, "3": 3, "10": 10, "0": 0}  # 0: no limit
MAX_PAGES = 50  # the ranked list is a few hundred passages at most
SORT_LABELS = {"relevance": "相关度", "date": "发布日期（新→旧）", "region": "地区", "body": "发布机关"}
RELEVANT_SHARE = 0.5  # an extra passage counts as relevant when it holds at least this share of the query's words
COMPARE_MORE = 8  # a body's other relevant passages shown under its row in compare
assert tuple(SORT_LABELS) == SORTS


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
LINK_PARAMS = ("q", "by", "sort", "per_doc", "page") + LIST_FIELDS + ("year_from", "year_to")


def link_args(*drop: str) -> list[tuple[str, str]]:
    """The allow-listed parameters of this request, as (name, value) pairs."""
    return [(k, v) for k, v in request.args.items(multi=True) if k in LINK_PARAMS and k not in drop]


def atlas_url(measure: str, by: str | None = None) -> str:
    """The measure atlas of one topic over this page's filters (columns by `by` where the atlas has it)."""
    items = [("m", measure)] + [(k, v) for k, v in link_args() if k in LIST_FIELDS + ("year_from", "year_to")]
    return page_url("atlas_pages.atlas_page", items + ([("by", by)] if by else []))


def page_url(endpoint: str, items: list[tuple[str, str]], **path) -> str:
    """A page URL (`path`: its path parameters) with these query parameters."""
    return url_for(endpoint, **path) + ("?" + urlencode(items) if items else "")


def _page_filters() -> Filters:
    """Filters from the page's query string (the API's model); malformed ones are a styled 400 page."""
    given = {name: request.args.getlist(name) for name in LIST_FIELDS}
    for name in ("year_from", "year_to"):
        if request.args.get(name):
            given[name] = request.args.get(name)
    try:
        return FilterParams.model_validate(given).filters()
    except ValidationError as exc:
        abort(400, page_problem(exc))


def page_problem(exc: ValidationError) -> str:
    """A filter error as a reader of the page is told it, in Chinese (the parameter named as on the page)."""
    err = exc.errors(include_url=False)[0]
    name = str(err.get("loc", ("",))[0])
    if name in ("year_from", "year_to"):
        label = "起始年份" if name == "year_from" else "截止年份"
        return f"{label}应为 {YEAR_MIN}–{YEAR_MAX} 之间的整数，收到的是“{err.get('input')}”。"
    return f"筛选条件有误：{problem(exc)}"


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


def without_url(endpoint: str, *names: str) -> str:
    """The current URL without these parameters (and back on the first page)."""
    return page_url(endpoint, link_args("page", *names))


def facet_active(name: str, value: str) -> bool:
    """Whether a facet value is among the current filters."""
    if name == "year":
        return request.args.get("year_from") == value and request.args.get("year_to") == value
    return value in request.args.getlist(name)


# What a weak hit or cell is (docs/atlas.md: most are graded absent): the tooltip of every 可能相关 mark
WEAK_TITLE = "与检索内容相近，但未确认写到：请核对原文；加引号只看写出该名称的段落和文档"
ATLAS_LINK_TITLE = "每份文档一格：涉及、可能相关或未提及"  # what the 措施图谱 link beside a result list opens


@bp.app_context_processor
def _facet_helpers():
    return {"toggle_url": toggle_url, "without_url": without_url, "facet_active": facet_active,
            "FACET_LABELS": FACET_LABELS, "VALUE_LABELS": VALUE_LABELS, "WEAK_TITLE": WEAK_TITLE,
            "ATLAS_LINK_TITLE": ATLAS_LINK_TITLE}


def choice(name: str, allowed, default: str) -> str:
    """A page option from the query string, or its default when absent or unknown."""
    value = request.args.get(name, default)
    return value if value in allowed else default


def page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and 1 <= int(value) <= MAX_PAGES else 1


def pager(page: int, pages: int) -> list[dict]:
    """Links of a pager: previous, the pages around this one (with the first and last), next."""
    base = link_args("page")
    url = lambda n: page_url("pages.search_page", base + ([("page", str(n))] if n > 1 else []))  # noqa: E731
    shown = sorted({1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)})
    links, last = [], 0
    if page > 1:
        links.append({"label": "上一页", "url": url(page - 1), "rel": "prev"})
    for n in shown:
        if n - last > 1:
            links.append({"label": "…", "url": None})
        links.append({"label": str(n), "url": url(n), "current": n == page})
        last = n
    if page < pages:
        links.append({"label": "下一页", "url": url(page + 1), "rel": "next"})
    return links


def relevant(hit, words: list[str]) -> bool:
    """Whether a passage holds enough of the query's words to be shown as relevant (审查 alone is not 公平竞争审查)."""
    folded = to_simplified(hit.text).lower()
    return bool(words) and sum(w in folded for w in words) >= RELEVANT_SHARE * len(words)


def topic(q: str) -> str:
    """The query less its exclusions (-词): what a page marks and compares."""
    return exclusions.split(q)[0]


def query_words(q: str) -> list[str]:
    """The words a passage must mostly hold to count as relevant: the query's, less its exclusions (-词)."""
    return sorted({w for w in tokenize_query(topic(q)) if len(w) >= 2})


def search_view() -> dict:
    """What the search page shows (and its export writes): one page of the ranked list, its order and filters."""
    q, note = page_query()
    view = {"q": q, "note": note, "result": None, "page": 1, "pages": 0, "sort": choice("sort", SORTS, "relevance"),
            "per_doc": choice("per_doc", PER_DOC_CHOICES, str(PAGE_PER_DOC)), "more_in_doc": {}, "only_excluded": False}
    if not q:
        return view
    engine, filters, page = get_engine(), _page_filters(), page_number()
    per_doc = PER_DOC_CHOICES[view["per_doc"]] or None
    result = engine.search(q, k=PAGE_K, per_doc=per_doc, filters=filters, offset=(page - 1) * PAGE_K,
                           sort=view["sort"])
    view.update(result=result, page=page, pages=max(1, math.ceil(result.total / PAGE_K)),
                only_excluded=bool(result.excluded) and not topic(q))
    if per_doc and result.hits:  # "more from this report": its passages that contain the query's words
        shown = {h.passage_id for h in result.hits}
        for h in more_relevant(engine, q, filters, shown):
            view["more_in_doc"][h.doc_id] = view["more_in_doc"].get(h.doc_id, 0) + 1
    return view


def more_relevant(engine, q: str, filters: Filters, shown: set[str], doc_id: str | None = None) -> list:
    """Passages of the query's best 100 that hold enough of its words, minus those shown (of one document)."""
    words = query_words(q)
    return [h for h in engine.search(q, k=MAX_K, filters=filters).hits
            if h.passage_id not in shown and (doc_id is None or h.doc_id == doc_id) and relevant(h, words)]


@bp.get("/documents/<doc_id>/more")
def more_from_document(doc_id: str):
    """The rest of a report's relevant passages for a query, as a fragment the search page expands in place."""
    q, _ = page_query()
    if not q:
        abort(400, "请先输入检索词")
    shown = set(filter(None, request.args.get("shown", "").split(",")))
    hits = more_relevant(get_engine(), q, _page_filters(), shown, doc_id)
    return render_template("_more.html", hits=hits, q=q, match_tags=True)


@bp.get("/")
def search_page():
    """The search page; with ?q= one page of results grouped per document (no JavaScript needed)."""
    view = search_view()
    q, result = view["q"], view["result"]
    links = {}
    if q:
        links = {
            # compare judges whole documents, so it takes the topic without the exclusions (-词)
            "compare": page_url("pages.compare_page", link_args("page", "by", "per_doc", "q")
                                + [("q", topic(q))]),
            "atlas": atlas_url(topic(q)),
            "csv": page_url("exports.search_export", link_args() + [("format", "csv")]),
            "xlsx": page_url("exports.search_export", link_args() + [("format", "xlsx")]),
            "pager": pager(view["page"], view["pages"]) if view["pages"] > 1 else [],
        }
    examples = [] if q else example_queries(get_engine())
    more_url = lambda doc_id, shown: page_url(  # noqa: E731  (a report's other relevant passages, expanded in place)
        "pages.more_from_document", link_args("page", "sort", "per_doc", "by") + [("shown", ",".join(shown))],
        doc_id=doc_id)
    return render_template("search.html", **view, hits=_by_id(result), links=links, examples=examples, more_url=more_url,
                           match_tags=True,
                           SORT_LABELS=SORT_LABELS, PER_DOC_CHOICES=PER_DOC_CHOICES, refine=refine_fields(),
                           autofocus=not q)  # the first screen only: elsewhere Tab starts at the skip link


def refine_fields() -> list[tuple[str, str]]:
    """The list filters a sort/year form must carry along as hidden fields."""
    return [(k, v) for k, v in request.args.items(multi=True) if k in LIST_FIELDS]


def compare_view() -> dict:
    """What the compare page shows (and its export writes): each row's best passage and its other relevant ones."""
    q, note = page_query()
    by = request.args.get("by") if request.args.get("by") in ("document", "issuing_body") else "document"
    view = {"q": q, "note": note, "by": by, "result": None, "others": {}, "sort": choice("sort", SORTS, "relevance")}
    if not q:
        return view
    engine, filters = get_engine(), _page_filters()
    result = engine.compare(q, by=by, filters=filters)
    if view["sort"] != "relevance":  # one row per document or body: the rows themselves are the whole list
        result.hits.sort(key=lambda h: sort_value(view["sort"], h.published, h.year, h.region, h.issuing_body))
    key = (lambda h: h.issuing_body or h.doc_id) if by == "issuing_body" else (lambda h: h.doc_id)
    rows = {key(h): h.passage_id for h in result.hits}
    pool, words = engine.search(q, k=MAX_K, filters=filters), query_words(q)
    for h in pool.hits:  # every other passage of the row's document (or body) that holds the query's words
        row = key(h)
        if row in rows and h.passage_id != rows[row] and relevant(h, words):
            view["others"].setdefault(rows[row], []).append(h)
    view.update(result=result)
    return view


@bp.get("/compare")
def compare_page():
    """One topic across bureaus: the best passage of each document (or issuing body), the others expandable."""
    view = compare_view()
    links = {}
    if view["q"]:
        items = link_args("q", "by", "page", "per_doc") + [("q", view["q"]), ("by", view["by"])]
        links = {"csv": page_url("exports.compare_export", items + [("format", "csv")]),
                 "xlsx": page_url("exports.compare_export", items + [("format", "xlsx")]),
                 "atlas": atlas_url(view["q"], view["by"])}
    return render_template("compare.html", **view, links=links, more_limit=COMPARE_MORE, SORT_LABELS=SORT_LABELS,
                           refine=refine_fields())


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
    q = (request.values.get("q") or "").strip()[:MAX_QUERY_CHARS]  # the reader's query stays in the search box
    return render_template("similar.html", source=source, text=text, result=result, hits=_by_id(result), q=q)


@bp.get("/documents/<doc_id>")
def document_page(doc_id: str):
    """A whole report in its original script; each passage can be sent to find-similar."""
    try:
        doc = get_engine().document(doc_id)
    except NotFoundError:
        abort(404, f"索引中没有这份文档：{doc_id}")
    q, note = page_query()
    blocks, marks = _blocks(doc, report_marks(topic(q), doc["text"]) if q else [])  # never an excluded word
    return render_template(
        "document.html", doc=doc, blocks=blocks, marks=marks, toc=_toc(doc), focus=request.args.get("p"), q=q,
        note=note, plain=url_for("pages.document_page", doc_id=doc_id, p=request.args.get("p") or None),
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


def report_marks(q: str, text: str) -> list[str]:
    """What the whole-report find bar marks: the query's phrases and other names that the report holds
    (法律顾问, not every 法律 of 法律服务), and the words of the query that are not part of one of them.

    In a whole report jieba's search-mode sub-words outnumber the phrase (26 marks for 法律顾问 in the 2018
    Guangzhou report, 10 of them the phrase), and next/previous would step through every 法律. A hit's
    passage follows the same rule (search/highlight.py `held_terms`).
    """
    mq = matching.analyze(q)
    return held_terms(to_simplified(text).lower(), tokenize_query(q), mq.phrases)


def _blocks(doc: dict, tokens: list[str]) -> tuple[list[dict], int]:
    """The document text as passage blocks, each with the heading text just above it; and the count of marks.

    The heading travels with its passage so that a link to the passage shows its heading too. The query's
    words are marked in the whole text, each mark numbered (hit-1, hit-2 …) for next/previous.
    """
    text, pos, blocks, count = doc["text"], 0, [], 0

    def html(part: str) -> Markup:
        nonlocal count
        spans = highlight_spans(part, tokens)[0] if tokens else []
        out, at = [], 0
        for start, end in spans:
            count += 1
            out += [str(escape(part[at:start])), f'<mark id="hit-{count}">', str(escape(part[start:end])), "</mark>"]
            at = end
        out.append(str(escape(part[at:])))
        return Markup("".join(out))

    for p in doc["passages"]:
        heading = html(text[pos : p["start"]]) if p["start"] > pos and text[pos : p["start"]].strip() else None
        blocks.append({"heading": heading, "html": html(text[p["start"] : p["end"]]), "passage": p})
        pos = p["end"]
    if text[pos:].strip():
        blocks.append({"heading": html(text[pos:]), "html": None, "passage": None})
    return blocks, count
