"""The embedded backend: an index folder of immutable segments (SQLite, FAISS, postings), versions that list
them with tombstones, and CURRENT."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from ...model import ModelInfo
from ...records import DocumentRecord, Manifest, PassageRecord
from ...settings import Settings
from .reader import EmbeddedReader
from ..base import IndexChanges
from .store import (
    current_version_dir, live_documents, load_documents, load_passages, load_vectors, merge, publish, publish_changes, read_manifest,
    writer_lock,
)

__all__ = ["EmbeddedReader", "EmbeddedStorage"]


class EmbeddedStorage:
    """An index folder: versions of immutable segments behind an atomically swapped CURRENT; a change writes one
    small segment or tombstones."""

    refresh_interval = 0.0  # reading CURRENT is one small file read: check on every request

    def __init__(self, index_dir: Path | str) -> None:
        self.index_dir = Path(index_dir)
        self.location = str(self.index_dir)

    @classmethod
    def from_settings(cls, settings: Settings) -> "EmbeddedStorage":
        """The folder the settings name."""
        return cls(settings.index)

    def writer_lock(self) -> AbstractContextManager[None]:
        return writer_lock(self.index_dir)

    def version_dir(self) -> Path:
        """The folder of the published version (IndexNotFoundError when none)."""
        return current_version_dir(self.index_dir)

    def manifest(self) -> Manifest:
        return read_manifest(self.version_dir())

    def current_version(self) -> str | None:
        try:
            return self.version_dir().name
        except FileNotFoundError:
            return None

    def load(self) -> tuple[list[DocumentRecord], list[PassageRecord], np.ndarray]:
        version_dir = self.version_dir()
        return load_documents(version_dir), load_passages(version_dir), load_vectors(version_dir)

    def documents(self, with_text: bool = True) -> list[DocumentRecord]:
        if with_text:
            return load_documents(self.version_dir())
        return live_documents(self.version_dir())

    def document_vectors(self, doc_ids: list[str]) -> tuple[list[PassageRecord], np.ndarray]:
        if not doc_ids:  # nothing changed that was indexed before: no need to load the dense indexes
            return [], np.zeros((0, self.manifest().model.dim), np.float32)
        reader = self.open_reader()
        passages = [p for d in doc_ids for p in reader.document_passages(d)]
        positions = [reader.passage_pos[p.passage_id] for p in passages]
        vectors = np.stack([reader.vector_at(p) for p in positions]) if positions else \
            np.zeros((0, reader.model.dim), np.float32)
        return passages, vectors

    def publish(self, documents: list[DocumentRecord], passages: list[PassageRecord], vectors: np.ndarray,
                model: ModelInfo) -> str:
        return publish(self.index_dir, documents, passages, vectors, model).name

    def publish_changes(self, changes: IndexChanges, model: ModelInfo) -> str:
        return publish_changes(self.index_dir, changes, model).name

    def merge_if_due(self) -> str | None:
        merged = merge(self.index_dir)
        return merged.name if merged is not None else None

    def open_reader(self) -> EmbeddedReader:
        return EmbeddedReader(self.version_dir())
