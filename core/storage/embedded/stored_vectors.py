"""A segment's passage vectors as fp16 rows in `vectors.npy`, read a few rows at a time with pread.

Not memory-mapped: on every page fault the kernel maps up to 16 neighbouring pages of a mapping (fault-
around), so a few hundred queries' scattered candidate rows would make ~the whole file part of the
process's RSS. Rows read with pread stay in the page cache, which the kernel shares and can drop.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FILE = "vectors.npy"
DTYPE = np.float16  # 2 bytes a dimension: re-ranked scores within ~1e-3 of float32's, half the disk


def write_vectors(folder: Path, vectors: np.ndarray) -> None:
    """Save a segment's vectors, in local position order, as fp16."""
    np.save(folder / FILE, np.ascontiguousarray(vectors, dtype=DTYPE))


class StoredVectors:
    """An .npy matrix read by rows with pread (positional reads: safe from many threads on one descriptor)."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = header(handle)
            self.offset = handle.tell()
        if fortran or len(shape) != 2:
            raise ValueError(f"{path}: expected a C-ordered matrix of vectors, got shape {shape}")
        self.path, self.shape, self.dtype = path, (int(shape[0]), int(shape[1])), np.dtype(dtype)
        self.row_bytes = self.shape[1] * self.dtype.itemsize
        self._fd = os.open(path, os.O_RDONLY)

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, positions) -> np.ndarray:
        """float32 rows at these local positions, in the order given; runs of consecutive rows are one read."""
        positions = np.asarray(positions, dtype=np.int64).reshape(-1)
        order = np.argsort(positions, kind="stable")
        ordered = positions[order]
        raw = np.empty((len(positions), self.shape[1]), self.dtype)
        if len(ordered):
            if ordered[0] < 0 or ordered[-1] >= self.shape[0]:
                raise IndexError(f"{self.path}: vector positions outside 0..{self.shape[0] - 1}")
            breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
            starts, ends = np.concatenate([[0], breaks]).tolist(), np.concatenate([breaks, [len(ordered)]]).tolist()
            view = memoryview(raw).cast("B")
            for a, b in zip(starts, ends):
                want = (b - a) * self.row_bytes
                got = os.preadv(self._fd, [view[a * self.row_bytes : b * self.row_bytes]],
                                self.offset + int(ordered[a]) * self.row_bytes)
                if got != want:
                    raise OSError(f"{self.path}: short read ({got} of {want} bytes)")
        out = np.empty(raw.shape, np.float32)
        out[order] = raw
        return out

    def all(self) -> np.ndarray:
        """Every row, float32 (read whole; for merges and the atlas's small indexes)."""
        return np.load(self.path).astype(np.float32)

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
