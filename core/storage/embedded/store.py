"""The index directory: immutable versions (SQLite, FAISS, BM25) behind an atomically swapped CURRENT."""

from __future__ import annotations

import fcntl
import json
import math
import os
import shutil
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from ...errors import IndexBusyError, IndexNotFoundError
from ...model import ModelInfo
from ...records import (
    DOCUMENT_FIELDS, PASSAGE_FIELDS, DocumentRecord, Manifest, PassageRecord, document_from_row, document_row, passage_from_row,
    passage_row,
)

CURRENT = "CURRENT"
EXACT_MAX = 200_000  # passages searched exactly (FlatIP); above this, IVF
IVF_TRAIN_PER_CELL = 40  # k-means training sample: this many vectors per cell (FAISS asks for ≥ 39)
IVF_NPROBE = 48  # cells visited per query when a manifest does not say (it records the tuned value)
IVF_NPROBES = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)  # tried in order at build time
IVF_TARGET_RECALL = 0.98  # recall@10 against exact search that the tuning aims for
IVF_TUNING_NOISE = 1.5  # |noise| of a tuning pseudo-query, relative to the unit vector it starts from
IVF_TUNING_QUERIES = 200
IVF_CODEC = "fp16"  # how IVF cells store vectors: "fp16" (2 bytes a dimension), "SQ8" (1) or "flat" (float32, 4)

SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, source TEXT NOT NULL, name TEXT NOT NULL, content_hash TEXT NOT NULL,
    text TEXT NOT NULL, title TEXT NOT NULL, display_title TEXT NOT NULL, issuing_body TEXT NOT NULL,
    region TEXT NOT NULL, year TEXT NOT NULL, doc_type TEXT NOT NULL, script TEXT NOT NULL,
    published TEXT NOT NULL, n_passages INTEGER NOT NULL
);
CREATE TABLE passages (
    pos INTEGER PRIMARY KEY, passage_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL REFERENCES documents,
    ordinal INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, heading_path TEXT NOT NULL,
    kind TEXT NOT NULL, text TEXT NOT NULL, match_text TEXT NOT NULL, tokens TEXT NOT NULL
);
CREATE INDEX passages_doc ON passages(doc_id, ordinal);
"""
DOCUMENT_COLUMNS = DOCUMENT_FIELDS
PASSAGE_COLUMNS = ("pos",) + PASSAGE_FIELDS


_HELD: dict[str, tuple[int, int]] = {}  # index folder → (thread holding its lock, how many times)
_HELD_GUARD = threading.Lock()


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One indexer at a time per index directory; the thread that holds it may take it again (admin upload
    takes it before storing the file, then indexes under it)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    key, me = str(index_dir.resolve()), threading.get_ident()
    with _HELD_GUARD:
        owner, count = _HELD.get(key, (None, 0))
        if owner == me:
            _HELD[key] = (me, count + 1)
    if owner == me:
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD[key] = (me, _HELD[key][1] - 1)
        return
    with open(index_dir / ".write.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexBusyError(f"another indexer is writing to {index_dir}; try again when it has finished") from None
        with _HELD_GUARD:
            _HELD[key] = (me, 1)
        try:
            yield
        finally:
            with _HELD_GUARD:
                _HELD.pop(key, None)


def current_version_dir(index_dir: Path) -> Path:
    """The folder of the published version, or IndexNotFoundError."""
    pointer = Path(index_dir) / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexNotFoundError(f"no index in {index_dir}: run 'fazhi index PATH' first") from None
    folder = Path(index_dir) / "versions" / name
    if not (folder / "manifest.json").exists():
        raise IndexNotFoundError(f"index {index_dir} points to a missing version {name}")
    return folder


def read_manifest(version_dir: Path) -> Manifest:
    """The manifest of a version: model, counts, creation time."""
    return Manifest.from_json(json.loads((version_dir / "manifest.json").read_text(encoding="utf-8")))


def connect(version_dir: Path) -> sqlite3.Connection:
    """A read-only SQLite connection to a version's metadata, usable from server threads."""
    uri = f"file:{version_dir / 'index.sqlite'}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def load_documents(version_dir: Path) -> list[DocumentRecord]:
    """All documents of a version."""
    with connect(version_dir) as conn:
        return [document_from_row(row) for row in conn.execute("SELECT * FROM documents ORDER BY name")]


