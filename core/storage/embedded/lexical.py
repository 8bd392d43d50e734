"""BM25 retrieval over the jieba tokens of the matching form: bm25s (versions before segments) or
query-time scoring over segments' postings with the whole version's statistics."""

from __future__ import annotations

import math
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


def ranked_positive(scores: np.ndarray, n: int) -> list[int]:
    """Indices of the n largest positive scores, in descending order."""
    positive = int((scores > 0).sum())
    n = min(n, positive)
    if n <= 0:
        return []
    part = np.argpartition(-scores, n - 1)[:n]
    return [int(i) for i in part[np.argsort(-scores[part], kind="stable")]]


# bm25s' defaults as publish built it before segments (BM25() with method "lucene"): the parity test holds
# query-time scores to bm25s' own on a full rebuild of the same passages.
BM25_K1 = 1.5
BM25_B = 0.75


class SegmentedLexical:
    """BM25 (Lucene variant, as bm25s scores it) over several segments' postings, with the statistics of the
    live passages of all of them: results equal those of one bm25s index built from the live passages."""

    def __init__(self, postings: list, local_to_global: list[np.ndarray], size: int) -> None:
        self.postings, self.l2g, self.size = postings, local_to_global, size
        total_length = 0
        for p, l2g in zip(postings, local_to_global):
            total_length += int(np.asarray(p.lengths, dtype=np.int64)[l2g >= 0].sum()) if p.size else 0
        self.avgdl = total_length / size if size else 0.0

    def _columns(self, token: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(global positions, tf, passage lengths) of a token's live passages in every segment."""
        out = []
        for p, l2g in zip(self.postings, self.l2g):
            column = p.column(token)
            if column is None:
                continue
            local, tf = column
            positions = l2g[local]
            live = positions >= 0
            if live.any():
                out.append((positions[live], tf[live], np.asarray(p.lengths)[local[live]]))
        return out

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of each live passage (a repeated query token counts again, as in bm25s)."""
        out = np.zeros(self.size, np.float32)
        if not self.size:
            return out
        for token in tokens:
            columns = self._columns(token)
            df = sum(len(c[0]) for c in columns)
            if df == 0:
                continue
            idf = np.float32(math.log(1 + (self.size - df + 0.5) / (df + 0.5)))
            for positions, tf, lengths in columns:
                tf = tf.astype(np.float32)
                tfc = tf / (BM25_K1 * ((1 - BM25_B) + BM25_B * lengths / self.avgdl) + tf)
                out[positions] += (idf * tfc).astype(np.float32)  # a passage appears once per column
        return out

    def doc_freq(self, token: str) -> int:
        """In how many live passages a token occurs."""
        return sum(len(c[0]) for c in self._columns(token))

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
        scores = self.scores(tokens)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        return [(pos, float(scores[pos])) for pos in ranked_positive(scores, n)]
