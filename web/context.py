"""The app's one SearchEngine and storage, made from its Settings on first use and refreshed per request."""

from __future__ import annotations

from flask import current_app

from core.settings import Settings
from core.storage import IndexStorage, open_storage
from search.engine import SearchEngine

ENGINE = "fazhi_engine"
STORAGE = "fazhi_storage"
SETTINGS = "fazhi_settings"


def settings() -> Settings:
    """The app's settings."""
    return current_app.extensions[SETTINGS]


def index_storage() -> IndexStorage:
    """Where the app's index lives (the settings' backend; a storage given to create_app wins)."""
    storage = current_app.extensions.get(STORAGE)
    if storage is None:
        storage = current_app.extensions[STORAGE] = open_storage(settings())
    return storage


def get_engine() -> SearchEngine:
    """The process's SearchEngine, created on first use and refreshed to the newest index version."""
    app = current_app
    engine = app.extensions.get(ENGINE)
    if engine is None:
        with app.extensions["fazhi_engine_lock"]:
            engine = app.extensions.get(ENGINE)
            if engine is None:
                engine = app.extensions[ENGINE] = SearchEngine(index_storage(), settings=settings())
                engine.serve_requests()
    if not engine.ready:  # `fazhi serve` warms before it listens; elsewhere the first request does
        engine.warm()
    engine.refresh(max_age=engine.storage.refresh_interval)
    return engine
