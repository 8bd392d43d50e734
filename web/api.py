"""The JSON API blueprint (/api/...): request validation and JSON errors."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from indexer.model import ModelError
from indexer.pipeline import ModelMismatchError
from indexer.milvus_store import MilvusUnavailableError
from indexer.store import IndexNotFoundError
from search.engine import COMPARE_BY, MAX_K, NotFoundError
from search.filters import LIST_FIELDS, Filters

from . import get_engine
from .openapi import (
    MAX_FILTER_CHARS, MAX_FILTER_VALUES, MAX_QUERY_CHARS, MAX_TEXT_CHARS, YEAR_RANGE, openapi_document,
)

bp = Blueprint("api", __name__, url_prefix="/api")
FILTER_PARAMS = set(LIST_FIELDS) | {"year_from", "year_to"}
SEARCH_PARAMS = {"q", "k", "per_doc", "explain"} | FILTER_PARAMS
COMPARE_PARAMS = {"q", "by", "format", "limit"} | FILTER_PARAMS


class BadRequest(ValueError):
    """A request parameter that is missing, malformed or out of range."""


def int_param(value, name: str, default: int | None, low: int, high: int) -> int | None:
    """Parse an integer parameter within [low, high], or raise BadRequest naming it."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise BadRequest(f"'{name}' must be an integer")
    try:
        number = int(value)
        if isinstance(value, float) and number != value:
            raise ValueError
    except (TypeError, ValueError):
        raise BadRequest(f"'{name}' must be an integer, got {value!r}") from None
    if not low <= number <= high:
        raise BadRequest(f"'{name}' must be between {low} and {high}, got {number}")
    return number


def text_param(value, name: str, limit: int) -> str:
    """A non-empty string of at most `limit` characters."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"'{name}' is required and must be a non-empty string")
    if len(value) > limit:
        raise BadRequest(f"'{name}' is too long ({len(value)} characters, at most {limit})")
    return value.strip()


def bool_param(value, name: str) -> bool:
    """true/false/1/0 (absent: false)."""
    if value is None or value is False:
        return False
    if value is True:
        return True
    if isinstance(value, str) and value.lower() in ("1", "true", "yes", "0", "false", "no", ""):
        return value.lower() in ("1", "true", "yes")
    raise BadRequest(f"'{name}' must be true or false, got {value!r}")


def check_known(params, allowed: set[str]) -> None:
    """Refuse parameters the endpoint does not know (a typo would otherwise be silently ignored)."""
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")


def filters_from(get_list, get_one) -> Filters:
    """Filters from request values: list fields may repeat; years are a range."""
    values = {}
    for name in LIST_FIELDS:
        items = [v.strip() for v in get_list(name) if isinstance(v, str) and v.strip()]
        if len(items) > MAX_FILTER_VALUES:
            raise BadRequest(f"at most {MAX_FILTER_VALUES} values for '{name}'")
        if any(len(v) > MAX_FILTER_CHARS for v in items):
            raise BadRequest(f"a '{name}' value is too long (at most {MAX_FILTER_CHARS} characters)")
        values[name] = tuple(items)
    year_from = int_param(get_one("year_from"), "year_from", None, *YEAR_RANGE)
    year_to = int_param(get_one("year_to"), "year_to", None, *YEAR_RANGE)
    if year_from is not None and year_to is not None and year_from > year_to:
        raise BadRequest("'year_from' must not be after 'year_to'")
    return Filters(**values, year_from=year_from, year_to=year_to)


def json_filters(body: dict) -> Filters:
    """Filters from a JSON body's optional 'filters' object."""
    given = body.get("filters") or {}
    if not isinstance(given, dict):
        raise BadRequest("'filters' must be an object")
    check_known(given, FILTER_PARAMS)

    def as_list(name):
        value = given.get(name, [])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadRequest(f"filter '{name}' must be a string or a list of strings")
        return value

    return filters_from(as_list, given.get)


def error(status: int, message: str):
    """A JSON error response."""
    return jsonify({"error": {"status": status, "message": message}}), status


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest):
    return error(400, str(exc))


@bp.errorhandler(NotFoundError)
def _not_found(exc: NotFoundError):
    return error(404, str(exc.args[0]))


@bp.errorhandler(IndexNotFoundError)
@bp.errorhandler(MilvusUnavailableError)
def _no_index(exc: Exception):
    return error(503, str(exc))