def load_passages(version_dir: Path) -> list[PassageRecord]:
    """All passages of a version, in index position order."""
    with connect(version_dir) as conn:
        rows = conn.execute("SELECT * FROM passages ORDER BY pos").fetchall()
    return [passage_from_row(row) for row in rows]


def build_dense_index(vectors: np.ndarray, dim: int):
    """The FAISS index for this many vectors, and what it is: exact up to EXACT_MAX, IVF above.

    IVF: nlist ≈ 4·√n cells, k-means trained on a fixed-seed sample, nprobe set for recall@10 ≥ 0.98
    against exact search (measured by benchmarks/scale.py). The cells hold each vector's residual to its
    centroid as IVF_CODEC: fp16 by default, half of float32's memory (about 780 bytes a passage instead of
    1,550). SQ8 would take a quarter, but on noisy near-duplicates its recall@10 against exact search tops
    out at ~0.985 even with every cell visited (fp16: 0.998), so nprobe would have to grow for it.
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    n = len(vectors)
    if n <= EXACT_MAX:
        index = faiss.IndexFlatIP(dim)
        if n:
            index.add(vectors)
        return index, {"type": "flat"}
    nlist = int(4 * math.sqrt(n))
    quantizer = faiss.IndexFlatIP(dim)
    index = ivf_index(quantizer, dim, nlist, IVF_CODEC)
    sample = np.random.default_rng(0).choice(n, size=min(n, IVF_TRAIN_PER_CELL * nlist), replace=False)
    index.train(vectors[np.sort(sample)])
    index.add(vectors)
    index.nprobe, recall = tuned_nprobe(index, vectors)
    return index, {"type": "ivf", "codec": IVF_CODEC, "nlist": nlist, "nprobe": index.nprobe,
                   "tuning_recall@10": round(recall, 4)}


def ivf_index(quantizer, dim: int, nlist: int, codec: str):
    """An empty inner-product IVF index whose cells store vectors as `codec` (SQ8, fp16 or flat float32)."""
    import faiss

    if codec == "flat":
        return faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    kinds = {"SQ8": faiss.ScalarQuantizer.QT_8bit, "fp16": faiss.ScalarQuantizer.QT_fp16}
    if codec not in kinds:
        raise ValueError(f"unknown IVF codec {codec!r}: SQ8, fp16 or flat")
    return faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, kinds[codec], faiss.METRIC_INNER_PRODUCT, True)


def tuned_nprobe(index, vectors: np.ndarray, target: float = IVF_TARGET_RECALL) -> tuple[int, float]:
    """The fewest cells to visit for recall@10 ≥ target against exact search, measured on this data.

    Pseudo-queries are stored vectors moved far by noise (cosine ≈ 0.55 to where they started), so they fall
    between passages and cells, as real queries do, rather than onto a stored vector (which any nprobe
    finds). The answer is the first nprobe in IVF_NPROBES that reaches the target.
    """
    rng = np.random.default_rng(1)
    picks = vectors[rng.choice(len(vectors), size=IVF_TUNING_QUERIES, replace=False)]
    noise = rng.normal(scale=IVF_TUNING_NOISE / np.sqrt(vectors.shape[1]), size=picks.shape).astype(np.float32)
    queries = picks + noise
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    best_ids = np.zeros((len(queries), 0), np.int64)
    best_scores = np.zeros((len(queries), 0), np.float32)
    for start in range(0, len(vectors), 200_000):  # exact top 10, a block of vectors at a time
        block = queries @ vectors[start : start + 200_000].T
        top = np.argpartition(-block, 10, axis=1)[:, :10]
        best_ids = np.concatenate([best_ids, top + start], axis=1)
        best_scores = np.concatenate([best_scores, np.take_along_axis(block, top, axis=1)], axis=1)
        keep = np.argsort(-best_scores, axis=1)[:, :10]
        best_ids, best_scores = np.take_along_axis(best_ids, keep, 1), np.take_along_axis(best_scores, keep, 1)
    exact = best_ids
    recall = 0.0
    for nprobe in IVF_NPROBES:
        index.nprobe = nprobe
        _, found = index.search(queries, 10)
        recall = float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)]))
        if recall >= target:
            break
    return nprobe, recall


def read_dense_index(version_dir: Path):
    """The version's FAISS index, ready for search and for reading vectors back by position."""
    import faiss

    index = faiss.read_index(str(version_dir / "dense.faiss"))
    if isinstance(index, faiss.IndexIVF):
        index.make_direct_map()
        dense = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8")).get("dense", {})
        index.nprobe = int(dense.get("nprobe", IVF_NPROBE))
    return index


