"""The index directory: immutable segments (SQLite, FAISS, postings), versions that list them with their
tombstones, and CURRENT, swapped atomically to the published version.

    CURRENT                      the published version's name
    versions/<v>/manifest.json   model, counts, the segments in order with the documents deleted from each
    segments/<s>/                index.sqlite, dense.faiss, postings/, chars/, manifest.json (the segment's dense index),
                                 vectors.npy (fp16 vectors that re-rank IVF-SQ8 candidates; IVF segments since SQ8)
A version written before segments (format 2) is one folder with index.sqlite, dense.faiss and bm25/.
"""

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
from ..base import IndexChanges
from .chars import write_chars
from .postings import write_postings
from .segments import SEGMENTS, SegmentRef, document_runs, new_name, ordered, segment_refs
from .stored_vectors import FILE as VECTORS_FILE, write_vectors

CURRENT = "CURRENT"
EXACT_MAX = 200_000  # passages searched exactly (FlatIP); above this, IVF
IVF_TRAIN_PER_CELL = 40  # k-means training sample: this many vectors per cell (FAISS asks for ≥ 39)
IVF_NPROBE = 48  # cells visited per query when a manifest does not say (it records the tuned value)
IVF_NPROBES = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)  # tried in order at build time
# recall@10 against exact search that the tuning aims for: issue 17's 0.98 plus a margin for the tuning's own
# estimate, whose pseudo-queries are not the users' (at 1M, tuned 0.982 at nprobe 48 gave 0.979 on 100 STARD
# questions; 64 gave 0.988) and whose 200 queries leave a standard error of ~0.005
IVF_TARGET_RECALL = 0.985
IVF_TUNING_NOISE = 1.5  # |noise| of a tuning pseudo-query, relative to the unit vector it starts from
IVF_TUNING_QUERIES = 200
IVF_CODEC = "SQ8"  # how IVF cells store vectors: "SQ8" (1 byte a dimension), "fp16" (2) or "flat" (float32, 4)
IVF_RERANK_EXTRA = 32  # SQ8 cells: a search for n re-ranks the cells' best n + this many by fp16 vectors.npy.
# On 200k noisy copies of real embeddings (50 and 250 copies a vector, 200 queries each) recall@10 stops
# rising at +16 (0.9975-0.9985, fp16 cells 0.999: the rest is fp16 rounding of near-ties, not missed
# candidates); 32 doubles that margin for ~16 more 768-byte preads a search

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
    """A read-only SQLite connection to a segment's (or old-format version's) records, usable from threads."""
    uri = f"file:{version_dir / 'index.sqlite'}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    return conn


def _reader(version_dir: Path):
    """A reader of a version (imported here: the reader imports this module)."""
    from .reader import EmbeddedReader

    return EmbeddedReader(version_dir)


def load_documents(version_dir: Path) -> list[DocumentRecord]:
    """All live documents of a version, with their texts, in position order."""
    return _reader(version_dir).full_documents()


def live_documents(version_dir: Path) -> list[DocumentRecord]:
    """A version's live documents without their texts, read from SQLite alone (no index is loaded)."""
    refs = segment_refs(read_manifest(version_dir))
    places = [(version_dir.parent.parent / SEGMENTS / r.name, set(r.deleted)) for r in refs] or [(version_dir, set())]
    columns = ", ".join("'' AS text" if f == "text" else f for f in DOCUMENT_FIELDS)
    out = []
    for folder, deleted in places:
        with connect(folder) as conn:
            out += [document_from_row(r) for r in conn.execute(f"SELECT {columns} FROM documents")
                    if r["doc_id"] not in deleted]
    return sorted(out, key=lambda d: (d.name, d.doc_id))


def load_passages(version_dir: Path) -> list[PassageRecord]:
    """All live passages of a version, in position order."""
    rows = _reader(version_dir).passage_rows(PASSAGE_FIELDS)
    return [passage_from_row(dict(zip(PASSAGE_FIELDS, row))) for row in rows]


