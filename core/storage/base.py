"""The storage seam: what a backend must do to publish versions and to read one, and shared rank helpers.

A backend is one storage (publishes a complete version or a change to the published one, opens a reader of it) and one
reader (lexical and dense top-n with filters, passages and vectors by position, document frequencies). A
reader numbers the version's passages 0..n-1 ("positions", in document-name and ordinal order). Fusion,
grouping, facets and highlighting stay in the engine, so every backend ranks the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np

from ..filters import Filters
from ..model import ModelInfo
from ..records import DocumentRecord, Manifest, PassageRecord


@dataclass
class IndexChanges:
    """One publish's change: documents new or changed (each with all of its passages and their vectors, in
    the same order) and documents removed by id; every other document of the published version stays."""

    documents: list[DocumentRecord] = field(default_factory=list)
    passages: list[PassageRecord] = field(default_factory=list)
    vectors: np.ndarray | None = None
    removed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.vectors is None:
            self.vectors = np.zeros((0, 0), np.float32)


class CharOccurrences(Protocol):
    """A segment's character index as the match levels read it (the embedded backend's `chars/`)."""

    size: int
    heading: np.ndarray  # per passage, a code into `headings`
    headings: list[list[str]]  # the distinct heading paths
    kind: np.ndarray  # per passage, a code into `kinds`
    kinds: list[str]

    def lengths(self) -> np.ndarray:
        """Each passage's length in characters."""

    def occurrences(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(passages holding `term`, how often each), passages ascending; None where the index can't say."""


def codes_of(values: list[str]) -> tuple[list[str], np.ndarray]:
    """(distinct values in order of first appearance, int32 code of each value)."""
    names: dict[str, int] = {}
    codes = np.fromiter((names.setdefault(v, len(names)) for v in values), dtype=np.int32, count=len(values))
    return list(names), codes


class IndexReader(Protocol):
    """One published version, read-only."""

    version: str
    manifest: Manifest
    model: ModelInfo
    documents: dict[str, DocumentRecord]
    passage_pos: dict[str, int]
    doc_of_pos: list[str]
    overlap_retrieval: bool  # True: a hybrid search runs BM25 and dense retrieval at once (each is slow enough)

    def lexical_top(self, tokens: list[str], n: int, filters: Filters, exclude_doc: str | None) -> list[int]:
        """Positions of the n best BM25 matches (positive scores only), best first."""

    def lexical_ranked(self, tokens: list[str], n: int, filters: Filters, exclude_doc: str | None) -> list[tuple[int, float]]:
        """(position, BM25 score) of the n best matches, in lexical_top's order (score fusion needs them)."""

    def dense_ranked(self, vector: np.ndarray, n: int, filters: Filters, exclude_doc: str | None) -> list[tuple[int, float]]:
        """(position, cosine) of the n nearest passages, in dense_top's order."""

    def dense_top(self, vector: np.ndarray, n: int, filters: Filters, exclude_doc: str | None,
                  per_doc: int | None = None) -> list[int]:
        """Positions of the n nearest passages, best first; at most `per_doc` of a document when given."""

    def passage_at(self, pos: int) -> PassageRecord:
        """The passage at a position."""

    def passages_at(self, positions: list[int]) -> list[PassageRecord]:
        """The passages at several positions, in the order given (one round trip)."""

    def passage_columns(self, positions: list[int], columns: Sequence[str]) -> list[tuple]:
        """Some stored columns (passage_row's names: tokens joined by spaces) of several positions, in the
        order given, without building whole records: find-similar's second stage reads ~150 candidates."""

    def vector_at(self, pos: int) -> np.ndarray:
        """The stored vector of the passage at a position."""

    def vectors_at(self, positions: list[int]) -> np.ndarray:
        """The stored vectors of several positions, one row each in the order given (one round trip)."""

    def document_passages(self, doc_id: str) -> list[PassageRecord]:
        """A document's passages in order."""

    def doc_freq(self, token: str) -> int:
        """In how many passages a token occurs (0 when unknown)."""


class IndexStorage(Protocol):
    """Where an index lives: publish a complete version, read the current one back, open its reader."""

    location: str  # shown in messages
    refresh_interval: float  # seconds a server waits between asking for a newer version (0: every request)

    def writer_lock(self) -> AbstractContextManager[None]:
        """Held while a version is computed and published (IndexBusyError when another writer holds it)."""

    def manifest(self) -> Manifest:
        """The published version's manifest; IndexNotFoundError when none."""

    def current_version(self) -> str | None:
        """The published version's name, or None."""

    def load(self) -> tuple[list[DocumentRecord], list[PassageRecord], np.ndarray]:
        """The published version's documents, passages and their vectors (same order)."""

    def documents(self, with_text: bool = True) -> list[DocumentRecord]:
        """The published version's documents (their texts empty unless asked for)."""

    def document_vectors(self, doc_ids: list[str]) -> tuple[list[PassageRecord], np.ndarray]:
        """Some documents' passages and vectors in the published version (for reuse when they change)."""

    def publish(self, documents: list[DocumentRecord], passages: list[PassageRecord], vectors: np.ndarray,
                model: ModelInfo) -> str:
        """Write a complete new version and make it the current one; returns its name."""

    def publish_changes(self, changes: IndexChanges, model: ModelInfo) -> str:
        """Publish a change to the current version, writing only what changed; returns the new version's name.
        KeyError when a removed id is not in the index."""

    def merge_if_due(self) -> str | None:
        """Compact what changes piled up (segments, deleted rows) when due; the new version's name or None."""

    def open_reader(self) -> IndexReader:
        """A reader of the published version."""


TIE_DECIMALS = 5  # scores equal to this many decimals are ties (float sums differ between engines)


def tie_ordered(ranked: list[tuple[int, float]]) -> list[int]:
    """Positions in the retriever's order, with each run of tied scores put in position order.

    Backends break ties differently (and sum floats in another order), so equal-scoring passages
    (duplicated articles, identical measures) would swap places between them; position order is the same
    in both. Only the magnitude of adjacent scores is compared, never their sign or scale.
    """
    return [pos for pos, _ in tie_ordered_scored(ranked)]


def tie_ordered_scored(ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """tie_ordered, keeping each position's score."""
    out: list[tuple[int, float]] = []
    run: list[tuple[int, float]] = []
    previous = None
    for pos, score in ranked:
        key = round(abs(score), TIE_DECIMALS)
        if key != previous and run:
            out += sorted(run)
            run = []
        run.append((pos, score))
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