def load_vectors(version_dir: Path) -> np.ndarray:
    """The passage vectors of a version, in position order."""
    index = read_dense_index(version_dir)
    return index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)


def publish(
    index_dir: Path, documents: list[DocumentRecord], passages: list[PassageRecord],
    vectors: np.ndarray, model: ModelInfo,
) -> Path:
    """Write a complete new version beside the old one, then point CURRENT at it in one rename."""
    import bm25s
    import faiss

    index_dir = Path(index_dir)
    versions = index_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    previous = _published_name(index_dir)
    _remove_debris(index_dir, versions)  # what a crashed publish left (the caller holds the writer lock)
    name = time.strftime("v%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    tmp = versions / f".tmp-{name}"
    tmp.mkdir()
    try:
        conn = sqlite3.connect(tmp / "index.sqlite")
        conn.executescript(SCHEMA)
        conn.executemany(_insert_sql("documents", DOCUMENT_COLUMNS), [document_row(d) for d in documents])
        conn.executemany(_insert_sql("passages", PASSAGE_COLUMNS),
                         [{"pos": pos, **passage_row(p)} for pos, p in enumerate(passages)])
        conn.commit()
        conn.close()

        dense, dense_info = build_dense_index(vectors, model.dim)
        faiss.write_index(dense, str(tmp / "dense.faiss"))

        if passages:
            bm25 = bm25s.BM25()
            bm25.index([p.tokens for p in passages], show_progress=False)
            bm25.save(str(tmp / "bm25"), show_progress=False)

        manifest = Manifest(version=name, model=model, documents=len(documents), passages=len(passages),
                            created=time.time(), dense=dense_info)
        (tmp / "manifest.json").write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=1),
                                           encoding="utf-8")
        _fsync_tree(tmp)
        final = versions / name
        os.rename(tmp, final)
        _fsync_dir(versions)  # the rename itself survives a power cut
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_current(index_dir, name)
    _remove_old_versions(versions, keep={name, previous})
    return final


def _published_name(index_dir: Path) -> str | None:
    """The version CURRENT names, when it is complete; None for a new index."""
    try:
        return current_version_dir(index_dir).name
    except (IndexNotFoundError, OSError):
        return None


def _remove_debris(index_dir: Path, versions: Path) -> None:
    """Delete the temp files a publish cut off at any point leaves (CURRENT temp files, temp folders).

    A finished version that CURRENT never named (the crash came between rename and swap) is removed
    after the next swap, by _remove_old_versions: it never counts as a version to keep.
    """
    for stale in index_dir.glob(f".{CURRENT}.*"):
        stale.unlink(missing_ok=True)
    for tmp in versions.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    """INSERT with named parameters for every column of a table."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"


def _fsync_tree(folder: Path) -> None:
    """fsync every file of a version folder, then its folders, so its entries are on disk before the rename."""
    folders = [folder]
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        elif path.is_dir():
            folders.append(path)
    for path in folders:
        _fsync_dir(path)


def _fsync_dir(folder: Path) -> None:
    """fsync a directory, so renames and new entries in it are durable."""
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _point_current(index_dir: Path, name: str) -> None:
    tmp = index_dir / f".{CURRENT}.{uuid.uuid4().hex[:6]}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)


def _remove_old_versions(versions: Path, keep: set[str | None]) -> None:
    """Delete temp folders and every version but the new current one and the one it replaced (KEEP_VERSIONS).

    Kept by name, not by age: an orphan left by a crash between rename and swap never takes the slot of
    the previous good version, whatever its name sorts as.
    """
    for tmp in versions.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for folder in versions.iterdir():
        if folder.is_dir() and folder.name.startswith("v") and folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)
