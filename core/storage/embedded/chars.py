"""A segment's character index: where each character bigram of its passages' matching text occurs, on disk.

The match levels (search/match.py) ask, for a query word, which passages hold it and how often. Holding every
passage's text in memory for that costs ~900 bytes a passage at a million (issue 17), and a scan of all of it
takes seconds per new word. Instead a segment keeps, written once with it (segments never change):

    chars/keys.npy      sorted bigram keys (first code point << 21 | second), int64
    chars/indptr.npy    keys[k]'s occurrences are offsets[indptr[k]:indptr[k+1]], int64
    chars/offsets.npy   where each bigram starts in the passages' lowered matching texts joined by SEPARATOR,
                        ascending per key (int32 while the segment's text fits, int64 beyond)
    chars/skips.npy     offsets[::SKIP]: where in a long column a candidate start can be, without reading it
    chars/starts.npy    each passage's offset in that joined text, and one past the end (n + 1 entries)
    chars/heading.npy   per passage, a code into headings.json (the distinct heading paths), int32
    chars/kind.npy      per passage, a code into kinds.json (the distinct passage kinds), int8

A word's occurrences are the starts where all its bigrams line up (a phrase query over the offsets, driven by
its rarest bigram), so it costs in proportion to how rare that bigram is; counts follow str.count (non-
overlapping, leftmost first). Bigrams across the separator are not indexed, so a match never spans passages.
Offsets are read with pread, the rest memory-mapped: what a process keeps per passage is a few bytes.
"""

from __future__ import annotations

import json
import os
import weakref
from pathlib import Path

import numpy as np

from ..base import codes_of

FOLDER = "chars"
SEPARATOR = "\x00"  # between passages in the joined text; a bigram holding it is not indexed
SHIFT = 21  # bits of a code point (Unicode ends at 0x10FFFF): a bigram key is first << 21 | second
OFFSET32_MAX = 2**31 - 2**16  # joined text shorter than this stores int32 offsets (a word's starts + its length fit)
PART = 1 << 25  # bigrams sorted at once when a segment's index is built (256 MB of int64 keys)
BLOCK = 1 << 22  # characters scanned at once for them (their temporaries ~60 MB)
SKIP = 256  # every 256th offset is kept in memory (~2.5 bytes a passage), so a long column is read a block at a time


def _codes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code points of the texts joined by SEPARATOR, each text's start offset and one past the end)."""
    joined = SEPARATOR.join(texts)
    codes = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    if texts:
        np.cumsum([len(t) + 1 for t in texts], out=starts[1:])
    return codes, starts


def build_chars(texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(keys, indptr, offsets, starts) of these (already lowered) matching texts."""
    codes, starts = _codes(texts)
    if len(codes) < 2:
        return np.zeros(0, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int32), starts
    keys, indptr, offsets = _packed_sort(codes) or _argsorted(codes)
    return keys, indptr, offsets.astype(np.int32 if len(codes) < OFFSET32_MAX else np.int64, copy=False), starts


def _runs(sorted_keys: np.ndarray) -> np.ndarray:
    """indptr of the runs of equal values in a sorted array."""
    if not len(sorted_keys):
        return np.zeros(1, np.int64)
    bounds = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return np.concatenate([[0], bounds, [len(sorted_keys)]]).astype(np.int64)


def _packed_sort(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(keys, indptr, offsets) with code points renumbered by rank among the segment's distinct characters,
    so that a bigram and its offset pack into one int64 sorted in place, PART of them at a time (bigrams by
    first character, so the parts follow each other in key order): at 30M characters (data/ repeated) 3 s
    and 0.7 GB, against 7-9 s and 1.1 GB for _argsorted, and ~12 bytes a character beyond PART. None when
    they don't fit in 63 bits (over a million distinct characters, or tens of thousands in billions)."""
    present = np.zeros(int(codes.max()) + 1, dtype=bool)
    present[codes] = True
    alphabet = np.flatnonzero(present).astype(np.int64)  # distinct code points, ascending: ranks keep the order
    width = len(alphabet)
    offset_bits = len(codes).bit_length()
    if (width * width).bit_length() + offset_bits > 63:
        return None
    rank = np.cumsum(present, dtype=np.int32) - 1
    ranks = rank[codes]
    del present, rank
    sep = int(np.searchsorted(alphabet, ord(SEPARATOR)))
    sep = sep if sep < width and alphabet[sep] == ord(SEPARATOR) else -1
    n = len(codes) - 1
    per_first = np.bincount(ranks[:-1], minlength=width)  # bigrams by first character (an upper bound per part)
    if sep >= 0:
        per_first[sep] = 0
    cuts = np.searchsorted(np.cumsum(per_first), np.arange(PART, int(per_first.sum()), PART), side="right")
    bounds = [0] + sorted(set(cuts.tolist()) - {0, width}) + [width]
    offsets = np.empty(int(per_first.sum()), dtype=np.int32 if len(codes) < OFFSET32_MAX else np.int64)
    keys, indptrs, done = [], [], 0
    for low, high in zip(bounds[:-1], bounds[1:]):
        packed, filled = np.empty(int(per_first[low:high].sum()), dtype=np.int64), 0
        for lo in range(0, n, BLOCK):  # the bigrams whose first character is in [low, high), a block at a time
            first, second = ranks[lo:lo + BLOCK], ranks[lo + 1:lo + BLOCK + 1]
            first = first[: len(second)]
            where = np.flatnonzero((first >= low) & (first < high) & (first != sep) & (second != sep))
            chunk = packed[filled:filled + len(where)]
            np.multiply(first[where], width, out=chunk, dtype=np.int64)
            chunk += second[where]
            chunk <<= offset_bits
            chunk |= where + lo
            filled += len(where)
        packed = packed[:filled]
        packed.sort()
        offsets[done:done + len(packed)] = packed & ((1 << offset_bits) - 1)
        packed >>= offset_bits
        runs = _runs(packed)
        keys.append(packed[runs[:-1]])
        indptrs.append(runs[1:] + done)
        done += len(packed)
        del packed
    del ranks
    pairs = np.concatenate(keys) if keys else np.zeros(0, np.int64)
    indptr = np.concatenate([[0]] + indptrs).astype(np.int64)
    return (alphabet[pairs // width] << SHIFT) | alphabet[pairs % width], indptr, offsets[:done]


def _argsorted(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What _packed_sort gives, by a stable argsort of code point keys (any alphabet, more memory and time)."""
    first, second = codes[:-1], codes[1:]
    where = np.flatnonzero((first != ord(SEPARATOR)) & (second != ord(SEPARATOR)))
    keys = (first[where].astype(np.int64) << SHIFT) | second[where].astype(np.int64)
    order = np.argsort(keys, kind="stable")  # stable: each key's offsets stay ascending
    keys, offsets = keys[order], where[order]
    indptr = _runs(keys)
    return keys[indptr[:-1]], indptr, offsets


def write_chars(folder: Path, match_texts: list[str], heading_paths: list[str], kinds: list[str]) -> None:
    """Write `folder`/chars for passages in local order: their matching texts (lowered here, as the match
    levels compare), heading paths as stored (JSON) and kinds."""
    keys, indptr, offsets, starts = build_chars([t.lower() for t in match_texts])
    headings, heading = codes_of(heading_paths)
    kind_names, kind = codes_of(kinds)
    target = folder / FOLDER
    target.mkdir()
    arrays = {"keys": keys, "indptr": indptr, "offsets": offsets, "skips": offsets[::SKIP], "starts": starts,
              "heading": heading, "kind": kind.astype(np.int8)}
    for name, array in arrays.items():
        np.save(target / f"{name}.npy", array)
    (target / "headings.json").write_text(json.dumps([json.loads(h) for h in headings], ensure_ascii=False),
                                          encoding="utf-8")
    (target / "kinds.json").write_text(json.dumps(kind_names, ensure_ascii=False), encoding="utf-8")


class CharIndex:
    """One segment's character index, memory-mapped: nothing per passage is a Python object."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.keys = np.load(folder / "keys.npy", mmap_mode="r")
        self.indptr = np.load(folder / "indptr.npy", mmap_mode="r")
        self.offsets = np.load(folder / "offsets.npy", mmap_mode="r")
        self.skips = np.load(folder / "skips.npy")
        self._fd = os.open(folder / "offsets.npy", os.O_RDONLY)  # offsets are read with pread: see _read
        weakref.finalize(self, os.close, self._fd)
        self.starts = np.load(folder / "starts.npy", mmap_mode="r")
        self.heading = np.load(folder / "heading.npy", mmap_mode="r")
        self.kind = np.load(folder / "kind.npy", mmap_mode="r")
        self.headings: list[list[str]] = json.loads((folder / "headings.json").read_text("utf-8"))
        self.kinds: list[str] = json.loads((folder / "kinds.json").read_text("utf-8"))

    @property
    def size(self) -> int:
        """Number of passages."""
        return len(self.starts) - 1

    def lengths(self) -> np.ndarray:
        """Each passage's matching text length in characters."""
        return np.diff(np.asarray(self.starts)) - 1

    def _column(self, first: str, second: str) -> tuple[int, int] | None:
        """Where one bigram's offsets are (start, end in offsets), or None when the segment lacks it."""
        key = (ord(first) << SHIFT) | ord(second)
        k = int(np.searchsorted(self.keys, key))
        if k == len(self.keys) or int(self.keys[k]) != key:
            return None
        return int(self.indptr[k]), int(self.indptr[k + 1])

    def _read(self, start: int, end: int) -> np.ndarray:
        """offsets[start:end], read with pread: touching them through the map would leave every page read (and
        the kernel's fault-around, 64 KB a fault) in the process's RSS as long as it runs."""
        size = self.offsets.itemsize
        data = os.pread(self._fd, (end - start) * size, self.offsets.offset + start * size)
        return np.frombuffer(data, dtype=self.offsets.dtype)

    def _holds(self, start: int, end: int, want: np.ndarray) -> np.ndarray:
        """Which of the ascending values `want` are in offsets[start:end]: only the SKIP-long blocks that may
        hold one are read (the whole column when that is most of it)."""
        first = -(-start // SKIP)  # skips[first:last] are the offsets at global indices first*SKIP, … in the column
        last = -(-end // SKIP)
        block = np.searchsorted(self.skips[first:last], want, side="right") - 1  # -1: before the first mark
        blocks = np.unique(block)
        if len(blocks) * SKIP * 4 >= end - start:
            column = self._read(start, end)
            at = np.searchsorted(column, want)
            at[at == len(column)] = 0
            return column[at] == want if len(column) else np.zeros(len(want), bool)
        held = np.zeros(len(want), bool)
        bounds = np.searchsorted(block, blocks, side="left").tolist() + [len(want)]
        for j, b in enumerate(blocks.tolist()):
            lo = start if b < 0 else (first + b) * SKIP
            hi = min(end, (first + b + 1) * SKIP)
            column = self._read(lo, hi)
            part = want[bounds[j]:bounds[j + 1]]
            at = np.searchsorted(column, part)
            at[at == len(column)] = 0
            held[bounds[j]:bounds[j + 1]] = column[at] == part if len(column) else False
        return held

    def occurrences(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(local positions holding `term`, how often: str.count's non-overlapping count), in position order;
        None for what bigrams can't answer (fewer than two characters, or the separator in it)."""
        if len(term) < 2 or SEPARATOR in term:
            return None
        empty = (np.zeros(0, np.int64), np.zeros(0, np.int32))
        columns = []
        for i in range(len(term) - 1):
            span = self._column(term[i], term[i + 1])
            if span is None:
                return empty
            columns.append((span[1] - span[0], i, span))
        columns.sort(key=lambda c: c[:2])
        _, i0, (start, end) = columns[0]
        found = self._read(start, end).astype(np.int64) - i0  # candidate starts, ascending
        for _, i, (start, end) in columns[1:]:
            if not len(found):
                break
            found = found[self._holds(start, end, found + i)]
        if not len(found):
            return empty
        owner = np.searchsorted(self.starts, found, side="right") - 1
        found, owner = _non_overlapping(found, owner, len(term))
        positions, counts = np.unique(owner, return_counts=True)
        return positions.astype(np.int64), counts.astype(np.int32)


def _non_overlapping(starts: np.ndarray, owner: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The matches str.count counts: in each passage, leftmost first, each next one at or after the previous
    one's end (a word that overlaps itself, 啊啊 in 啊啊啊, counts once there)."""
    close = (owner[1:] == owner[:-1]) & (np.diff(starts) < width)
    if not close.any():
        return starts, owner
    keep = np.ones(len(starts), bool)
    affected = np.isin(owner, np.unique(owner[1:][close]))
    last_owner, last_end = -1, -1
    for j in np.flatnonzero(affected).tolist():
        o, s = int(owner[j]), int(starts[j])
        if o == last_owner and s < last_end:
            keep[j] = False
        else:
            last_owner, last_end = o, s + width
    return starts[keep], owner[keep]


def open_chars(folder: Path) -> CharIndex | None:
    """A segment folder's character index, or None for a segment written before it had one."""
    target = folder / FOLDER
    return CharIndex(target) if (target / "offsets.npy").exists() else None
