"""Dense retrieval: inner product over normalized passage embeddings in FAISS (exact, or IVF at scale)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .store import read_dense_index

FILTERED_EXACT_MAX = 20_000  # a filter admitting at most this many passages is searched exactly


class DenseIndex:
    """A loaded FAISS index of passage vectors."""

    def __init__(self, version_dir: Path) -> None:
        import faiss

        self.index = read_dense_index(version_dir)
        self.approximate = isinstance(self.index, faiss.IndexIVF)

    @property
    def size(self) -> int:
        """Number of passages."""
        return int(self.index.ntotal)

    def vector(self, pos: int) -> np.ndarray:
        """The stored vector of one passage."""
        return self.index.reconstruct(int(pos))

    def vectors_at(self, positions: np.ndarray) -> np.ndarray:
        """The stored vectors of several positions, one row each in the order given."""
        return self.index.reconstruct_batch(np.asarray(positions, dtype=np.int64))

    def top(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(position, cosine) of the n nearest passages, best first; `allowed` masks positions."""
        if self.size == 0 or n <= 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        if allowed is None:
            scores, ids = self.index.search(query, min(n, self.size))
        else:
            admitted = np.flatnonzero(allowed)
            if len(admitted) == 0:
                return []
            if self.approximate and len(admitted) <= FILTERED_EXACT_MAX:
                return self._exact_among(query[0], admitted, n)
            scores, ids = self.index.search(query, min(n, len(admitted)), params=self._selecting(allowed))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def _selecting(self, allowed: np.ndarray):
        """Search parameters that admit only the allowed positions (FAISS skips the others while scanning)."""
        import faiss

        bitmap = np.packbits(allowed.astype(np.uint8), bitorder="little")
        selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
        if self.approximate:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self.index.nprobe)
        else:
            params = faiss.SearchParameters(sel=selector)
        params._keep = (bitmap, selector)  # FAISS holds raw pointers: keep the buffers alive with the params
        return params

    def _exact_among(self, query: np.ndarray, admitted: np.ndarray, n: int) -> list[tuple[int, float]]:
        """Exact top n among a small admitted set (IVF cells could miss most of a narrow filter)."""
        vectors = self.index.reconstruct_batch(admitted.astype(np.int64))
        scores = vectors @ query
        best = np.argsort(-scores, kind="stable")[:n]
        return [(int(admitted[i]), float(scores[i])) for i in best]
