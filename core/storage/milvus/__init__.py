"""The Milvus backend: one passage collection per version, its documents, and a meta row naming the current one."""

from __future__ import annotations

from .reader import MilvusReader, filter_expression
from .store import DEFAULT_COLLECTION, MilvusStorage

__all__ = ["DEFAULT_COLLECTION", "MilvusReader", "MilvusStorage", "filter_expression"]
