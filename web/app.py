"""The Flask app factory: one engine per process over the settings' index; JSON API, pages, admin."""

from __future__ import annotations

import threading

from flask import jsonify, request
from flask_openapi3 import Info, OpenAPI

from core.settings import Settings
from core.storage import IndexStorage
from search.engine import SearchEngine

from .contract import ErrorResponse
from .errors import error_response, register_errors, validation_error
from .admin import bp as admin_bp
from .api import bp as api_bp
from .atlas import bp as atlas_api_bp
from .atlas import pages as atlas_pages_bp
from .context import ENGINE, SETTINGS, STORAGE
from .exports import bp as exports_bp
from .pages import bp as pages_bp

MAX_REQUEST_BYTES = 256 * 1024  # JSON bodies of /api/similar: a selected paragraph is a few KB
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # one report file through the admin upload
MAX_JSON_DEPTH = 32  # nesting of a JSON body; deeper (100,000 brackets) would exhaust the parser's recursion


def create_app(settings: Settings | None = None, *, engine: SearchEngine | None = None,
               storage: IndexStorage | None = None, testing: bool = False) -> OpenAPI:
    """Build the app from settings (default: Settings()); `engine`/`storage` inject ready ones (tests, CLI).

    The admin endpoints exist only when the settings carry an admin token.
    """
    settings = settings or Settings()
    app = OpenAPI(__name__, info=Info(title="法治检索 fazhi-search API", version="1"), doc_ui=False,
                  security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
                  validation_error_status=400, validation_error_model=ErrorResponse,
                  validation_error_callback=validation_error)
    app.config.update(TESTING=testing, MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, MAX_UPLOAD_BYTES=MAX_UPLOAD_BYTES)
    app.json.ensure_ascii = False
    app.extensions.update({SETTINGS: settings, "fazhi_engine_lock": threading.Lock()})
    if engine is not None:
        engine.serve_requests()
        app.extensions[ENGINE] = engine
    if storage is not None or engine is not None:
        app.extensions[STORAGE] = storage or engine.storage
    app.register_api(api_bp)
    app.register_api(atlas_api_bp)
    if settings.admin_token:
        app.register_api(admin_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(exports_bp)
    app.register_blueprint(atlas_pages_bp)
    app.add_url_rule("/api/openapi.json", "openapi", lambda: jsonify(app.api_doc))
    app.before_request(_limit_request)
    register_errors(app)
    return app


def _limit_request():
    """Size and shape limits checked before a body is parsed: uploads may be larger, JSON may not nest deep."""
    if request.path.startswith("/api/admin/"):
        request.max_content_length = MAX_UPLOAD_BYTES
    elif request.is_json and request.content_length and _nests_deep(request.get_data(cache=True)):
        return error_response(400, f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels")
    return None


def _nests_deep(data: bytes) -> bool:
    """True when a JSON body nests deeper than MAX_JSON_DEPTH (few brackets: no scan needed)."""
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:
        return False
    return json_depth(data) > MAX_JSON_DEPTH


def json_depth(data: bytes) -> int:
    """How deep brackets nest in a JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest
