"""Errors both sides raise; every reason the index can't be served derives from IndexUnavailableError."""

from __future__ import annotations


class IndexUnavailableError(RuntimeError):
    """The index can't be served right now: none published, another model, or the backend unreachable.

    The web layer answers any of these with 503 (and Retry-After); the CLI prints the message and exits 1.
    """

    retry_after: int | None = None  # seconds a client should wait before asking again, when it is worth it


class IndexNotFoundError(IndexUnavailableError, FileNotFoundError):
    """No published index at the configured location."""


class ModelError(IndexUnavailableError):
    """The configured model cannot be found, built or loaded."""


class ModelMismatchError(IndexUnavailableError):
    """The index was built with another embedding model than the one configured."""


class BackendUnavailableError(IndexUnavailableError):
    """The storage backend (Milvus) is not installed or cannot be reached."""

    retry_after = 5


class NotFoundError(LookupError):
    """A passage or document id that the index does not hold."""


class IndexBusyError(RuntimeError):
    """Another indexer holds the index's writer lock."""
