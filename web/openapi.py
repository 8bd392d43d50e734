"""The OpenAPI 3 description of the JSON API (served at /api/openapi.json)."""

from __future__ import annotations

from search.engine import MAX_K
from search.filters import LIST_FIELDS

# Request limits, shared by the validation in api.py and this document.
MAX_QUERY_CHARS = 500
MAX_TEXT_CHARS = 5000
MAX_FILTER_VALUES = 20
MAX_FILTER_CHARS = 100
YEAR_RANGE = (1949, 2100)
ERROR = {"description": "an error, as JSON", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
JSON = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}


def _int(name: str, low: int, high: int, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "integer", "minimum": low, "maximum": high}}


FILTER_PARAMS = [
    {"name": name, "in": "query", "required": False, "style": "form", "explode": True,
     "description": f"filter on {name}; may repeat (values are alternatives)",
     "schema": {"type": "array", "maxItems": MAX_FILTER_VALUES, "items": {"type": "string", "maxLength": MAX_FILTER_CHARS}}}
    for name in LIST_FIELDS
] + [_int("year_from", *YEAR_RANGE, "first year covered"), _int("year_to", *YEAR_RANGE, "last year covered")]

QUERY = {"name": "q", "in": "query", "required": True, "description": "the query, in either script",
         "schema": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS}}


def openapi_document() -> dict:
    """The API's OpenAPI 3.0 document."""
    errors = {str(code): ERROR for code in (400, 404, 413, 503)}
    filters_object = {"type": "object", "additionalProperties": False, "properties": {
        **{name: {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]} for name in LIST_FIELDS},
        "year_from": {"type": "integer"}, "year_to": {"type": "integer"},
    }}
    return {
        "openapi": "3.0.3",
        "info": {"title": "fazhi-search API", "version": "1", "description": "法治检索: hybrid search over rule-of-law reports"},
        "paths": {
            "/api/health": {"get": {"summary": "index version, sizes, model", "responses": {"200": JSON, **errors}}},
            "/api/search": {"get": {
                "summary": "hybrid search", "parameters": [
                    QUERY, _int("k", 1, MAX_K, "results"), _int("per_doc", 0, MAX_K, "passages per document (0: any)"),
                    {"name": "explain", "in": "query", "required": False, "schema": {"type": "boolean"}},
                    *FILTER_PARAMS,
                ], "responses": {"200": JSON, **errors}}},
            "/api/compare": {"get": {
                "summary": "each document's (or issuing body's) best passage for a topic", "parameters": [
                    QUERY, _int("limit", 1, MAX_K, "rows"),
                    {"name": "by", "in": "query", "required": False, "schema": {"type": "string", "enum": ["document", "issuing_body"]}},
                    {"name": "format", "in": "query", "required": False, "schema": {"type": "string", "enum": ["json", "csv"]}},
                    *FILTER_PARAMS,
                ], "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}},
                                                                            "text/csv": {"schema": {"type": "string"}}}},
                                 **errors}}},
            "/api/similar": {"post": {
                "summary": "passages like a stored passage or a selected text",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False, "properties": {
                        "passage_id": {"type": "string", "minLength": 1},
                        "text": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_CHARS},
                        "k": {"type": "integer", "minimum": 1, "maximum": MAX_K},
                        "per_doc": {"type": "integer", "minimum": 0, "maximum": MAX_K},
                        "filters": filters_object, "explain": {"type": "boolean"},
                    }}}}},
                "responses": {"200": JSON, **errors}}},
            "/api/passages/{passage_id}": {"get": {
                "summary": "one passage", "parameters": [
                    {"name": "passage_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": JSON, **errors}}},
            "/api/documents": {"get": {"summary": "all documents", "responses": {"200": JSON, **errors}}},
            "/api/documents/{doc_id}": {"get": {
                "summary": "one document with text and passage spans", "parameters": [
                    {"name": "doc_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": JSON, **errors}}},
        },
        "components": {"schemas": {"Error": {"type": "object", "required": ["error"], "properties": {
            "error": {"type": "object", "properties": {"status": {"type": "integer"}, "message": {"type": "string"}}}}}}},
    }
