"""A segment's term frequencies: token → (passage, tf) postings and passage lengths, memory-mapped.

BM25 is scored at query time from these, with the statistics of the whole published version (N, df and
avgdl over live passages), so a small segment added beside a large one scores exactly as a full rebuild
would. bm25s bakes idf and avgdl into its stored scores, which is why it can't be split into segments.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FOLDER = "postings"
TF_DTYPE = np.uint16  # a passage repeats one token < 65,536 times (checked when written; uint32 otherwise)


class Postings:
    """One segment's postings in CSC form: vocab[t] → indices[indptr[t]:indptr[t+1]] (local positions), tf."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(json.loads((folder / "vocab.json").read_text("utf-8")))}
        self.indptr = np.load(folder / "indptr.npy", mmap_mode="r")
        self.indices = np.load(folder / "indices.npy", mmap_mode="r")
        self.tf = np.load(folder / "tf.npy", mmap_mode="r")
        self.lengths = np.load(folder / "lengths.npy", mmap_mode="r")  # tokens a passage has (BM25's |d|)

    @property
    def size(self) -> int:
        """Number of passages."""
        return len(self.lengths)

    def column(self, token: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(local positions, term frequencies) of a token's passages, or None when the segment lacks it."""
        t = self.vocab.get(token)
        if t is None:
            return None
        start, end = int(self.indptr[t]), int(self.indptr[t + 1])
        return np.asarray(self.indices[start:end]), np.asarray(self.tf[start:end])


def build_postings(token_lists: list[list[str]]) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(vocab, indptr, indices, tf, lengths) of passages given as token lists, counted as bm25s counts them."""
    n = len(token_lists)
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=n)
    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(tok, len(vocab)) for toks in token_lists for tok in toks), dtype=np.int64,
                      count=int(lengths.sum()))
    owner = np.repeat(np.arange(n, dtype=np.int64), lengths)
    keys, tf = np.unique(ids * max(n, 1) + owner, return_counts=True)  # sorted by token, then passage
    del ids, owner
    token, position = keys // max(n, 1), keys % max(n, 1)
    indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
    np.cumsum(np.bincount(token, minlength=len(vocab)), out=indptr[1:])
    tf_dtype = TF_DTYPE if (tf.max(initial=0) <= np.iinfo(TF_DTYPE).max) else np.uint32
    return list(vocab), indptr, position.astype(np.int32), tf.astype(tf_dtype), lengths.astype(np.int32)


def write_postings(folder: Path, token_lists: list[list[str]]) -> None:
    """Write the postings of these passages (in local position order) into `folder`/postings."""
    vocab, indptr, indices, tf, lengths = build_postings(token_lists)
    target = folder / FOLDER
    target.mkdir()
    (target / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    for name, array in (("indptr", indptr), ("indices", indices), ("tf", tf), ("lengths", lengths)):
        np.save(target / f"{name}.npy", array)
