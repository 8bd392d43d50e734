"""BM25 retrieval over the jieba tokens of the matching form: bm25s (versions before segments) or
query-time scoring over segments' postings with the whole version's statistics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class LexicalIndex:
    """A loaded bm25s index (a version written before segments); scores every passage for a token list."""

    def __init__(self, folder: Path, size: int) -> None:
        import bm25s

        self.size = size
        # memory-mapped: a query reads only its tokens' columns, the rest of the matrix stays on disk
        self.bm25 = bm25s.BM25.load(str(folder), mmap=True, load_corpus=False) if size else None

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of each passage (zeros when no token is known)."""
        if self.bm25 is None:
            return np.zeros(self.size, np.float32)
        ids = self.bm25.get_tokens_ids(tokens)
        if not ids:
            return np.zeros(self.size, np.float32)
        return np.asarray(self.bm25.get_scores(ids), dtype=np.float32)

    def doc_freq(self, token: str) -> int:
        """In how many passages a token occurs (0 when unknown)."""
        if self.bm25 is None or token not in self.bm25.vocab_dict:
            return 0
        if not hasattr(self, "_df"):
            self._df = np.diff(np.asarray(self.bm25.scores["indptr"]))
        return int(self._df[self.bm25.vocab_dict[token]])

    def vocabulary(self) -> list[str]:
        """Every token of the index (bm25s adds the empty token; it is left out)."""
        return [t for t in self.bm25.vocab_dict if t] if self.bm25 is not None else []

    def top(self, tokens: list[str], n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(position, score) of the n best-scoring passages with a positive score, best first."""
        scores = self.scores(tokens)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        return [(pos, float(scores[pos])) for pos in ranked_positive(scores, n)]


def ranked_positive(scores: np.ndarray, n: int, hints: list[np.ndarray] = ()) -> list[int]:
    """Indices of the n largest positive scores, in descending order (ties in index order).

    `hints`: index arrays likely to hold high scores (the rarest query token's passages first). The n-th
    best score among n of them is a lower bound of the n-th best overall, so only the scores at or above it
    are sorted, not the whole array (a partition of a million scores took ~3 ms a query)."""
    if n <= 0 or not len(scores):
        return []
    floor = 0.0
    if hints:
        some, count = [], 0
        for h in hints:
            some.append(h)
            count += len(h)
            if count >= 4 * n:
                break
        some = np.unique(np.concatenate(some))
        values = scores[some]
        values = values[values > 0]
        if len(values) >= n:
            floor = float(np.partition(values, len(values) - n)[len(values) - n])
    candidates = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
    if len(candidates) > n:
        keep = np.argpartition(-scores[candidates], n - 1)[:n]
        cut = scores[candidates[keep]].min()  # every tie of the n-th score stays, then index order decides
        candidates = candidates[scores[candidates] >= cut]
    order = np.lexsort((candidates, -scores[candidates]))[:n]
    return [int(i) for i in candidates[order]]


@dataclass
class Column:
    """One segment's part of a token's postings: live passages' global positions, their tf, and their local
    positions (where the length norms are read)."""

    positions: np.ndarray
    tf: np.ndarray
    local: np.ndarray
    segment: int


# A segment whose live passages form at most this many runs of consecutive global positions maps a column
# through them (a slice and an add each) instead of a gather through its local → global map. After one add
# and one delete at a million passages the base segment had two runs; a column of 200,000 passages took
# 0.64 ms through the map and 0.10 ms through the runs (docs/benchmarks.md, "BM25 after a change").
RUNS_MAX = 64
RUNS_MIN_COLUMN = 4096  # a shorter column gathers faster than it is sliced into runs (7 against 19 µs at 1,000)


@dataclass
class Runs:
    """A segment's live passages as runs: local [start, end) maps to global start+shift … end-1+shift."""

    starts: np.ndarray
    ends: np.ndarray
    shifts: np.ndarray
    size: int  # the segment's local positions

    @property
    def whole(self) -> bool:
        """One run over every local position: the map is local + shift."""
        return len(self.starts) == 1 and self.starts[0] == 0 and self.ends[0] == self.size

    def bounds(self) -> np.ndarray:
        """starts and ends interleaved, for one searchsorted of a column."""
        return np.stack([self.starts, self.ends], 1).ravel()


def live_runs(l2g: np.ndarray, limit: int = RUNS_MAX) -> Runs | None:
    """The maximal runs of live local positions whose global positions are consecutive, or None when there
    are none or more than `limit` of them (the map is then gathered through)."""
    n = len(l2g)
    if n == 0:
        return None
    live = l2g >= 0
    shift = l2g.astype(np.int64) - np.arange(n, dtype=np.int64)
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = (shift[1:] != shift[:-1]) | (live[1:] != live[:-1])
    starts = np.flatnonzero(new & live)
    if len(starts) == 0 or len(starts) > limit:
        return None
    following = np.flatnonzero(new)
    ends = np.append(following, n)[np.searchsorted(following, starts, side="right")]
    return Runs(starts, ends, shift[starts], n)


def mapped_column(local: np.ndarray, tf: np.ndarray, runs: Runs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(global positions, tf, local positions) of a column's live passages, read through a segment's runs:
    the same arrays as a gather through the local → global map followed by dropping the tombstoned."""
    cut = np.searchsorted(local, runs.bounds()).reshape(-1, 2)
    parts = [(int(a), int(b), int(shift)) for (a, b), shift in zip(cut, runs.shifts) if b > a]
    positions = np.empty(sum(b - a for a, b, _ in parts), dtype=local.dtype)
    at = 0
    for a, b, shift in parts:
        np.add(local[a:b], shift, out=positions[at : at + b - a])
        at += b - a
    if not parts:
        return positions, tf[:0], local[:0]
    if all(parts[i][1] == parts[i + 1][0] for i in range(len(parts) - 1)):  # no tombstone inside the column
        return positions, tf[parts[0][0] : parts[-1][1]], local[parts[0][0] : parts[-1][1]]
    return (positions, np.concatenate([tf[a:b] for a, b, _ in parts]),
            np.concatenate([local[a:b] for a, b, _ in parts]))


# bm25s' defaults as publish built it before segments (BM25() with method "lucene"): the parity test holds
# query-time scores to bm25s' own on a full rebuild of the same passages.
BM25_K1 = 1.5
BM25_B = 0.75


class SegmentedLexical:
    """BM25 (Lucene variant, as bm25s scores it) over several segments' postings, with the statistics of the
    live passages of all of them: results equal those of one bm25s index built from the live passages.

    Per version it keeps each segment's length normalization k1·(1 − b + b·|d|/avgdl) as float32 (4 bytes a
    passage), and each segment's live runs of consecutive global positions: a segment of few runs (a fresh
    build is one; a base after a few adds and deletes, a few) needs no gather through the map. With float32
    arithmetic in place and int32 indices read as they are, BM25's top 200 at a million passages went from ~13
    to ~3 ms a query (docs/benchmarks.md, "The query path at a million passages, profiled")."""

    def __init__(self, postings: list, local_to_global: list[np.ndarray], size: int) -> None:
        self.postings, self.l2g, self.size = postings, local_to_global, size
        total_length = 0
        for p, l2g in zip(postings, local_to_global):
            total_length += int(np.asarray(p.lengths, dtype=np.int64)[l2g >= 0].sum()) if p.size else 0
        self.avgdl = total_length / size if size else 0.0
        self._norms = [
            (BM25_K1 * ((1 - BM25_B) + BM25_B * np.asarray(p.lengths, dtype=np.float64) / self.avgdl)).astype(np.float32)
            if p.size and self.avgdl else np.zeros(p.size, np.float32)
            for p in postings
        ]
        self._runs = [live_runs(l2g) for l2g in local_to_global]
        # The last query's scores: a filtered search asks for the same tokens twice in a row (once for the
        # facets, unfiltered, and once filtered), and scoring them is most of BM25's time. One entry, swapped
        # whole, so concurrent queries at worst miss it.
        self._last: tuple[tuple[str, ...], tuple[np.ndarray, list[np.ndarray]]] | None = None

    def _columns(self, token: str) -> list[Column]:
        """A token's live passages in every segment: global positions, tf and where to read their norms."""
        out = []
        for s, (p, l2g, runs) in enumerate(zip(self.postings, self.l2g, self._runs)):
            column = p.column(token)
            if column is None:
                continue
            local, tf = column
            if runs is not None and runs.whole:  # one run of global positions, nothing tombstoned
                shift = int(runs.shifts[0])
                out.append(Column(local + shift if shift else local, tf, local, s))
                continue
            if runs is not None and len(local) >= RUNS_MIN_COLUMN:
                positions, tf, local = mapped_column(local, tf, runs)
                if len(positions):
                    out.append(Column(positions, tf, local, s))
                continue
            positions = np.take(l2g, local)
            live = positions >= 0
            if live.all():
                out.append(Column(positions, tf, local, s))
            elif live.any():
                out.append(Column(positions[live], tf[live], local[live], s))
        return out

    def _terms(self, tokens: list[str]) -> list[tuple[np.float32, list[Column]]]:
        """(idf, columns) of each known query token, highest idf first (ties in query order); a repeated
        token counts again, as in bm25s."""
        terms = []
        for token in tokens:
            columns = self._columns(token)
            df = sum(len(c.positions) for c in columns)
            if df:
                terms.append((np.float32(math.log(1 + (self.size - df + 0.5) / (df + 0.5))), columns))
        terms.sort(key=lambda t: -t[0])
        return terms

    def _scored(self, tokens: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """(BM25 score of each live passage, the positions of each column added, rarest token first); callers
        must not write to them (the last result is kept for the next call with the same tokens)."""
        key, last = tuple(tokens), self._last
        if last is not None and last[0] == key:
            return last[1]
        result = self._computed(tokens)
        self._last = (key, result)
        return result

    def _computed(self, tokens: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """_scored's result, computed afresh."""
        out = np.zeros(self.size, np.float32)
        touched: list[np.ndarray] = []
        for idf, columns in self._terms(tokens) if self.size else []:
            for column in columns:  # idf · tf / (tf + k1·(1 − b + b·|d|/avgdl)), float32, in place
                impact = np.take(self._norms[column.segment], column.local)
                impact += column.tf
                np.divide(column.tf, impact, out=impact)
                impact *= idf
                # a passage appears once per column, so this is out[positions] += impact; take and add.at
                # read int32 indices as they are (fancy indexing converts them first: ~2x the time at 1M)
                np.add.at(out, column.positions, impact)
                touched.append(column.positions)
        return out, touched

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of each live passage (a repeated query token counts again, as in bm25s)."""
        return self._scored(tokens)[0].copy()

    def doc_freq(self, token: str) -> int:
        """In how many live passages a token occurs."""
        return sum(len(c.positions) for c in self._columns(token))

    def vocabulary(self) -> list[str]:
        """Every token of a live passage."""
        words: set[str] = set()
        for p, l2g in zip(self.postings, self.l2g):
            if p.size == 0:
                continue
            if (l2g >= 0).all():
                words.update(p.vocab)
                continue
            live = (l2g >= 0)[np.asarray(p.indices)].astype(np.int64)
            counts = np.add.reduceat(live, np.asarray(p.indptr[:-1])) if len(live) else np.zeros(0)
            words.update(t for t, i in p.vocab.items() if counts[i] > 0)
        return sorted(words)

    def top(self, tokens: list[str], n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(position, score) of the n best-scoring passages with a positive score, best first."""
        scores, touched = self._scored(tokens)
        if allowed is not None:
            scores = np.where(allowed, scores, np.float32(0))
        return [(pos, float(scores[pos])) for pos in ranked_positive(scores, n, touched)]
