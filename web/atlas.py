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