@bp.errorhandler(ModelMismatchError)
@bp.errorhandler(ModelError)
def _model(exc: Exception):
    return error(503, str(exc))


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    return error(exc.code or 500, exc.description or exc.name)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 description of this API."""
    return jsonify(openapi_document())


@bp.get("/health")
def health():
    """Index version, sizes and model."""
    return jsonify(get_engine().health())


@bp.get("/search")
def search():
    """GET /api/search?q=&k=&per_doc=: hybrid search."""
    check_known(request.args, SEARCH_PARAMS)
    q = text_param(request.args.get("q"), "q", MAX_QUERY_CHARS)
    k = int_param(request.args.get("k"), "k", 10, 1, MAX_K)
    per_doc = int_param(request.args.get("per_doc"), "per_doc", None, 0, MAX_K) or None
    filters = filters_from(request.args.getlist, request.args.get)
    explain = bool_param(request.args.get("explain"), "explain")
    return jsonify(get_engine().search(q, k=k, per_doc=per_doc, filters=filters, explain=explain).to_json())


COMPARE_COLUMNS = ("rank", "issuing_body", "region", "year", "title", "heading", "text", "score", "doc_id", "passage_id")


@bp.get("/compare")
def compare():
    """GET /api/compare?q=&by=document|issuing_body&format=json|csv: each document's best passage on a topic."""
    check_known(request.args, COMPARE_PARAMS)
    q = text_param(request.args.get("q"), "q", MAX_QUERY_CHARS)
    by = request.args.get("by") or "document"
    if by not in COMPARE_BY:
        raise BadRequest(f"'by' must be one of {', '.join(COMPARE_BY)}")
    fmt = request.args.get("format") or "json"
    if fmt not in ("json", "csv"):
        raise BadRequest("'format' must be json or csv")
    limit = int_param(request.args.get("limit"), "limit", 50, 1, MAX_K)
    result = get_engine().compare(q, by=by, filters=filters_from(request.args.getlist, request.args.get), limit=limit)
    rows = [
        {"rank": i, "issuing_body": h.issuing_body, "region": h.region, "year": h.year, "title": h.title,
         "heading": " › ".join(h.heading_path), "text": h.text, "score": h.score, "doc_id": h.doc_id,
         "passage_id": h.passage_id}
        for i, h in enumerate(result.hits, 1)
    ]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COMPARE_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        # A BOM so that Excel opens the Chinese text as UTF-8.
        return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv; charset=utf-8", headers={
            "Content-Disposition": "attachment; filename=compare.csv"})
    return jsonify({"query": q, "by": by, "filters": result.filters.to_json(), "count": len(rows), "rows": rows,
                    "facets": result.facets})


@bp.post("/similar")
def similar():
    """POST /api/similar {passage_id | text, k, per_doc}: passages like one passage or a selected text."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with 'passage_id' or 'text'")
    unknown = set(body) - {"passage_id", "text", "k", "per_doc", "filters", "explain", "doc_id", "include_same_doc"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    k = int_param(body.get("k"), "k", 10, 1, MAX_K)
    per_doc = int_param(body.get("per_doc"), "per_doc", 1, 0, MAX_K) or None
    options = {"k": k, "per_doc": per_doc, "filters": json_filters(body), "explain": bool_param(body.get("explain"), "explain"),
               "include_same_doc": bool_param(body.get("include_same_doc"), "include_same_doc")}
    if body.get("passage_id") is not None:
        if not isinstance(body["passage_id"], str) or not body["passage_id"]:
            raise BadRequest("'passage_id' must be a non-empty string")
        result = get_engine().similar(passage_id=body["passage_id"], **options)
    elif body.get("text") is not None:
        doc_id = body.get("doc_id")  # the document the text was selected from (issue 12)
        if doc_id is not None and (not isinstance(doc_id, str) or not doc_id):
            raise BadRequest("'doc_id' must be a non-empty string")
        result = get_engine().similar(
            text=text_param(body["text"], "text", MAX_TEXT_CHARS), doc_id=doc_id, **options)
    else:
        raise BadRequest("give 'passage_id' or 'text'")
    return jsonify(result.to_json())


@bp.get("/passages/<passage_id>")
def passage(passage_id: str):
    """One passage with its document's metadata."""
    return jsonify(get_engine().passage(passage_id))


@bp.get("/documents")
def documents():
    """All indexed documents (metadata only)."""
    docs = get_engine().documents()
    return jsonify({"count": len(docs), "documents": docs})


@bp.get("/documents/<doc_id>")
def document(doc_id: str):
    """One document: metadata, text and passage spans."""
    return jsonify(get_engine().document(doc_id))