def build_dense_index(vectors: np.ndarray, dim: int):
    """The FAISS index for this many vectors, and what it is: exact up to EXACT_MAX, IVF above.

    IVF: nlist ≈ 4·√n cells, k-means trained on a fixed-seed sample, nprobe set for recall@10 ≥ 0.98
    against exact search (measured by benchmarks/scale.py). The cells hold each vector's residual to its
    centroid as IVF_CODEC: SQ8 by default, a quarter of float32 (~390 bytes a passage with its id, against
    fp16's ~780). Alone, SQ8 cannot order noisy near-duplicates (recall@10 tops out at ~0.985 however many
    cells are visited), so its searches re-rank IVF_RERANK_EXTRA more candidates than asked for by the fp16
    vectors that write_dense keeps on disk; nprobe is tuned for that search.
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
    return index, tuned_info(index, vectors, IVF_CODEC)


def tuned_info(index, vectors: np.ndarray, codec: str) -> dict:
    """Tune a filled IVF index's nprobe (its search re-ranked when the codec is SQ8); its description."""
    rerank = {"file": VECTORS_FILE, "dtype": "fp16", "extra": IVF_RERANK_EXTRA} if codec == "SQ8" else None
    index.nprobe, recall = tuned_nprobe(index, vectors, rerank_extra=rerank["extra"] if rerank else None)
    return {"type": "ivf", "codec": codec, "nlist": int(index.nlist), "nprobe": index.nprobe,
            "tuning_recall@10": round(recall, 4), **({"rerank": rerank} if rerank else {})}


def ivf_index(quantizer, dim: int, nlist: int, codec: str):
    """An empty inner-product IVF index whose cells store vectors as `codec` (SQ8, fp16 or flat float32)."""
    import faiss

    if codec == "flat":
        return faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    kinds = {"SQ8": faiss.ScalarQuantizer.QT_8bit, "fp16": faiss.ScalarQuantizer.QT_fp16}
    if codec not in kinds:
        raise ValueError(f"unknown IVF codec {codec!r}: SQ8, fp16 or flat")
    return faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, kinds[codec], faiss.METRIC_INNER_PRODUCT, True)


def tuned_nprobe(index, vectors: np.ndarray, target: float = IVF_TARGET_RECALL,
                 rerank_extra: int | None = None) -> tuple[int, float]:
    """The fewest cells to visit for recall@10 ≥ target against exact search, measured on this data.

    Pseudo-queries are stored vectors moved far by noise (cosine ≈ 0.55 to where they started), so they fall
    between passages and cells, as real queries do, rather than onto a stored vector (which any nprobe
    finds). The answer is the first nprobe in IVF_NPROBES that reaches the target. With `rerank_extra`, each
    search is the reader's: 10 + rerank_extra candidates re-ranked by their fp16 vectors.
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
        if rerank_extra is None:
            _, found = index.search(queries, 10)
        else:
            _, candidates = index.search(queries, 10 + rerank_extra)
            found = [reranked(q, c[c >= 0], vectors) for q, c in zip(queries, candidates)]
        recall = float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)]))
        if recall >= target:
            break
    return nprobe, recall


def reranked(query: np.ndarray, candidates: np.ndarray, vectors: np.ndarray, n: int = 10) -> np.ndarray:
    """The best n candidates by their vectors as vectors.npy holds them (fp16), as the reader ranks them."""
    candidates = np.sort(candidates)
    scores = vectors[candidates].astype(np.float16).astype(np.float32) @ query
    return candidates[np.argsort(-scores, kind="stable")[:n]]


def segment_dense(vectors: np.ndarray, dim: int, reuse=None):
    """(FAISS index, description) of a segment's vectors: built for the size, or on `reuse`'s trained cells.

    Cells reused from a base written before SQ8 (fp16 or float32 cells) keep their centroids (no k-means)
    but take IVF_CODEC codes, trained on a sample and tuned again: a merge writes the current form.
    """
    import faiss

    if reuse is None:
        dense, info = build_dense_index(vectors, dim)
        return dense, ({**info, "trained_on": len(vectors)} if info.get("type") == "ivf" else info)
    old, info = reuse
    vectors = np.ascontiguousarray(vectors)
    if info.get("codec") == IVF_CODEC and bool(info.get("rerank")) == (IVF_CODEC == "SQ8"):
        dense = faiss.clone_index(old)
        dense.reset()  # the trained centroids and codec stay; the vectors go
        dense.add(vectors)
        return dense, info
    quantizer = faiss.clone_index(faiss.downcast_index(old.quantizer))
    dense = ivf_index(quantizer, dim, int(old.nlist), IVF_CODEC)
    sample = np.random.default_rng(0).choice(len(vectors), size=min(len(vectors), IVF_TRAIN_PER_CELL * old.nlist),
                                             replace=False)
    dense.train(vectors[np.sort(sample)])  # the quantizer is trained: only the codec's ranges are
    dense.add(vectors)
    return dense, {**tuned_info(dense, vectors, IVF_CODEC), "trained_on": info["trained_on"]}


def write_dense(folder: Path, index, info: dict, vectors: np.ndarray) -> None:
    """Write a segment's dense.faiss, and its fp16 vectors.npy when its searches re-rank from it."""
    import faiss

    faiss.write_index(index, str(folder / "dense.faiss"))
    if info.get("rerank"):
        write_vectors(folder, vectors)


