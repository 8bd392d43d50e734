"""The JSON API blueprint (/api/...): request validation and JSON errors."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from werkzeug.exceptions import HTTPException

from indexer.model import ModelError
from indexer.pipeline import ModelMismatchError
from indexer.store import IndexNotFoundError
from search.engine import MAX_K, NotFoundError

from . import get_engine

bp = Blueprint("api", __name__, url_prefix="/api")
MAX_QUERY_CHARS = 500
MAX_TEXT_CHARS = 5000


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
def _no_index(exc: IndexNotFoundError):
    return error(503, str(exc))


@bp.errorhandler(ModelMismatchError)
@bp.errorhandler(ModelError)
def _model(exc: Exception):
    return error(503, str(exc))


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException):
    return error(exc.code or 500, exc.description or exc.name)


@bp.get("/health")
def health():
    """Index version, sizes and model."""
    return jsonify(get_engine().health())


@bp.get("/search")
def search():
    """GET /api/search?q=&k=&per_doc=: hybrid search."""
    q = text_param(request.args.get("q"), "q", MAX_QUERY_CHARS)
    k = int_param(request.args.get("k"), "k", 10, 1, MAX_K)
    per_doc = int_param(request.args.get("per_doc"), "per_doc", None, 0, MAX_K) or None
    return jsonify(get_engine().search(q, k=k, per_doc=per_doc).to_json())


@bp.post("/similar")
def similar():
    """POST /api/similar {passage_id | text, k, per_doc}: passages like one passage or a selected text."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with 'passage_id' or 'text'")
    unknown = set(body) - {"passage_id", "text", "k", "per_doc"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    k = int_param(body.get("k"), "k", 10, 1, MAX_K)
    per_doc = int_param(body.get("per_doc"), "per_doc", 1, 0, MAX_K) or None
    if body.get("passage_id") is not None:
        if not isinstance(body["passage_id"], str) or not body["passage_id"]:
            raise BadRequest("'passage_id' must be a non-empty string")
        result = get_engine().similar(passage_id=body["passage_id"], k=k, per_doc=per_doc)
    elif body.get("text") is not None:
        result = get_engine().similar(text=text_param(body["text"], "text", MAX_TEXT_CHARS), k=k, per_doc=per_doc)
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
