"""The Flask app factory: one engine per process over the settings' index; JSON API, pages, admin."""

from __future__ import annotations

import threading

from flask import Flask, request

from core.settings import Settings
from core.storage import IndexStorage
from search.engine import SearchEngine

from .admin import bp as admin_bp
from .api import bp as api_bp
from .context import ENGINE, SETTINGS, STORAGE
from .pages import bp as pages_bp

MAX_REQUEST_BYTES = 256 * 1024  # JSON bodies of /api/similar: a selected paragraph is a few KB
MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # one report file through the admin upload


def create_app(settings: Settings | None = None, *, engine: SearchEngine | None = None,
               storage: IndexStorage | None = None, testing: bool = False) -> Flask:
    """Build the app from settings (default: Settings()); `engine`/`storage` inject ready ones (tests, CLI).

    The admin endpoints exist only when the settings carry an admin token.
    """
    settings = settings or Settings()
    app = Flask(__name__)
    app.config.update(TESTING=testing, MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, MAX_UPLOAD_BYTES=MAX_UPLOAD_BYTES)
    app.json.ensure_ascii = False
    app.extensions.update({SETTINGS: settings, "fazhi_engine_lock": threading.Lock()})
    if engine is not None:
        app.extensions[ENGINE] = engine
    if storage is not None or engine is not None:
        app.extensions[STORAGE] = storage or engine.storage
    app.register_blueprint(api_bp)
    app.register_blueprint(pages_bp)
    if settings.admin_token:
        app.register_blueprint(admin_bp)
        app.before_request(_allow_large_uploads)
    return app


def _allow_large_uploads() -> None:
    """Report uploads may exceed the API's request size limit, up to MAX_UPLOAD_BYTES."""
    if request.path.startswith("/api/admin/"):
        request.max_content_length = MAX_UPLOAD_BYTES