def dense_info(folder: Path) -> dict:
    """What a segment's (or old-format version's) manifest says of its dense index ({} when it says nothing)."""
    try:
        return json.loads((folder / "manifest.json").read_text(encoding="utf-8")).get("dense", {}) or {}
    except FileNotFoundError:
        return {}


def read_dense_index(folder: Path):
    """A segment's FAISS index, ready for search. IVF cells without vectors.npy (written before SQ8) get a
    direct map, so vectors are read back from them by position (8 bytes a passage); with it, from the file."""
    import faiss

    index = faiss.read_index(str(folder / "dense.faiss"))
    if isinstance(index, faiss.IndexIVF):
        dense = dense_info(folder)
        if not dense.get("rerank"):
            index.make_direct_map()
        index.nprobe = int(dense.get("nprobe", IVF_NPROBE))
    return index


def load_vectors(version_dir: Path) -> np.ndarray:
    """The live passage vectors of a version, in position order."""
    return _reader(version_dir).dense.vectors()


def folder_vectors(folder: Path) -> np.ndarray:
    """The vectors of one segment (or old-format version) folder, in its local position order: from
    vectors.npy when it has one (SQ8 codes are only an approximation), else from its FAISS index."""
    if (folder / VECTORS_FILE).exists():
        return np.load(folder / VECTORS_FILE).astype(np.float32)
    index = read_dense_index(folder)
    return index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d), np.float32)


def publish(
    index_dir: Path, documents: list[DocumentRecord], passages: list[PassageRecord],
    vectors: np.ndarray, model: ModelInfo,
) -> Path:
    """Write every document as one new segment and a version listing only it, then point CURRENT at it."""
    index_dir = Path(index_dir)
    _remove_debris(index_dir)  # what a crashed publish left (the caller holds the writer lock)
    ref = write_segment(index_dir, documents, passages, vectors, model.dim)
    return _publish_version(index_dir, model, [ref])


def publish_changes(index_dir: Path, changes: IndexChanges, model: ModelInfo) -> Path:
    """Publish a change as one small segment and tombstones, referencing every unchanged segment as it is.

    A new document goes into the new segment; a changed one is tombstoned where it was and written anew;
    a removed one is only tombstoned. A version written before segments becomes a segment first.
    """
    index_dir = Path(index_dir)
    try:
        current = current_version_dir(index_dir)
    except IndexNotFoundError:
        return publish(index_dir, changes.documents, changes.passages, changes.vectors, model)
    _remove_debris(index_dir)
    refs = segment_refs(read_manifest(current)) or [_segment_from_old_version(index_dir, current)]
    owner = _live_owner(index_dir, refs)
    unknown = [d for d in changes.removed if d not in owner]
    if unknown:
        raise KeyError(f"no document {', '.join(unknown)} in {index_dir}")
    gone = set(changes.removed) | {d.doc_id for d in changes.documents if d.doc_id in owner}
    for i, ref in enumerate(refs):
        mine = sorted(d for d in gone if owner.get(d) == i)
        if mine:
            ref.deleted = sorted(set(ref.deleted) | set(mine))
            ref.deleted_passages += _passage_count(index_dir / SEGMENTS / ref.name, mine)
    if changes.documents:
        refs.append(write_segment(index_dir, changes.documents, changes.passages, changes.vectors, model.dim))
    return _publish_version(index_dir, model, refs)


