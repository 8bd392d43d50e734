"""The HTML blueprint: search page, document view, find-similar results."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request
from markupsafe import Markup, escape

from indexer.store import IndexNotFoundError
from search.engine import NotFoundError

from . import get_engine
from .api import MAX_QUERY_CHARS, MAX_TEXT_CHARS

bp = Blueprint("pages", __name__)
PAGE_K = 20
PAGE_PER_DOC = 3


def marked(text: str, spans) -> Markup:
    """`text` HTML-escaped, with each (start, end) span wrapped in <mark>."""
    out, pos = [], 0
    for start, end in spans:
        out += [str(escape(text[pos:start])), "<mark>", str(escape(text[start:end])), "</mark>"]
        pos = end
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


bp.add_app_template_filter(marked, "marked")


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _not_found(exc):
    if request.path.startswith("/api/"):
        return jsonify({"error": {"status": exc.code, "message": exc.description}}), exc.code
    return render_template("error.html", message=exc.description, status=exc.code), exc.code


@bp.app_errorhandler(IndexNotFoundError)
def _no_index(exc):
    return render_template("error.html", message=str(exc), status=503), 503


@bp.get("/")
def search_page():
    """The search page; with ?q= it shows results grouped per document (no JavaScript needed)."""
    q = (request.args.get("q") or "").strip()[:MAX_QUERY_CHARS]
    result = None
    if q:
        result = get_engine().search(q, k=PAGE_K, per_doc=PAGE_PER_DOC)
    return render_template("search.html", q=q, result=result, hits=_by_id(result))


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
    return render_template("document.html", doc=doc, blocks=_blocks(doc), focus=request.args.get("p"))


@bp.get("/documents")
def documents_page():
    """The list of indexed documents."""
    return render_template("documents.html", docs=get_engine().documents())


def _by_id(result) -> dict:
    return {h.passage_id: h for h in result.hits} if result else {}


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
