"""Dense retrieval: inner product over normalized passage embeddings in FAISS (exact, or IVF at scale).

IVF cells written since SQ8 (a segment's dense info has `rerank`) hold a byte a dimension; each search takes
the cells' best n + `extra` candidates and re-ranks them by the segment's fp16 vectors, read with pread from
`vectors.npy` (stored_vectors.py), which also answers vector(), vectors() and the exact filtered path: these
indexes keep no direct map. Older segments (fp16 or float32 cells, no vectors.npy) are searched as before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .store import dense_info, read_dense_index
from .stored_vectors import FILE, StoredVectors

FILTERED_EXACT_MAX = 20_000  # a filter admitting at most this many passages is searched exactly
# A segment with at most this many tombstoned passages is searched without a selector, for that many more
# candidates, and the tombstoned ones dropped: the same hits as the selector's search. A selector over a
# million passages costs a pass over the mask to pack it and slows the scan; at 1M passages with one
# deleted report, dense top 200 took 7.0 ms that way against 5.0 ms around the tombstones (docs/benchmarks.md).
TOMBSTONE_OVERFETCH_MAX = 2_000


def one_omp_thread() -> None:
    """This thread's FAISS calls use one OpenMP thread: a single query gains nothing from more, and each
    thread that calls FAISS keeps its own OpenMP team spinning between calls (CPU a loaded server lacks)."""
    import faiss

    faiss.omp_set_num_threads(1)


class DenseIndex:
    """A loaded FAISS index of passage vectors (and, for SQ8 cells, the on-disk vectors that re-rank them)."""

    def __init__(self, folder: Path) -> None:
        import faiss

        self.index = read_dense_index(folder)
        self.approximate = isinstance(self.index, faiss.IndexIVF)
        rerank = dense_info(folder).get("rerank")
        self.stored = StoredVectors(folder / rerank.get("file", FILE)) if rerank else None
        self.rerank_extra = int(rerank.get("extra", 0)) if rerank else 0
        if self.stored is not None and len(self.stored) != self.size:
            raise ValueError(f"{folder}: {len(self.stored)} stored vectors for {self.size} indexed passages")

    @property
    def size(self) -> int:
        """Number of passages."""
        return int(self.index.ntotal)

    def vector(self, pos: int) -> np.ndarray:
        """The stored vector of one passage."""
        if self.stored is not None:
            return self.stored.rows([pos])[0]
        return self.index.reconstruct(int(pos))

    def vectors_at(self, positions: np.ndarray) -> np.ndarray:
        """The stored vectors of several positions, one row each in the order given."""
        if self.stored is not None:
            return self.stored.rows(np.asarray(positions, dtype=np.int64))
        return self.index.reconstruct_batch(np.asarray(positions, dtype=np.int64))

    def vectors(self) -> np.ndarray:
        """Every stored vector in local position order, float32 (for SQ8 cells, the fp16 file's, not the codes)."""
        if self.stored is not None:
            return self.stored.all()
        if self.size == 0:
            return np.zeros((0, self.index.d), np.float32)
        return self.index.reconstruct_n(0, self.size)

    def top(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None,
            dead: np.ndarray | None = None) -> list[tuple[int, float]]:
        """(position, cosine) of the n nearest passages, best first; `allowed` masks positions. `dead`: the
        few positions (sorted) that `allowed` leaves out, when the caller knows them (a segment's tombstones)."""
        if self.size == 0 or n <= 0:
            return []
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        wanted = n + self.rerank_extra
        if allowed is None:
            scores, ids = self.index.search(query, min(wanted, self.size))
        elif dead is not None and not (self.approximate and self.size - len(dead) <= FILTERED_EXACT_MAX):
            if self.size - len(dead) <= 0:
                return []
            return self._around(query, n, dead)  # no selector: a million-bit mask costs more than the search
        else:
            admitted = np.flatnonzero(allowed)
            if len(admitted) == 0:
                return []
            if self.approximate and len(admitted) <= FILTERED_EXACT_MAX:
                return self._exact_among(query[0], admitted, n)
            scores, ids = self.index.search(query, min(wanted, len(admitted)), params=self._selecting(allowed))
        if self.stored is not None:
            return self._reranked(query[0], ids[0], n)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def _around(self, query: np.ndarray, n: int, dead: np.ndarray) -> list[tuple[int, float]]:
        """The n nearest among the positions not in `dead` (few, sorted): the unfiltered search's best
        n + extra + len(dead), the dead dropped, which are the candidates a selector admitting the rest finds."""
        wanted = min(n + self.rerank_extra, self.size - len(dead))
        scores, ids = self.index.search(query, min(wanted + len(dead), self.size))
        keep = (ids[0] >= 0) & ~np.isin(ids[0], dead, assume_unique=True)
        scores, ids = scores[0][keep][:wanted], ids[0][keep][:wanted]
        if self.stored is not None:
            return self._reranked(query[0], ids, n)
        return [(int(i), float(s)) for i, s in zip(ids[:n], scores[:n])]

    def _reranked(self, query: np.ndarray, ids: np.ndarray, n: int) -> list[tuple[int, float]]:
        """The best n candidates by their stored fp16 vectors (ties: lower position first)."""
        ids = np.sort(ids[ids >= 0])
        scores = self.stored.rows(ids) @ query
        best = np.argsort(-scores, kind="stable")[:n]
        return [(int(ids[i]), float(scores[i])) for i in best]

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
        if self.stored is not None:
            vectors = self.stored.rows(admitted)
        else:
            vectors = self.index.reconstruct_batch(admitted.astype(np.int64))
        scores = vectors @ query
        best = np.argsort(-scores, kind="stable")[:n]
        return [(int(admitted[i]), float(scores[i])) for i in best]
