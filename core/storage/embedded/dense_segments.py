"""Dense retrieval over segments: each segment's FAISS index searched (the base's IVF, small ones exact),
tombstoned passages masked, the hits merged by score into the version's positions."""

from __future__ import annotations

import numpy as np

from .dense import TOMBSTONE_OVERFETCH_MAX
from .positions import Layout


def few_tombstones(live: np.ndarray | None) -> np.ndarray | None:
    """A segment's tombstoned local positions (sorted) where there are some but few enough to search around."""
    if live is None:
        return None
    dead = np.flatnonzero(~live)
    return dead if len(dead) <= TOMBSTONE_OVERFETCH_MAX else None


class SegmentedDense:
    """The dense indexes of a version's segments behind the version's global positions."""

    def __init__(self, parts: list, layout: Layout) -> None:
        self.parts, self.layout = parts, layout
        self.live = [layout.live(s) for s in range(len(parts))]
        self.dead = [few_tombstones(live) for live in self.live]

    @property
    def size(self) -> int:
        """Number of live passages."""
        return self.layout.size

    @property
    def approximate(self) -> bool:
        return any(p.approximate for p in self.parts)

    @property
    def dim(self) -> int:
        return int(self.parts[0].index.d)

    def vector(self, pos: int) -> np.ndarray:
        """The stored vector of the passage at a global position."""
        segment, local = self.layout.locate([pos])
        return self.parts[int(segment[0])].vector(int(local[0]))

    def vectors_at(self, positions: list[int]) -> np.ndarray:
        """The stored vectors of several global positions, one row each in the order given."""
        out = np.zeros((len(positions), self.dim), np.float32)
        if not len(positions):
            return out
        segments, local = self.layout.locate([int(p) for p in positions])
        for s in np.unique(segments).tolist():
            rows = np.flatnonzero(segments == s)
            out[rows] = self.parts[s].vectors_at(local[rows])
        return out

    def vectors(self) -> np.ndarray:
        """Every live vector in position order."""
        out = np.zeros((self.size, self.dim), np.float32)
        for part, l2g in zip(self.parts, self.layout.local_to_global):
            if part.size:
                local = np.flatnonzero(l2g >= 0)
                out[l2g[local]] = part.vectors()[local]
        return out

    def local_masks(self, allowed: np.ndarray | None) -> list[np.ndarray | None]:
        """A global mask as one mask per segment (tombstoned passages never admitted)."""
        if allowed is None:
            return self.live
        out = []
        for l2g, live in zip(self.layout.local_to_global, self.live):
            mask = np.zeros(len(l2g), dtype=bool)
            where = np.flatnonzero(l2g >= 0) if live is not None else slice(None)
            mask[where] = allowed[l2g[where]]
            out.append(mask)
        return out

    def top(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None,
            masks: list[np.ndarray | None] | None = None) -> list[tuple[int, float]]:
        """(global position, cosine) of the n nearest live passages, best first; `allowed` masks positions."""
        if self.size == 0 or n <= 0:
            return []
        masks = masks if masks is not None else self.local_masks(allowed)
        if len(self.parts) == 1 and masks[0] is None:
            l2g = self.layout.local_to_global[0]
            return [(int(l2g[p]), s) for p, s in self.parts[0].top(query, n)]
        hits = []
        for part, l2g, mask, live, dead in zip(self.parts, self.layout.local_to_global, masks, self.live, self.dead):
            if not part.size:
                continue
            found = part.top(query, n, mask, dead if mask is live else None)  # only tombstones: search around them
            hits += [(int(l2g[p]), s) for p, s in found]
        hits.sort(key=lambda h: -h[1])
        return hits[:n]
