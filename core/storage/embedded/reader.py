"""The embedded backend's reader: one version folder's SQLite records, FAISS and bm25s indexes, loaded once."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from ...filters import Filters
from ...records import DOCUMENT_FIELDS, DocumentRecord, PassageRecord, passage_from_row
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
        self.lock = threading.Lock()  # sqlite3 connections are not safe for concurrent use
        # Nothing per passage is held as a Python object: a million of them would cost ~250 bytes each.
        self.documents = stored_documents(self.conn, self.lock)
        self.doc_list = list(self.documents.values())
        self.doc_index = document_numbers(self.conn, list(self.documents))
        self.doc_of_pos = DocumentOfPosition(list(self.documents), self.doc_index)
        self.passage_pos = PassagePositions(self.conn, self.lock, len(self.doc_index))
        self.dense = DenseIndex(version_dir)
        self.lexical = LexicalIndex(version_dir / "bm25", len(self.doc_index))
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


class PassagePositions(Mapping):
    """passage id → position, answered by SQLite's unique index on passage_id (not a dict of every id)."""

    def __init__(self, conn, lock: threading.Lock, size: int) -> None:
        self._conn, self._lock, self._size = conn, lock, size

    def __getitem__(self, passage_id: str) -> int:
        if not isinstance(passage_id, str):
            raise KeyError(passage_id)
        with self._lock:
            row = self._conn.execute("SELECT pos FROM passages WHERE passage_id = ?", (passage_id,)).fetchone()
        if row is None:
            raise KeyError(passage_id)
        return int(row[0])

    def __contains__(self, passage_id: object) -> bool:
        try:
            self[passage_id]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            ids = [r[0] for r in self._conn.execute("SELECT passage_id FROM passages ORDER BY pos")]
        return iter(ids)


class DocumentOfPosition(Sequence):
    """position → doc id: one int32 per passage into the list of document ids (not a million strings)."""

    def __init__(self, doc_ids: list[str], numbers: np.ndarray) -> None:
        self._ids, self._numbers = doc_ids, numbers

    def __len__(self) -> int:
        return len(self._numbers)

    def __getitem__(self, pos):
        if isinstance(pos, slice):
            return [self._ids[i] for i in self._numbers[pos]]
        return self._ids[self._numbers[pos]]

    def __iter__(self) -> Iterator[str]:
        ids = self._ids
        return (ids[i] for i in self._numbers.tolist())


class _TextInSQLite:
    """The `text` of a StoredDocument: read from SQLite when asked for, never kept."""

    def __get__(self, doc, owner=None):
        if doc is None:
            return self
        return doc._read_text(doc.doc_id)

    def __set__(self, doc, value) -> None:
        pass  # the text lives in SQLite


class StoredDocument(DocumentRecord):
    """A DocumentRecord whose full text stays on disk: every document's text together is as large as the
    corpus (~270 bytes a passage at a million); only the document view reads it, one document at a time."""

    text = _TextInSQLite()


def stored_documents(conn, lock: threading.Lock) -> dict[str, DocumentRecord]:
    """The documents' metadata by id, in SQLite's order, their texts left in SQLite."""
    columns = ", ".join("'' AS text" if f == "text" else f for f in DOCUMENT_FIELDS)

    def read_text(doc_id: str) -> str:
        with lock:
            row = conn.execute("SELECT text FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        return row[0] if row else ""

    out: dict[str, DocumentRecord] = {}
    for row in conn.execute(f"SELECT {columns} FROM documents"):
        doc = StoredDocument(**{f: row[f] for f in DOCUMENT_FIELDS})
        doc._read_text = read_text
        out[doc.doc_id] = doc
    return out


def document_numbers(conn, doc_ids: list[str]) -> np.ndarray:
    """The number (index into doc_ids) of each position's document, read a document's range at a time.

    A document's passages are consecutive positions; should a version break that, rows are read one by one.
    """
    number = {d: i for i, d in enumerate(doc_ids)}
    (size,) = conn.execute("SELECT COUNT(*) FROM passages").fetchone()
    out = np.empty(size, dtype=np.int32)
    ranges = conn.execute("SELECT doc_id, MIN(pos), MAX(pos), COUNT(*) FROM passages GROUP BY doc_id").fetchall()
    if sum(r[3] for r in ranges) == size and all(r[2] - r[1] + 1 == r[3] for r in ranges) and \
            (size == 0 or conn.execute("SELECT MIN(pos), MAX(pos) FROM passages").fetchone() == (0, size - 1)):
        for doc_id, first, last, _ in ranges:
            out[first : last + 1] = number[doc_id]
        return out
    for pos, doc_id in conn.execute("SELECT pos, doc_id FROM passages ORDER BY pos"):
        out[pos] = number[doc_id]
    return out