# When to merge. Each segment costs every query one more FAISS search and one more postings look-up per
# term; tombstoned passages still take their space and are skipped at query time.
MAX_SMALL_SEGMENTS = 8  # segments beside the base a version may list before they are merged into one
MAX_DELETED_SHARE = 0.2  # tombstoned share of all passages above which everything is merged into a new base
MAX_SMALL_SHARE = 0.5  # live passages outside the base, relative to the base's, above which the same
IVF_REUSE_GROWTH = 2.0  # a merged base keeps the old base's trained IVF cells up to this many times its size


def merge_plan(refs: list[SegmentRef]) -> str | None:
    """"full" (all segments into a new base), "small" (all but the base into one) or None."""
    if not refs:
        return None
    total = sum(r.passages for r in refs)
    deleted = sum(r.deleted_passages for r in refs)
    base, small = refs[0], sum(r.live_passages for r in refs[1:])
    if deleted > MAX_DELETED_SHARE * max(total, 1) or small > MAX_SMALL_SHARE * max(base.live_passages, 1):
        return "full"
    if len(refs) - 1 > MAX_SMALL_SEGMENTS:
        return "small"
    return None


def merge(index_dir: Path, plan: str | None = None) -> Path | None:
    """Merge segments as `plan` says (by default as merge_plan says); the new version, or None when none was due.

    The merged segment is the live documents of the merged segments, in document order; it replaces them in
    a new version, published like any other (so a merge killed at any point leaves the last version whole).
    """
    index_dir = Path(index_dir)
    current = current_version_dir(index_dir)
    manifest = read_manifest(current)
    refs = segment_refs(manifest)
    plan = plan or merge_plan(refs)
    if plan is None or not refs:
        return None
    _remove_debris(index_dir)
    chosen = list(range(len(refs))) if plan == "full" else list(range(1, len(refs)))
    if len(chosen) == 0 or (len(chosen) == 1 and not refs[chosen[0]].deleted):
        return None
    documents, passages, vectors = _live_records(index_dir, [refs[i] for i in chosen], manifest.model.dim)
    reuse = _reusable_cells(index_dir / SEGMENTS / refs[0].name, len(passages)) if plan == "full" else None
    merged = write_segment(index_dir, documents, passages, vectors, manifest.model.dim, reuse=reuse)
    kept = [r for i, r in enumerate(refs) if i not in chosen]
    return _publish_version(index_dir, manifest.model, kept + [merged] if plan == "small" else [merged])


def _reusable_cells(base: Path, n: int):
    """(the base's IVF index, its dense description) when a merged base of n passages may keep its cells."""
    import faiss

    info = json.loads((base / "manifest.json").read_text(encoding="utf-8")).get("dense", {})
    if info.get("type") != "ivf":
        return None
    trained_on = int(info.get("trained_on") or (int(info["nlist"]) / 4) ** 2)  # nlist = 4·√n at training
    if n > IVF_REUSE_GROWTH * trained_on or n <= EXACT_MAX:
        return None
    return faiss.read_index(str(base / "dense.faiss")), {**info, "trained_on": trained_on}


