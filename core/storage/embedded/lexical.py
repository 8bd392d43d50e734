"""BM25 retrieval over the jieba tokens of the matching form (bm25s)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class LexicalIndex:
    """A loaded bm25s index; scores every passage for a token list."""

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
