"""The embedded backend's reader: one version folder's SQLite records, FAISS and bm25s indexes, loaded once."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ...filters import Filters
from ...records import PassageRecord, document_from_row, passage_from_row
from ..base import grouped_top, tie_ordered
from .dense import DenseIndex
from .lexical import LexicalIndex
from .store import connect, read_manifest


MASK_CACHE_SIZE = 32  # filter masks kept per version (one byte per passage each)


class EmbeddedReader:
    """A version folder: SQLite records, the FAISS index and the bm25s index, loaded once."""

    def __init__(self, version_dir: Path) -> None:
        self.dir = version_dir
        self.manifest = read_manifest(version_dir)
        self.version = self.manifest.version
        self.model = self.manifest.model
        self.conn = connect(version_dir)
        rows = self.conn.execute("SELECT pos, passage_id, doc_id FROM passages ORDER BY pos").fetchall()
        self.passage_pos = {r["passage_id"]: r["pos"] for r in rows}
        self.doc_of_pos = [r["doc_id"] for r in rows]
        self.documents = {
            r["doc_id"]: document_from_row(r) for r in self.conn.execute("SELECT * FROM documents")
        }
        order = {doc_id: i for i, doc_id in enumerate(self.documents)}
        self.doc_index = np.array([order[d] for d in self.doc_of_pos], dtype=np.int64)
        self.doc_list = list(self.documents.values())
        self.dense = DenseIndex(version_dir)
        self.lexical = LexicalIndex(version_dir / "bm25", len(rows))
        self.lock = threading.Lock()  # sqlite3 connections are not safe for concurrent use
        self._masks: dict[tuple[Filters, str | None], np.ndarray] = {}

    def mask(self, filters: Filters, exclude_doc: str | None = None) -> np.ndarray | None:
        """Which passages may be returned (None: all); the last few masks are kept (one query asks twice)."""
        if not filters.active and exclude_doc is None:
            return None
        key = (filters, exclude_doc)
        with self.lock:
            cached = self._masks.get(key)
        if cached is not None:
            return cached
        admitted = np.array(
            [filters.admits(d) and d.doc_id != exclude_doc for d in self.doc_list], dtype=bool,
        )
        mask = admitted[self.doc_index] if len(self.doc_index) else np.zeros(0, dtype=bool)
        with self.lock:
            self._masks[key] = mask
            while len(self._masks) > MASK_CACHE_SIZE:
                self._masks.pop(next(iter(self._masks)))
        return mask

    def lexical_top(self, tokens: list[str], n: int, filters: Filters, exclude_doc: str | None) -> list[int]:
        return tie_ordered(self.lexical.top(tokens, n, self.mask(filters, exclude_doc)))

    def dense_top(self, vector: np.ndarray, n: int, filters: Filters, exclude_doc: str | None,
                  per_doc: int | None = None) -> list[int]:
        allowed = self.mask(filters, exclude_doc)
        if per_doc is None:
            return tie_ordered(self.dense.top(vector, n, allowed))
        return grouped_top(lambda size: tie_ordered(self.dense.top(vector, size, allowed)), self.doc_of_pos,
                           per_doc, n, max(self.dense.size, 1))

    def passage_at(self, pos: int) -> PassageRecord:
        with self.lock:
            row = self.conn.execute("SELECT * FROM passages WHERE pos = ?", (int(pos),)).fetchone()
        return passage_from_row(row)

    def passages_at(self, positions: list[int]) -> list[PassageRecord]:
        if not positions:
            return []
        marks = ",".join("?" * len(positions))
        with self.lock:
            rows = self.conn.execute(f"SELECT * FROM passages WHERE pos IN ({marks})", [int(p) for p in positions]).fetchall()
        by_pos = {r["pos"]: passage_from_row(r) for r in rows}
        return [by_pos[int(p)] for p in positions]

    def vector_at(self, pos: int) -> np.ndarray:
        return self.dense.vector(pos)

    def document_passages(self, doc_id: str) -> list[PassageRecord]:
        with self.lock:
            rows = self.conn.execute("SELECT * FROM passages WHERE doc_id = ? ORDER BY ordinal", (doc_id,)).fetchall()
        return [passage_from_row(r) for r in rows]

    def doc_freq(self, token: str) -> int:
        return self.lexical.doc_freq(token)
