"""The embedded backend: an index folder of immutable versions (SQLite + FAISS + bm25s) behind CURRENT."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from ...model import ModelInfo
from ...records import DocumentRecord, Manifest, PassageRecord
from ...settings import Settings
from .reader import EmbeddedReader
from .store import current_version_dir, load_documents, load_passages, load_vectors, publish, read_manifest, writer_lock

__all__ = ["EmbeddedReader", "EmbeddedStorage"]


class EmbeddedStorage:
    """An index folder: immutable versions of SQLite, FAISS and bm25s behind an atomically swapped CURRENT."""

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

    def documents(self) -> list[DocumentRecord]:
        return load_documents(self.version_dir())

    def publish(self, documents: list[DocumentRecord], passages: list[PassageRecord], vectors: np.ndarray,
                model: ModelInfo) -> str:
        return publish(self.index_dir, documents, passages, vectors, model).name

    def open_reader(self) -> EmbeddedReader:
        return EmbeddedReader(self.version_dir())
