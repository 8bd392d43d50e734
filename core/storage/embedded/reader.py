"""The embedded backend's reader: a version's segments (SQLite records, FAISS, postings) as one index."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from ...filters import Filters
from ...records import DocumentRecord, PassageRecord, document_from_row, passage_from_row
from ..base import grouped_top, tie_ordered, tie_ordered_scored
from .dense_segments import SegmentedDense
from .lexical import LexicalIndex, SegmentedLexical
from .positions import layout
from .segments import SEGMENTS, open_segment, segment_refs
from .store import read_manifest


MASK_CACHE_SIZE = 32  # filter masks kept per version (one byte per passage each)


class EmbeddedReader:
    """A published version: its segments' SQLite records, FAISS indexes and postings behind one position space.

    Segments are opened once per process and shared between readers of successive versions (they never
    change), so a version that adds one small segment opens in the time that segment takes to load.
    """

    def __init__(self, version_dir: Path) -> None:
        self.dir = version_dir
        self.manifest = read_manifest(version_dir)
        self.version = self.manifest.version
        self.model = self.manifest.model
        refs = segment_refs(self.manifest)
        if refs:
            folder = version_dir.parent.parent / SEGMENTS
            self.segments = [open_segment(folder / r.name) for r in refs]
            deleted = [set(r.deleted) for r in refs]
        else:  # a version written before segments: its own folder is its one segment, in its stored order
            self.segments = [open_segment(version_dir)]
            deleted = [set()]
        self.layout = layout(self.segments, deleted, by_name=bool(refs))
        self.lock = threading.Lock()
        # Nothing per passage is held as a Python object: a million of them would cost ~250 bytes each.
        self.documents = self.layout.documents
        self.doc_list = list(self.documents.values())
        self.doc_index = self.layout.doc_index
        self.doc_of_pos = DocumentOfPosition(list(self.documents), self.doc_index)
        self.passage_pos = PassagePositions(self)
        self.dense = SegmentedDense([s.dense for s in self.segments], self.layout)
        # An IVF base (above EXACT_MAX passages): its dense search takes milliseconds, as BM25 does, so a
        # hybrid search overlaps them. An exact index answers in ~0.1 ms, less than handing it to a thread.
        self.overlap_retrieval = self.dense.approximate
        if refs:
            self.lexical = SegmentedLexical([s.postings for s in self.segments], self.layout.local_to_global,
                                            self.layout.size)
        else:
            self.lexical = LexicalIndex(version_dir / "bm25", self.layout.size)
        self._masks: dict[tuple[Filters, str | None], tuple[np.ndarray, list]] = {}

    def _masked(self, filters: Filters, exclude_doc: str | None) -> tuple[np.ndarray | None, list | None]:
        """The global mask and its per-segment masks; the last few are kept (one query asks twice)."""
        if not filters.active and exclude_doc is None:
            return None, None
        key = (filters, exclude_doc)
        with self.lock:
            cached = self._masks.get(key)
        if cached is not None:
            return cached
        admitted = np.array(
            [filters.admits(d) and d.doc_id != exclude_doc for d in self.doc_list], dtype=bool,
        )
        mask = admitted[self.doc_index] if len(self.doc_index) else np.zeros(0, dtype=bool)
        entry = (mask, self.dense.local_masks(mask))
        with self.lock:
            self._masks[key] = entry
            while len(self._masks) > MASK_CACHE_SIZE:
                self._masks.pop(next(iter(self._masks)))
        return entry

    def mask(self, filters: Filters, exclude_doc: str | None = None) -> np.ndarray | None:
        """Which passages may be returned (None: all)."""
        return self._masked(filters, exclude_doc)[0]

    def lexical_top(self, tokens: list[str], n: int, filters: Filters, exclude_doc: str | None) -> list[int]:
        return tie_ordered(self.lexical.top(tokens, n, self.mask(filters, exclude_doc)))

    def lexical_ranked(self, tokens: list[str], n: int, filters: Filters, exclude_doc: str | None) -> list[tuple[int, float]]:
        return tie_ordered_scored(self.lexical.top(tokens, n, self.mask(filters, exclude_doc)))

    def dense_ranked(self, vector: np.ndarray, n: int, filters: Filters, exclude_doc: str | None) -> list[tuple[int, float]]:
        allowed, masks = self._masked(filters, exclude_doc)
        return tie_ordered_scored(self.dense.top(vector, n, allowed, masks))

    def dense_top(self, vector: np.ndarray, n: int, filters: Filters, exclude_doc: str | None,
                  per_doc: int | None = None) -> list[int]:
        allowed, masks = self._masked(filters, exclude_doc)

        def fetch(size: int) -> list[int]:
            return tie_ordered(self.dense.top(vector, size, allowed, masks))

        if per_doc is None:
            return fetch(n)
        return grouped_top(fetch, self.doc_of_pos, per_doc, n, max(self.dense.size, 1))

    def passage_at(self, pos: int) -> PassageRecord:
        return self.passages_at([pos])[0]

    def passages_at(self, positions: list[int]) -> list[PassageRecord]:
        if not positions:
            return []
        segments, locals_ = self.layout.locate([int(p) for p in positions])
        found: dict[tuple[int, int], PassageRecord] = {}
        for s in np.unique(segments).tolist():
            wanted = [int(x) for x in locals_[segments == s]]
            marks = ",".join("?" * len(wanted))
            for row in self.segments[s].query(f"SELECT * FROM passages WHERE pos IN ({marks})", wanted):
                found[(s, row["pos"])] = passage_from_row(row)
        return [found[(int(s), int(p))] for s, p in zip(segments, locals_)]

    def passage_columns(self, positions: list[int], columns: Sequence[str]) -> list[tuple]:
        if not positions:
            return []
        segments, locals_ = self.layout.locate([int(p) for p in positions])
        names = ", ".join(columns)
        found: dict[tuple[int, int], tuple] = {}
        for s in np.unique(segments).tolist():
            wanted = locals_[segments == s].tolist()
            sql = f"SELECT pos, {names} FROM passages WHERE pos IN ({','.join('?' * len(wanted))})"
            for row in self.segments[s].tuples(sql, wanted):
                found[(s, row[0])] = row[1:]
        return [found[key] for key in zip(segments.tolist(), locals_.tolist())]

    def passage_rows(self, columns: Sequence[str]) -> list[tuple]:
        """Some columns of every live passage, in position order (one scan of each segment)."""
        out: list[tuple] = [()] * self.layout.size
        names = ", ".join(columns)
        for segment, l2g in zip(self.segments, self.layout.local_to_global):
            for row in segment.query(f"SELECT pos, {names} FROM passages ORDER BY pos"):
                g = l2g[row[0]]
                if g >= 0:
                    out[g] = tuple(row)[1:]
        return out

    def passage_parts(self, columns: Sequence[str]) -> list[tuple[object, np.ndarray, Callable[[], list[tuple]]]]:
        """Per segment: the segment (immutable, so a cache key that outlives versions), its local → global
        positions (-1: deleted), and a function reading those columns of all its passages in local order."""
        names = ", ".join(columns)

        def reader(segment) -> Callable[[], list[tuple]]:
            return lambda: [tuple(r) for r in segment.query(f"SELECT {names} FROM passages ORDER BY pos")]

        return [(s, l2g, reader(s)) for s, l2g in zip(self.segments, self.layout.local_to_global)]

    def vector_at(self, pos: int) -> np.ndarray:
        return self.dense.vector(pos)

    def vectors_at(self, positions: list[int]) -> np.ndarray:
        return self.dense.vectors_at(positions)

    def document_passages(self, doc_id: str) -> list[PassageRecord]:
        s = self.layout.doc_segment.get(doc_id)
        if s is None:
            return []
        rows = self.segments[s].query("SELECT * FROM passages WHERE doc_id = ? ORDER BY ordinal", (doc_id,))
        return [passage_from_row(r) for r in rows]

    def doc_freq(self, token: str) -> int:
        return self.lexical.doc_freq(token)

    def full_documents(self) -> list[DocumentRecord]:
        """Every live document with its text, in position order."""
        out = []
        for doc_id, s in ((d, self.layout.doc_segment[d]) for d in self.documents):
            row = self.segments[s].query("SELECT * FROM documents WHERE doc_id = ?", (doc_id,))[0]
            out.append(document_from_row(row))
        return out


class PassagePositions(Mapping):
    """passage id → position, answered by each segment's unique index on passage_id (not a dict of every id).

    A changed document's passages keep their ids, so an id may be in an older segment too, tombstoned there.
    """

    def __init__(self, reader: "EmbeddedReader") -> None:
        self._reader = reader

    def __getitem__(self, passage_id: str) -> int:
        if not isinstance(passage_id, str):
            raise KeyError(passage_id)
        reader = self._reader
        for s in range(len(reader.segments) - 1, -1, -1):  # newest first
            rows = reader.segments[s].query("SELECT pos FROM passages WHERE passage_id = ?", (passage_id,))
            if rows:
                g = int(reader.layout.local_to_global[s][rows[0][0]])
                if g >= 0:
                    return g
        raise KeyError(passage_id)

    def __contains__(self, passage_id: object) -> bool:
        try:
            self[passage_id]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def __len__(self) -> int:
        return self._reader.layout.size

    def __iter__(self) -> Iterator[str]:
        return iter([r[0] for r in self._reader.passage_rows(["passage_id"])])


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
