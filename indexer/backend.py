"""Where an index lives: the embedded folder (SQLite + FAISS + bm25s) or Milvus, behind one small interface."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import numpy as np

from .store import (
    DocumentRecord, PassageRecord, current_version_dir, load_documents, load_passages, load_vectors, publish,
    read_manifest, writer_lock,
)

BACKENDS = ("embedded", "milvus")


class IndexStorage(Protocol):
    """What the indexer needs from a backend: publish a complete version, read the current one back."""

    location: str  # shown in messages

    def writer_lock(self) -> AbstractContextManager[None]:
        """Held while a version is computed and published."""

    def manifest(self) -> dict:
        """The published version's manifest (version, model, counts); IndexNotFoundError when none."""

    def current_version(self) -> str | None:
        """The published version's name, or None."""

    def load(self) -> tuple[list[DocumentRecord], list[PassageRecord], np.ndarray]:
        """The published version's documents, passages and their vectors (same order)."""

    def documents(self) -> list[DocumentRecord]:
        """The published version's documents."""

    def publish(self, documents: list[DocumentRecord], passages: list[PassageRecord], vectors: np.ndarray,
                manifest: dict) -> str:
        """Write a complete new version and make it the current one; returns its name."""


class EmbeddedStorage:
    """An index folder: immutable versions of SQLite, FAISS and bm25s behind an atomically swapped CURRENT."""

    def __init__(self, index_dir: Path | str) -> None:
        self.index_dir = Path(index_dir)
        self.location = str(self.index_dir)

    def writer_lock(self) -> AbstractContextManager[None]:
        return writer_lock(self.index_dir)

    def version_dir(self) -> Path:
        """The folder of the published version (IndexNotFoundError when none)."""
        return current_version_dir(self.index_dir)

    def manifest(self) -> dict:
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
                manifest: dict) -> str:
        return publish(self.index_dir, documents, passages, vectors, manifest).name


def open_storage(index: "IndexStorage | Path | str", backend: str = "embedded", milvus_uri: str = "",
                 milvus_token: str = "", collection: str = "") -> IndexStorage:
    """The storage for a CLI/app configuration; an IndexStorage given is returned as it is."""
    if not isinstance(index, (str, Path)):
        return index
    if backend == "embedded":
        return EmbeddedStorage(index)
    if backend == "milvus":
        if not milvus_uri:
            raise ValueError("the milvus backend needs --milvus-uri (a Milvus Lite .db path or http://host:19530)")
        from .milvus_store import DEFAULT_COLLECTION, MilvusStore

        return MilvusStore(milvus_uri, milvus_token, collection or DEFAULT_COLLECTION)
    raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
