"""Web side: the Flask app factory, JSON API and HTML pages over one SearchEngine per process."""

from .app import create_app

__all__ = ["create_app"]
