"""Web side: the Flask app factory, JSON API and HTML pages over one SearchEngine per process."""

from __future__ import annotations

import os
import threading

from flask import Flask, current_app

DEFAULT_INDEX = "index"
INDEX_ENV = "FAZHI_INDEX"


def default_index_dir() -> str:
    """FAZHI_INDEX, else ./index."""
    return os.environ.get(INDEX_ENV) or DEFAULT_INDEX


def create_app(config: dict | None = None) -> Flask:
    """Build the app. Config keys: INDEX_DIR, STORAGE (an IndexStorage, e.g. Milvus; default the INDEX_DIR
    folder), MODEL, ENGINE (a ready SearchEngine, for tests),
    ADMIN_TOKEN (FAZHI_ADMIN_TOKEN; without it the admin endpoints do not exist), UPLOAD_DIR, REINDEX_PATHS."""
    app = Flask(__name__)
    app.config.update(
        INDEX_DIR=default_index_dir(), STORAGE=None, MODEL=None, ENGINE=None, JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=256 * 1024, ADMIN_TOKEN=os.environ.get("FAZHI_ADMIN_TOKEN") or None,
        MAX_UPLOAD_BYTES=50 * 1024 * 1024, UPLOAD_DIR=None,
        REINDEX_PATHS=[p for p in os.environ.get("FAZHI_REINDEX_PATHS", "").split(os.pathsep) if p],
    )
    app.config.update(config or {})
    app.json.ensure_ascii = False
    app.extensions["fazhi_engine_lock"] = threading.Lock()

    from . import api, pages

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    from . import atlas  # the measure atlas API (its own module; folded into the declared contract later)

    app.register_blueprint(atlas.bp)
    app.register_blueprint(atlas.pages)
    if app.config["ADMIN_TOKEN"]:
        from . import admin

        app.register_blueprint(admin.bp)
        app.before_request(_allow_large_uploads)
    return app


def _allow_large_uploads() -> None:
    """Report uploads may exceed the API's request size limit, up to MAX_UPLOAD_BYTES."""
    from flask import request

    if request.path.startswith("/api/admin/"):
        request.max_content_length = current_app.config["MAX_UPLOAD_BYTES"]


def index_storage():
    """Where the app's index lives: STORAGE when configured (the CLI's --backend), else the INDEX_DIR folder."""
    from indexer.backend import EmbeddedStorage

    return current_app.config.get("STORAGE") or EmbeddedStorage(current_app.config["INDEX_DIR"])


def get_engine():
    """The process's SearchEngine, created on first use and refreshed to the newest index version."""
    from search.engine import SearchEngine

    app = current_app
    engine = app.config.get("ENGINE")
    if engine is None:
        with app.extensions["fazhi_engine_lock"]:
            engine = app.config.get("ENGINE")
            if engine is None:
                engine = SearchEngine(index_storage(), model_name=app.config.get("MODEL"))
                app.config["ENGINE"] = engine
    engine.refresh(max_age=getattr(engine.storage, "refresh_interval", 0.0))
    return engine
