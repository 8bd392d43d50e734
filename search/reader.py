"""What the engine reads from one published index version, for either backend.

A reader numbers the version's passages 0..n-1 ("positions", in document and ordinal order) and answers
lexical and dense retrieval with filters, passages and vectors by position, and a document's passages.
Fusion, grouping, facets and highlighting stay in the engine, so both backends rank the same way.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from indexer.backend import EmbeddedStorage, IndexStorage
from indexer.model import ModelInfo
from indexer.store import DocumentRecord, PassageRecord, connect, passage_from_row, read_manifest

from .dense import DenseIndex
from .filters import Filters
from .lexical import LexicalIndex


MASK_CACHE_SIZE = 32  # filter masks kept per version (one byte per passage each)


class IndexReader(Protocol):
    """One published version, read-only."""

    version: str
    manifest: dict
    model: ModelInfo
    documents: dict[str, DocumentRecord]
    passage_pos: dict[str, int]
    doc_of_pos: list[str]

    def lexical_top(self, tokens: list[str], n: int, filters: Filters, exclude_doc: str | None) -> list[int]:
        """Positions of the n best BM25 matches (positive scores only), best first."""

    def dense_top(self, vector: np.ndarray, n: int, filters: Filters, exclude_doc: str | None,
                  per_doc: int | None = None) -> list[int]:
        """Positions of the n nearest passages, best first; at most `per_doc` of a document when given."""

    def passage_at(self, pos: int) -> PassageRecord:
        """The passage at a position."""

    def passages_at(self, positions: list[int]) -> list[PassageRecord]:
        """The passages at several positions, in the order given (one round trip)."""

    def vector_at(self, pos: int) -> np.ndarray:
        """The stored vector of the passage at a position."""

    def document_passages(self, doc_id: str) -> list[PassageRecord]:
        """A document's passages in order."""

    def distinctive(self, tokens: set[str], n: int) -> list[str]:
        """Up to n of `tokens`, rarest in the index first (for find-similar's highlights)."""


def open_reader(storage: IndexStorage) -> IndexReader:
    """The reader of the storage's published version."""
    if isinstance(storage, EmbeddedStorage):
        return EmbeddedReader(storage.version_dir())
    from .milvus_reader import MilvusReader

    return MilvusReader(storage)


TIE_DECIMALS = 5  # scores equal to this many decimals are ties (float sums differ between engines)


def tie_ordered(ranked: list[tuple[int, float]]) -> list[int]:
    """Positions in the retriever's order, with each run of tied scores put in position order.

    Backends break ties differently (and sum floats in another order), so equal-scoring passages
    (duplicated articles, identical measures) would swap places between them; position order is the same
    in both. Only the magnitude of adjacent scores is compared, never their sign or scale.
    """
    out: list[int] = []
    run: list[int] = []
    previous = None
    for pos, score in ranked:
        key = round(abs(score), TIE_DECIMALS)
        if key != previous and run:
            out += sorted(run)
            run = []
        run.append(pos)
        previous = key
    return out + sorted(run)


def group_limited(positions: list[int], doc_of_pos: list[str], per_doc: int | None, n: int) -> list[int]:
    """The first n positions keeping at most per_doc of a document (all when per_doc is None)."""
    if per_doc is None:
        return positions[:n]
    taken: dict[str, int] = {}
    out = []
    for pos in positions:
        doc = doc_of_pos[pos]
        if taken.get(doc, 0) < per_doc:
            taken[doc] = taken.get(doc, 0) + 1
            out.append(pos)
            if len(out) == n:
                break
    return out


def grouped_top(fetch: Callable[[int], list[int]], doc_of_pos: list[str], per_doc: int, n: int,
                limit: int) -> list[int]:
    """Grouping in the application: fetch 4× n ranked positions, and 4× more until n fit the per-document
    limit, the retriever ran out, or `limit` (the most it can return) was asked for."""
    size = min(n * 4, limit)
    while True:
        found = fetch(size)
        chosen = group_limited(found, doc_of_pos, per_doc, n)
        if len(chosen) >= n or len(found) < size or size >= limit:
            return chosen
        size = min(size * 4, limit)


class EmbeddedReader:
    """A version folder: SQLite records, the FAISS index and the bm25s index, loaded once."""

    def __init__(self, version_dir: Path) -> None:
        self.dir = version_dir
        self.manifest = read_manifest(version_dir)
        self.version = self.manifest["version"]
        self.model = ModelInfo.from_json(self.manifest["model"])
        self.conn = connect(version_dir)
        rows = self.conn.execute("SELECT pos, passage_id, doc_id FROM passages ORDER BY pos").fetchall()
        self.passage_pos = {r["passage_id"]: r["pos"] for r in rows}
        self.doc_of_pos = [r["doc_id"] for r in rows]
        self.documents = {
            r["doc_id"]: DocumentRecord(**dict(r)) for r in self.conn.execute("SELECT * FROM documents")
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

    def distinctive(self, tokens: set[str], n: int) -> list[str]:
        return self.lexical.distinctive(tokens, n)
