"""Segments: immutable folders of documents and passages (SQLite, FAISS, postings) that versions reference.

A version lists its segments, each with the documents deleted from it since it was written (tombstones).
Adding or changing a report writes one small segment; deleting one writes only tombstones; a merge
rewrites the live passages of several segments as one. A segment folder is never changed once renamed
into place, so versions share it, and a reader may keep it open across versions.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...records import DOCUMENT_FIELDS, DocumentRecord, PassageRecord
from .chars import open_chars
from .postings import Postings

SEGMENTS = "segments"


@dataclass
class SegmentRef:
    """A version's entry for one segment: its folder name, size, and the documents deleted from it."""

    name: str
    passages: int
    documents: int
    deleted: list[str] = field(default_factory=list)  # doc ids tombstoned in this version
    deleted_passages: int = 0

    @property
    def live_passages(self) -> int:
        return self.passages - self.deleted_passages

    def to_json(self) -> dict:
        return {"name": self.name, "passages": self.passages, "documents": self.documents,
                "deleted": sorted(self.deleted), "deleted_passages": self.deleted_passages}

    @classmethod
    def from_json(cls, data: dict) -> "SegmentRef":
        return cls(name=data["name"], passages=int(data["passages"]), documents=int(data["documents"]),
                   deleted=list(data.get("deleted", [])), deleted_passages=int(data.get("deleted_passages", 0)))


def segment_refs(manifest) -> list[SegmentRef]:
    """The segments a manifest lists (none for a version written before segments)."""
    return [SegmentRef.from_json(s) for s in manifest.segments]


@dataclass
class DocumentRun:
    """A document's passages in a segment: consecutive local positions first .. first+count-1."""

    doc_id: str
    first: int
    count: int


class Segment:
    """One segment folder opened for reading: SQLite records, the FAISS index, the postings and character index
    (shared by readers)."""

    def __init__(self, folder: Path) -> None:
        from .dense import DenseIndex  # dense reads through store, which imports this module

        self.folder = folder
        uri = f"file:{folder / 'index.sqlite'}?mode=ro"
        self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.lock = threading.Lock()  # sqlite3 connections are not safe for concurrent use
        (self.size,) = self.conn.execute("SELECT COUNT(*) FROM passages").fetchone()
        self.dense = DenseIndex(folder)
        self.postings = Postings(folder / "postings") if (folder / "postings").is_dir() else None
        self.chars = open_chars(folder)  # None: written before segments had one (match levels build it in memory)
        self.runs = document_runs(self.conn, self.size)
        self.documents = stored_documents(self.conn, self.lock)

    def query(self, sql: str, params=()) -> list[sqlite3.Row]:
        """Rows of a read-only query (under the segment's lock)."""
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def tuples(self, sql: str, params=()) -> list[tuple]:
        """Rows of a read-only query as plain tuples (no sqlite3.Row per row: hot paths read hundreds)."""
        with self.lock:
            cursor = self.conn.cursor()
            cursor.row_factory = None
            return cursor.execute(sql, params).fetchall()


_OPEN: "weakref.WeakValueDictionary[str, Segment]" = weakref.WeakValueDictionary()
_OPEN_GUARD = threading.Lock()


def open_segment(folder: Path) -> Segment:
    """A segment, shared with any reader of this process that has it open (it never changes on disk): a new
    version that adds a small segment is opened by loading only that segment."""
    key = str(folder.resolve())
    with _OPEN_GUARD:
        segment = _OPEN.get(key)
    if segment is None:
        segment = Segment(folder)
        with _OPEN_GUARD:
            segment = _OPEN.setdefault(key, segment)
    return segment


def document_runs(conn, size: int) -> list[DocumentRun]:
    """Each document's run of local positions; a segment always writes a document's passages together."""
    rows = conn.execute("SELECT doc_id, MIN(pos), MAX(pos), COUNT(*) FROM passages GROUP BY doc_id").fetchall()
    if any(r[2] - r[1] + 1 != r[3] for r in rows) or sum(r[3] for r in rows) != size:
        raise ValueError("a document's passages are not consecutive in this segment")
    return sorted((DocumentRun(r[0], r[1], r[3]) for r in rows), key=lambda r: r.first)


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


def new_name(prefix: str) -> str:
    """A folder name that sorts by time and never repeats."""
    return time.strftime(f"{prefix}%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def ordered(documents: list[DocumentRecord], passages: list[PassageRecord], vectors: np.ndarray
            ) -> tuple[list[DocumentRecord], list[PassageRecord], np.ndarray]:
    """Documents in (name, id) order, each one's passages together in ordinal order, vectors alongside:
    the order readers number positions in, so a segment's positions are the version's in miniature."""
    docs = sorted(documents, key=lambda d: (d.name, d.doc_id))
    rank = {d.doc_id: i for i, d in enumerate(docs)}
    order = sorted(range(len(passages)), key=lambda i: (rank[passages[i].doc_id], passages[i].ordinal))
    if order == list(range(len(passages))):
        return docs, passages, vectors
    return docs, [passages[i] for i in order], vectors[order] if len(order) else vectors