@contextmanager
def _new_segment(index_dir: Path) -> Iterator[tuple[Path, str]]:
    """(temporary folder, name) of a segment being written; on success it is fsynced and renamed into
    segments/ (durable before any version names it), on any failure removed."""
    folder = Path(index_dir) / SEGMENTS
    folder.mkdir(parents=True, exist_ok=True)
    name = new_name("s")
    tmp = folder / f".tmp-{name}"
    tmp.mkdir()
    try:
        yield tmp, name
        _fsync_tree(tmp)
        os.rename(tmp, folder / name)
        _fsync_dir(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_segment(index_dir: Path, documents: list[DocumentRecord], passages: list[PassageRecord],
                  vectors: np.ndarray, dim: int, reuse=None) -> SegmentRef:
    """Write one segment (documents in name order) and rename it into place; its reference for a manifest.

    `reuse`: (a trained FAISS IVF index, its description) whose cells the new one keeps: the vectors are
    added to the same centroids, with no k-means (and no nprobe tuning unless the codec changes: segment_dense).
    None builds for the size.
    """
    documents, passages, vectors = ordered(documents, passages, np.asarray(vectors, np.float32).reshape(-1, dim))
    with _new_segment(index_dir) as (tmp, name):
        conn = sqlite3.connect(tmp / "index.sqlite")
        conn.executescript(SCHEMA)
        conn.executemany(_insert_sql("documents", DOCUMENT_COLUMNS), [document_row(d) for d in documents])
        conn.executemany(_insert_sql("passages", PASSAGE_COLUMNS),
                         [{"pos": pos, **passage_row(p)} for pos, p in enumerate(passages)])
        conn.commit()
        conn.close()
        dense, info = segment_dense(vectors, dim, reuse)
        write_dense(tmp, dense, info, vectors)
        write_postings(tmp, [p.tokens for p in passages])
        write_chars(tmp, [p.match_text for p in passages],
                    [json.dumps(p.heading_path, ensure_ascii=False) for p in passages], [p.kind for p in passages])
        _write_json(tmp / "manifest.json", {"kind": "segment", "passages": len(passages),
                                            "documents": len(documents), "dense": info})
    return SegmentRef(name=name, passages=len(passages), documents=len(documents))


def _segment_from_old_version(index_dir: Path, version: Path) -> SegmentRef:
    """A version written before segments as a segment: its SQLite and FAISS files linked (not copied, not
    embedded again), postings and the character index built from its stored tokens and texts."""
    with _new_segment(index_dir) as (tmp, name):
        for part in ("index.sqlite", "dense.faiss"):
            try:
                os.link(version / part, tmp / part)
            except OSError:  # another file system, or no hard links: a copy
                shutil.copy2(version / part, tmp / part)
        with sqlite3.connect(f"file:{tmp / 'index.sqlite'}?mode=ro", uri=True) as conn:
            (n_docs,) = conn.execute("SELECT COUNT(*) FROM documents").fetchone()
            rows = conn.execute("SELECT tokens, match_text, heading_path, kind FROM passages ORDER BY pos").fetchall()
            tokens = [r[0].split(" ") if r[0] else [] for r in rows]
            document_runs(conn, len(tokens))  # raises if a document's passages are not together
        write_postings(tmp, tokens)
        write_chars(tmp, [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])
        del rows
        dense = read_manifest(version).dense
        _write_json(tmp / "manifest.json", {"kind": "segment", "passages": len(tokens), "documents": n_docs,
                                            "dense": dense, "from_version": version.name})
    return SegmentRef(name=name, passages=len(tokens), documents=n_docs)


def _live_owner(index_dir: Path, refs: list[SegmentRef]) -> dict[str, int]:
    """doc id → the segment (index into refs) where it is live."""
    owner: dict[str, int] = {}
    for i, ref in enumerate(refs):
        deleted = set(ref.deleted)
        with connect(index_dir / SEGMENTS / ref.name) as conn:
            for (doc_id,) in conn.execute("SELECT doc_id FROM documents"):
                if doc_id not in deleted:
                    owner[doc_id] = i
    return owner


def _passage_count(segment: Path, doc_ids: list[str]) -> int:
    """How many passages these documents have in a segment."""
    with connect(segment) as conn:
        marks = ",".join("?" * len(doc_ids))
        return int(conn.execute(f"SELECT COUNT(*) FROM passages WHERE doc_id IN ({marks})", doc_ids).fetchone()[0])


def _live_records(index_dir: Path, refs: list[SegmentRef], dim: int
                  ) -> tuple[list[DocumentRecord], list[PassageRecord], np.ndarray]:
    """The live documents, passages and vectors of some segments (what a merge rewrites)."""
    documents, passages, blocks = [], [], []
    for ref in refs:
        folder = index_dir / SEGMENTS / ref.name
        deleted = set(ref.deleted)
        with connect(folder) as conn:
            documents += [document_from_row(r) for r in conn.execute("SELECT * FROM documents")
                          if r["doc_id"] not in deleted]
            rows = conn.execute("SELECT * FROM passages ORDER BY pos").fetchall()
        keep = [i for i, r in enumerate(rows) if r["doc_id"] not in deleted]
        passages += [passage_from_row(rows[i]) for i in keep]
        if keep:
            blocks.append(folder_vectors(folder)[keep])
    vectors = np.concatenate(blocks) if blocks else np.zeros((0, dim), np.float32)
    return documents, passages, vectors


def _publish_version(index_dir: Path, model: ModelInfo, refs: list[SegmentRef]) -> Path:
    """Write a version (a manifest listing segments and their tombstones), then point CURRENT at it."""
    versions = index_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    previous = _published_name(index_dir)
    name = new_name("v")
    tmp = versions / f".tmp-{name}"
    tmp.mkdir()
    try:
        base = json.loads((index_dir / SEGMENTS / refs[0].name / "manifest.json").read_text("utf-8")) if refs else {}
        manifest = Manifest(version=name, model=model, documents=sum(r.documents - len(r.deleted) for r in refs),
                            passages=sum(r.live_passages for r in refs), created=time.time(),
                            dense=base.get("dense", {}), segments=[r.to_json() for r in refs])
        _write_json(tmp / "manifest.json", manifest.to_json())
        _fsync_tree(tmp)
        final = versions / name
        os.rename(tmp, final)
        _fsync_dir(versions)  # the rename itself survives a power cut
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_current(index_dir, name)
    _remove_old_versions(versions, keep={name, previous})
    _remove_unreferenced_segments(index_dir)
    return final


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")


def _published_name(index_dir: Path) -> str | None:
    """The version CURRENT names, when it is complete; None for a new index."""
    try:
        return current_version_dir(index_dir).name
    except (IndexNotFoundError, OSError):
        return None


def _remove_debris(index_dir: Path) -> None:
    """Delete the temp files a publish cut off at any point leaves (CURRENT temp files, temp folders).

    A finished version that CURRENT never named (the crash came between rename and swap) is removed
    after the next swap, by _remove_old_versions: it never counts as a version to keep; the segments
    only it named go with it (_remove_unreferenced_segments).
    """
    for stale in index_dir.glob(f".{CURRENT}.*"):
        stale.unlink(missing_ok=True)
    for folder in (index_dir / "versions", index_dir / SEGMENTS):
        for tmp in folder.glob(".tmp-*"):
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


def _remove_unreferenced_segments(index_dir: Path) -> None:
    """Delete the segments no remaining version lists (merged away, or written by a publish cut off before
    its version was renamed into place). Readers that still have one open keep reading its open files."""
    folder = index_dir / SEGMENTS
    if not folder.is_dir():
        return
    referenced: set[str] = set()
    for version in (index_dir / "versions").iterdir():
        if version.is_dir() and version.name.startswith("v"):
            try:
                referenced.update(r.name for r in segment_refs(read_manifest(version)))
            except (OSError, ValueError, KeyError):
                return  # a manifest that can't be read: delete nothing rather than something still needed
    for segment in folder.iterdir():
        if segment.is_dir() and segment.name.startswith("s") and segment.name not in referenced:
            shutil.rmtree(segment, ignore_errors=True)
