"""Dense retrieval: inner product over normalized passage embeddings in FAISS."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class DenseIndex:
    """A loaded FAISS index of passage vectors."""

    def __init__(self, path: Path) -> None:
        import faiss

        self.index = faiss.read_index(str(path))

    @property
    def size(self) -> int:
        """Number of passages."""
        return int(self.index.ntotal)

    def vector(self, pos: int) -> np.ndarray:
        """The stored vector of one passage."""
        return self.index.reconstruct(int(pos))

    def top(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(position, cosine) of the n nearest passages, best first; `allowed` masks positions."""
        if self.size == 0 or n <= 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if allowed is None:
            scores, ids = self.index.search(query, min(n, self.size))
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]
        # Filtered search: over-fetch, then widen until enough allowed hits or everything was seen.
        fetch = min(self.size, max(n * 4, 64))
        while True:
            scores, ids = self.index.search(query, fetch)
            hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0 and allowed[i]]
            if len(hits) >= n or fetch >= self.size:
                return hits[:n]
            fetch = min(self.size, fetch * 4)
