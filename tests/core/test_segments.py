"""Segments: adding, changing and deleting documents, and merging, give what a full rebuild gives (BM25 scores,
ranks, positions, records, vectors); a publish or merge killed at any step keeps the last version whole; a
version written before segments still opens and becomes a segment without embedding again."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from core.filters import Filters
from core.model import ModelInfo
from core.records import DocumentRecord, Manifest, PassageRecord, document_row, passage_row
from core.storage.base import IndexChanges
from core.storage.embedded import store
from core.storage.embedded.reader import EmbeddedReader
from tests.conftest import ROOT

DIM = 16
MODEL = ModelInfo(name="m", dim=DIM, fingerprint="f", probe=[])
WORDS = [f"词{i}" for i in range(60)] + ["法律", "顾问", "审查"]
QUERIES = [["法律"], ["法律", "顾问"], ["词3", "词3", "词17"], ["审查", "词40", "不在"], ["顾问", "词1", "词2", "词59"]]


class Corpus:
    """Random documents with Zipf-ish tokens and unit vectors, kept by id so a rebuild can be made of any state."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.docs: dict[str, tuple[DocumentRecord, list[PassageRecord], np.ndarray]] = {}

    def make(self, doc_id: str, n: int | None = None, name: str | None = None, region: str = "") -> tuple:
        n = n or int(self.rng.integers(1, 7))
        weights = 1.0 / np.arange(1, len(WORDS) + 1)
        doc = DocumentRecord(doc_id=doc_id, source=f"{doc_id}.txt", name=name or f"{doc_id}.txt",
                             content_hash=str(self.rng.random()), text=f"全文{doc_id}", title=doc_id,
                             display_title=doc_id, region=region, n_passages=n)
        passages = [PassageRecord(
            passage_id=f"{doc_id}-{i:04d}", doc_id=doc_id, ordinal=i, start=i, end=i + 1, heading_path=["一"],
            kind="paragraph", text=f"{doc_id}{i}", match_text=f"{doc_id}{i}",
            tokens=[str(t) for t in self.rng.choice(WORDS, int(self.rng.integers(0, 15)), p=weights / weights.sum())],
        ) for i in range(n)]
        vectors = self.rng.normal(size=(n, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        self.docs[doc_id] = (doc, passages, vectors)
        return doc, passages, vectors

    def changes(self, doc_ids: list[str], removed: list[str] = ()) -> IndexChanges:
        for d in removed:
            self.docs.pop(d)
        parts = [self.docs[d] for d in doc_ids]
        return IndexChanges([p[0] for p in parts], [x for p in parts for x in p[1]],
                            np.concatenate([p[2] for p in parts]) if parts else np.zeros((0, DIM), np.float32),
                            list(removed))

    def everything(self) -> tuple[list, list, np.ndarray]:
        parts = list(self.docs.values())
        return [p[0] for p in parts], [x for p in parts for x in p[1]], np.concatenate([p[2] for p in parts])

    def rebuild(self, folder) -> EmbeddedReader:
        return EmbeddedReader(store.publish(folder, *self.everything(), MODEL))


def current(index_dir) -> EmbeddedReader:
    return EmbeddedReader(store.current_version_dir(index_dir))


def base_index(tmp_path, n_docs: int = 30, seed: int = 0) -> tuple[Corpus, object]:
    corpus = Corpus(seed)
    for i in range(n_docs):
        corpus.make(f"d{i:02d}", region="广东省" if i % 3 == 0 else "")
    idx = tmp_path / "idx"
    store.publish(idx, *corpus.everything(), MODEL)
    return corpus, idx


def assert_same_index(a: EmbeddedReader, b: EmbeddedReader) -> None:
    """Two readers answer every question alike: records, positions, BM25 scores and ranks, dense ranks."""
    assert list(a.documents) == list(b.documents) and list(a.doc_of_pos) == list(b.doc_of_pos)
    assert dict(a.passage_pos) == dict(b.passage_pos)
    n = len(a.doc_of_pos)
    assert [p.passage_id for p in a.passages_at(list(range(n)))] == [p.passage_id for p in b.passages_at(list(range(n)))]
    for d in list(a.documents)[::5]:
        assert a.document_passages(d) == b.document_passages(d)
        assert a.documents[d].text == b.documents[d].text
    filters = Filters(region=("广东省",))
    for tokens in QUERIES:
        np.testing.assert_allclose(a.lexical.scores(tokens), b.lexical.scores(tokens), rtol=1e-6, atol=1e-7)
        for f in (Filters(), filters):
            assert a.lexical_top(tokens, 10, f, None) == b.lexical_top(tokens, 10, f, None)
            scored = a.lexical_ranked(tokens, 10, f, None)  # what score fusion reads: the same order, with scores
            assert [p for p, _ in scored] == a.lexical_top(tokens, 10, f, None)
            np.testing.assert_allclose([s for _, s in scored], a.lexical.scores(tokens)[[p for p, _ in scored]], rtol=1e-6)
        for t in tokens:
            assert a.doc_freq(t) == b.doc_freq(t)
    rng = np.random.default_rng(9)
    for _ in range(5):
        q = rng.normal(size=a.dense.dim).astype(np.float32)
        q /= np.linalg.norm(q)
        for f in (Filters(), filters):
            assert a.dense_top(q, 10, f, None) == b.dense_top(q, 10, f, None)
            assert a.dense_top(q, 6, f, None, per_doc=1) == b.dense_top(q, 6, f, None, per_doc=1)
            near = a.dense_ranked(q, 10, f, None)
            assert [p for p, _ in near] == a.dense_top(q, 10, f, None)
            np.testing.assert_allclose([s for _, s in near], a.dense.vectors()[[p for p, _ in near]] @ q, atol=1e-5)
    np.testing.assert_allclose(a.dense.vectors(), b.dense.vectors(), atol=1e-6)


def test_bm25_over_segments_equals_bm25s_on_a_rebuild_of_the_live_passages(tmp_path):
    import bm25s

    corpus, idx = base_index(tmp_path)
    corpus.make("d05")  # changed
    corpus.make("e01", name="d07b.txt")  # new, sorting between old documents
    store.publish_changes(idx, corpus.changes(["d05", "e01"], removed=["d11", "d12"]), MODEL)
    corpus.make("e02")
    store.publish_changes(idx, corpus.changes(["e02"]), MODEL)
    reader = current(idx)
    assert len(reader.segments) == 3
    live = reader.passages_at(list(range(len(reader.doc_of_pos))))
    reference = bm25s.BM25()  # as publish built it before segments
    reference.index([p.tokens for p in live], show_progress=False)
    for tokens in QUERIES:
        known = [t for t in tokens if t in reference.vocab_dict]
        expected = reference.get_scores(known) if known else np.zeros(len(live))
        np.testing.assert_allclose(reader.lexical.scores(tokens), expected, rtol=1e-6, atol=1e-7)
        order = np.argsort(-expected, kind="stable")
        top = [int(i) for i in order[:10] if expected[i] > 0]
        found = reader.lexical_top(tokens, 10, Filters(), None)
        assert sorted(found) == sorted(top) or [expected[i] for i in found] == [expected[i] for i in top]
        for t in tokens:
            assert reader.doc_freq(t) == sum(t in p.tokens for p in live)


def test_add_change_and_delete_equal_a_full_rebuild(tmp_path):
    corpus, idx = base_index(tmp_path)
    corpus.make("d03", n=4)
    corpus.make("a00", name="a00.txt", region="广东省")  # sorts before every old document
    corpus.make("z99", region="广东省")
    store.publish_changes(idx, corpus.changes(["d03", "a00", "z99"], removed=["d20"]), MODEL)
    store.publish_changes(idx, corpus.changes([], removed=["d21", "a00"]), MODEL)  # a document of the new segment
    corpus.make("d03", n=2)  # changed again: tombstoned in the small segment this time
    store.publish_changes(idx, corpus.changes(["d03"]), MODEL)
    reader = current(idx)
    assert len(reader.segments) == 3 and reader.manifest.passages == len(reader.doc_of_pos)
    assert_same_index(reader, corpus.rebuild(tmp_path / "rebuilt"))


def test_bm25_read_through_segments_runs_equals_a_full_rebuild(tmp_path, monkeypatch):
    from core.storage.embedded import lexical

    monkeypatch.setattr(lexical, "RUNS_MIN_COLUMN", 0)  # every column through the runs, however short
    corpus, idx = base_index(tmp_path)
    corpus.make("d09b", name="d09b.txt")  # sorts inside the base: its runs shift after it
    store.publish_changes(idx, corpus.changes(["d09b"], removed=["d04", "d17"]), MODEL)
    reader = current(idx)
    runs = reader.lexical._runs[0]
    assert runs is not None and not runs.whole and len(runs.starts) == 4  # d00–d03, d05–d09, d10–d16, d18–
    assert_same_index(reader, corpus.rebuild(tmp_path / "rebuilt"))


def test_a_change_writes_one_small_segment_and_a_delete_only_tombstones(tmp_path):
    corpus, idx = base_index(tmp_path)
    base = current(idx).segments[0]
    inode = os.stat(base.folder / "index.sqlite").st_ino
    corpus.make("new")
    store.publish_changes(idx, corpus.changes(["new"]), MODEL)
    after_add = current(idx)
    assert [s.size for s in after_add.segments] == [base.size, len(corpus.docs["new"][1])]
    assert after_add.segments[0] is base  # the same segment, loaded once, shared by both readers
    assert os.stat(after_add.segments[0].folder / "index.sqlite").st_ino == inode  # referenced, not copied
    segments_before = sorted(p.name for p in (idx / "segments").iterdir())
    store.publish_changes(idx, corpus.changes([], removed=["d04"]), MODEL)
    assert sorted(p.name for p in (idx / "segments").iterdir()) == segments_before  # no segment written
    refs = store.segment_refs(current(idx).manifest)
    assert refs[0].deleted == ["d04"] and refs[0].deleted_passages == len(base.query(
        "SELECT pos FROM passages WHERE doc_id = 'd04'"))
    assert "d04" not in current(idx).documents
    with pytest.raises(KeyError):
        store.publish_changes(idx, IndexChanges(removed=["d04"]), MODEL)


def test_segments_are_deleted_only_when_no_kept_version_lists_them(tmp_path):
    corpus, idx = base_index(tmp_path)
    for d in ("n1", "n1b"):
        corpus.make(d)
        store.publish_changes(idx, corpus.changes([d]), MODEL)
    first_small = store.segment_refs(current(idx).manifest)[1].name
    assert store.merge(idx, "small")  # n1's segment merged away: the previous version still lists it
    assert (idx / "segments" / first_small).is_dir()
    corpus.make("n2")
    store.publish_changes(idx, corpus.changes(["n2"]), MODEL)
    assert not (idx / "segments" / first_small).exists()  # no kept version lists it now
    listed = {r.name for v in (idx / "versions").iterdir() for r in store.segment_refs(store.read_manifest(v))}
    assert {p.name for p in (idx / "segments").iterdir()} == listed


@pytest.mark.parametrize("plan", ["small", "full"])
def test_a_merge_equals_a_full_rebuild(tmp_path, plan):
    corpus, idx = base_index(tmp_path)
    for i in range(4):
        corpus.make(f"m{i}", region="广东省")
        store.publish_changes(idx, corpus.changes([f"m{i}"], removed=[f"d{i:02d}"]), MODEL)
    corpus.make("m1")
    store.publish_changes(idx, corpus.changes(["m1"]), MODEL)
    assert len(current(idx).segments) == 6
    store.merge(idx, plan)
    reader = current(idx)
    assert len(reader.segments) == (2 if plan == "small" else 1)
    if plan == "full":
        assert store.segment_refs(reader.manifest)[0].deleted == []
    assert_same_index(reader, corpus.rebuild(tmp_path / "rebuilt"))


def test_merges_are_due_when_segments_or_tombstones_pile_up(tmp_path, monkeypatch):
    corpus, idx = base_index(tmp_path, n_docs=60)
    monkeypatch.setattr(store, "MAX_SMALL_SEGMENTS", 3)
    for i in range(3):
        corpus.make(f"m{i}", n=1)
        store.publish_changes(idx, corpus.changes([f"m{i}"]), MODEL)
    assert store.merge_plan(store.segment_refs(current(idx).manifest)) is None  # 3 small segments beside the base: not more than 3
    corpus.make("m3", n=1)
    store.publish_changes(idx, corpus.changes(["m3"]), MODEL)
    assert store.merge_plan(store.segment_refs(current(idx).manifest)) == "small"
    store.merge(idx)
    assert len(current(idx).segments) == 2
    doomed = [d for d in corpus.docs if d.startswith("d")][:20]
    store.publish_changes(idx, corpus.changes([], removed=doomed), MODEL)  # a third of the passages
    assert store.merge_plan(store.segment_refs(current(idx).manifest)) == "full"
    store.merge(idx)
    assert len(current(idx).segments) == 1 and store.merge(idx) is None
    assert_same_index(current(idx), corpus.rebuild(tmp_path / "rebuilt"))


def test_a_full_merge_keeps_the_bases_trained_ivf_cells(tmp_path, monkeypatch):
    import faiss

    monkeypatch.setattr(store, "EXACT_MAX", 2000)
    rng = np.random.default_rng(3)
    centers = rng.normal(size=(50, DIM)).astype(np.float32)
    corpus = Corpus(1)
    for i in range(300):
        doc, passages, _ = corpus.make(f"d{i:03d}", n=10)
        v = centers[rng.integers(0, 50, 10)] + rng.normal(scale=0.1, size=(10, DIM)).astype(np.float32)
        corpus.docs[doc.doc_id] = (doc, passages, v / np.linalg.norm(v, axis=1, keepdims=True))
    idx = tmp_path / "idx"
    store.publish(idx, *corpus.everything(), MODEL)
    base = current(idx)
    assert base.dense.approximate
    corpus.make("new", n=8)
    store.publish_changes(idx, corpus.changes(["new"], removed=["d000", "d001"]), MODEL)
    merged_dir = store.merge(idx, "full")
    merged = EmbeddedReader(merged_dir)
    old_ivf, new_ivf = base.segments[0].dense.index, merged.segments[0].dense.index
    old_centroids = faiss.downcast_index(old_ivf.quantizer).reconstruct_n(0, old_ivf.nlist)
    assert np.array_equal(old_centroids, faiss.downcast_index(new_ivf.quantizer).reconstruct_n(0, new_ivf.nlist))
    assert merged.manifest.dense["nprobe"] == base.manifest.dense["nprobe"]  # tuned once, kept
    assert len(merged.doc_of_pos) == 300 * 10 - 20 + 8
    rebuilt = corpus.rebuild(tmp_path / "rebuilt")
    for tokens in QUERIES:  # BM25 exactly as a rebuild; dense is IVF on other cells: top 10 mostly the same
        assert merged.lexical_top(tokens, 10, Filters(), None) == rebuilt.lexical_top(tokens, 10, Filters(), None)
    overlap = []
    for v in rebuilt.dense.vectors()[::97]:
        a, b = merged.dense_top(v, 10, Filters(), None), rebuilt.dense_top(v, 10, Filters(), None)
        overlap.append(len(set(a) & set(b)) / 10)
    assert np.mean(overlap) >= 0.9


def clustered_corpus(n_docs: int = 300, seed: int = 3) -> Corpus:
    """Documents of 10 passages whose vectors cluster around 50 centres (IVF has cells to find)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(50, DIM)).astype(np.float32)
    corpus = Corpus(1)
    for i in range(n_docs):
        doc, passages, _ = corpus.make(f"d{i:03d}", n=10, region="广东省" if i % 4 == 0 else "")
        v = centers[rng.integers(0, 50, 10)] + rng.normal(scale=0.1, size=(10, DIM)).astype(np.float32)
        corpus.docs[doc.doc_id] = (doc, passages, v / np.linalg.norm(v, axis=1, keepdims=True))
    return corpus


def exact_live(reader: EmbeddedReader, q: np.ndarray, n: int, filters: Filters | None = None) -> list[int]:
    """The exact top n over the live passages' fp16 vectors, as global positions (brute force)."""
    vectors = reader.dense.vectors().astype(np.float16).astype(np.float32)
    allowed = reader.mask(filters or Filters())
    scores = vectors @ q if allowed is None else np.where(allowed, vectors @ q, -np.inf)
    return [int(i) for i in np.argsort(-scores, kind="stable")[:n]]


def test_an_sq8_base_respects_tombstones_and_filters_and_merges_its_stored_vectors(tmp_path, monkeypatch):
    """An IVF-SQ8 base with tombstones: dense search never returns a deleted passage and, every cell
    visited, gives the exact top 10 over the live stored vectors, filtered or not; a full merge copies the
    fp16 vectors bit for bit (no re-embedding, no SQ8 round trip) and writes SQ8 + vectors.npy again."""
    monkeypatch.setattr(store, "EXACT_MAX", 2000)
    corpus = clustered_corpus()
    idx = tmp_path / "idx"
    store.publish(idx, *corpus.everything(), MODEL)
    base = current(idx)
    assert base.dense.approximate and base.manifest.dense["codec"] == "SQ8" and base.manifest.dense["rerank"]
    assert (base.segments[0].folder / "vectors.npy").is_file()
    doomed = [f"d{i:03d}" for i in range(0, 300, 7)]
    corpus.make("new", n=8)
    store.publish_changes(idx, corpus.changes(["new"], removed=doomed), MODEL)
    reader = current(idx)
    reader.segments[0].dense.index.nprobe = reader.segments[0].dense.index.nlist
    dead = {p for p, d in enumerate(reader.doc_of_pos) if d in doomed}
    assert not dead  # tombstoned documents have no global position at all
    region = Filters(region=("广东省",))
    rng = np.random.default_rng(5)
    for _ in range(10):
        q = rng.normal(size=DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        for f in (Filters(), region):
            found = reader.dense_top(q, 10, f, None)
            assert not {reader.doc_of_pos[p] for p in found} & set(doomed)
            assert found == exact_live(reader, q, 10, f)
    live_vectors = {p.passage_id: v for p, v in zip(reader.passages_at(list(range(len(reader.doc_of_pos)))),
                                                    reader.dense.vectors())}
    merged = EmbeddedReader(store.merge(idx, "full"))
    assert merged.manifest.dense["codec"] == "SQ8" and merged.manifest.dense["rerank"]
    assert (merged.segments[0].folder / "vectors.npy").is_file() and len(merged.segments) == 1
    after = {p.passage_id: v for p, v in zip(merged.passages_at(list(range(len(merged.doc_of_pos)))),
                                             merged.dense.vectors())}
    assert after.keys() == live_vectors.keys()
    fp16 = {k: v.astype(np.float16).astype(np.float32) for k, v in live_vectors.items()}  # the new doc's were float32
    assert all(np.array_equal(after[k], fp16[k]) for k in after)  # the base's: fp16 → float32 → fp16, exact


def test_an_exact_index_runs_its_retrievers_one_after_the_other(tmp_path):
    _, idx = base_index(tmp_path)
    reader = current(idx)
    assert not reader.dense.approximate and not reader.overlap_retrieval


def test_a_base_with_few_tombstones_is_searched_around_them_with_the_selectors_answer(tmp_path, monkeypatch):
    """Few tombstones: the base is searched unfiltered for that many more and the deleted dropped. At the
    default nprobe (cells missed, so approximate) that gives the same passages and cosines as a search with
    a selector that admits only the live ones, and never a deleted passage."""
    from core.storage.embedded import dense, dense_segments

    monkeypatch.setattr(store, "EXACT_MAX", 2000)
    monkeypatch.setattr(dense, "FILTERED_EXACT_MAX", 0)  # this small a base would be searched exactly
    corpus = clustered_corpus()
    idx = tmp_path / "idx"
    store.publish(idx, *corpus.everything(), MODEL)
    doomed = [f"d{i:03d}" for i in range(0, 300, 11)]
    store.publish_changes(idx, corpus.changes([], removed=doomed), MODEL)
    around = current(idx)
    assert around.overlap_retrieval  # an IVF base: a hybrid search runs both retrievers at once
    assert around.dense.dead[0] is not None and len(around.dense.dead[0]) == 10 * len(doomed)
    monkeypatch.setattr(dense_segments, "TOMBSTONE_OVERFETCH_MAX", 0)
    selected = current(idx)
    assert selected.dense.dead[0] is None  # this one masks the tombstones with a selector
    rng = np.random.default_rng(9)
    for _ in range(20):
        q = rng.normal(size=DIM).astype(np.float32)
        q /= np.linalg.norm(q)
        for n in (10, 200):
            got = around.dense_ranked(q, n, Filters(), None)
            assert got == selected.dense_ranked(q, n, Filters(), None)
            assert len(got) >= 10 and not {around.doc_of_pos[p] for p, _ in got} & set(doomed)


def test_an_fp16_ivf_base_written_before_sq8_still_opens_and_a_merge_writes_sq8(tmp_path, monkeypatch):
    """A base segment with IVF-fp16 cells and no vectors.npy (as written before SQ8) opens and searches as
    before, takes changes beside it unchanged, and a full merge keeps its centroids but writes SQ8 cells
    and vectors.npy from the vectors it holds (no embedding); the merged index answers as a rebuild does."""
    import faiss

    monkeypatch.setattr(store, "EXACT_MAX", 2000)
    monkeypatch.setattr(store, "IVF_CODEC", "fp16")
    corpus = clustered_corpus()
    idx = tmp_path / "idx"
    store.publish(idx, *corpus.everything(), MODEL)
    monkeypatch.setattr(store, "IVF_CODEC", "SQ8")
    old = current(idx)
    folder = old.segments[0].folder
    assert old.manifest.dense["codec"] == "fp16" and "rerank" not in old.manifest.dense
    assert not (folder / "vectors.npy").exists() and old.segments[0].dense.stored is None
    _, ref_passages, ref_vectors = corpus.everything()
    by_id = dict(zip((p.passage_id for p in ref_passages), ref_vectors))
    assert np.allclose(old.vector_at(5), by_id[old.passages_at([5])[0].passage_id], atol=2e-3)
    corpus.make("new", n=8)
    store.publish_changes(idx, corpus.changes(["new"], removed=["d000", "d001"]), MODEL)
    changed = current(idx)
    assert changed.segments[0].folder == folder and not (folder / "vectors.npy").exists()  # referenced as it is
    q = ref_vectors[123]
    assert changed.dense_top(q, 1, Filters(), None) == [changed.passage_pos[ref_passages[123].passage_id]]
    held = {p.passage_id: v for p, v in zip(changed.passages_at(list(range(len(changed.doc_of_pos)))),
                                            changed.dense.vectors())}
    merged = EmbeddedReader(store.merge(idx, "full"))
    dense = merged.segments[0].dense
    assert merged.manifest.dense["codec"] == "SQ8" and merged.manifest.dense["rerank"] and dense.stored is not None
    assert merged.manifest.dense["trained_on"] == old.manifest.dense["trained_on"]
    old_centroids = faiss.downcast_index(old.segments[0].dense.index.quantizer).reconstruct_n(0, dense.index.nlist)
    assert np.array_equal(old_centroids, faiss.downcast_index(dense.index.quantizer).reconstruct_n(0, dense.index.nlist))
    for p, v in zip(merged.passages_at(list(range(len(merged.doc_of_pos)))), merged.dense.vectors()):
        assert np.array_equal(v, held[p.passage_id].astype(np.float16).astype(np.float32))
    rebuilt = corpus.rebuild(tmp_path / "rebuilt")
    assert list(merged.doc_of_pos) == list(rebuilt.doc_of_pos)
    overlap = [len(set(merged.dense_top(v, 10, Filters(), None)) & set(rebuilt.dense_top(v, 10, Filters(), None))) / 10
               for v in rebuilt.dense.vectors()[::97]]
    assert np.mean(overlap) >= 0.9


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs (clean-up is switched off while it is raised)."""


STEPS = ["segment-before-rename", "version-before-rename", "between-rename-and-swap", "current-temp-written",
         "after-swap", "while-removing-segments"]


def crash_at(monkeypatch, step: str) -> None:
    """Make the next publish or merge stop dead at `step`, leaving what a killed process would leave."""
    def die(*_args, **_kwargs):
        raise Killed(step)

    real_rename = os.rename
    monkeypatch.setattr(store.shutil, "rmtree", lambda *a, **k: None)  # a killed process cleans nothing up
    if step == "segment-before-rename":
        monkeypatch.setattr(store.os, "rename", lambda a, b: die() if "segments" in str(b) else real_rename(a, b))
    elif step == "version-before-rename":
        monkeypatch.setattr(store.os, "rename", lambda a, b: die() if "versions" in str(b) else real_rename(a, b))
    elif step == "between-rename-and-swap":
        monkeypatch.setattr(store, "_point_current", die)
    elif step == "current-temp-written":
        monkeypatch.setattr(store.os, "replace", die)
    elif step == "after-swap":
        monkeypatch.setattr(store, "_remove_old_versions", die)
    elif step == "while-removing-segments":
        monkeypatch.setattr(store, "_remove_unreferenced_segments", die)


def snapshot(reader: EmbeddedReader) -> list:
    return [reader.lexical_top(t, 10, Filters(), None) for t in QUERIES] + [list(reader.doc_of_pos)]


def changed_index(tmp_path):
    """The base index after three changes (a segment each): corpus, index, its version folder, its snapshot."""
    corpus, idx = base_index(tmp_path)
    for i in range(3):
        corpus.make(f"m{i}")
        store.publish_changes(idx, corpus.changes([f"m{i}"], removed=[f"d{i:02d}"]), MODEL)
    return corpus, idx, store.current_version_dir(idx), snapshot(current(idx))


@pytest.mark.parametrize("what", ["merge", "publish"])
@pytest.mark.parametrize("step", STEPS)
def test_a_merge_or_publish_killed_at_any_step_leaves_the_last_version_whole(tmp_path, monkeypatch, what, step):
    corpus, idx, good, before = changed_index(tmp_path)
    saved = dict(corpus.docs)
    crash_at(monkeypatch, step)
    with pytest.raises(Killed):
        if what == "merge":
            store.merge(idx, "full")
        else:
            corpus.make("late")
            store.publish_changes(idx, corpus.changes(["late"], removed=["d10"]), MODEL)
    monkeypatch.undo()
    published = store.current_version_dir(idx)
    if step in ("after-swap", "while-removing-segments"):
        assert published != good  # the new version was published whole; clean-up is what was cut off
        assert_same_index(current(idx), corpus.rebuild(tmp_path / "rebuilt"))
    else:
        assert published == good
        assert snapshot(current(idx)) == before
        for ref in store.segment_refs(store.read_manifest(good)):
            assert (idx / "segments" / ref.name / "manifest.json").is_file()
        corpus.docs = saved  # the killed publish never happened
    corpus.make("after")  # the next publish recovers: debris and orphans are gone
    store.publish_changes(idx, corpus.changes(["after"]), MODEL)
    assert_same_index(current(idx), corpus.rebuild(tmp_path / "rebuilt2"))
    assert not list(idx.glob(".CURRENT.*")) and not list((idx / "versions").glob(".tmp-*"))
    assert not list((idx / "segments").glob(".tmp-*"))
    listed = {r.name for v in (idx / "versions").iterdir() for r in store.segment_refs(store.read_manifest(v))}
    assert {p.name for p in (idx / "segments").iterdir()} == listed
    assert len(list((idx / "versions").iterdir())) == 2


MERGER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from core.storage.embedded import store
    real = store._fsync_tree
    def slow(folder):
        print("fsync", folder.parent.name, flush=True)
        if folder.parent.name == {where!r}:
            time.sleep(60)
        real(folder)
    store._fsync_tree = slow
    store.merge({index!r}, "full")
    print("finished", flush=True)
""")


@pytest.mark.parametrize("where", ["segments", "versions"])
def test_kill_9_mid_merge_leaves_the_last_version_whole(tmp_path, where):
    corpus, idx, good, before = changed_index(tmp_path)
    script = MERGER.format(root=str(ROOT), index=str(idx), where=where)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    while (line := proc.stdout.readline().strip()) != f"fsync {where}":
        assert line.startswith("fsync"), line
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert store.current_version_dir(idx) == good and snapshot(current(idx)) == before
    corpus.make("after")
    store.publish_changes(idx, corpus.changes(["after"]), MODEL)
    assert_same_index(current(idx), corpus.rebuild(tmp_path / "rebuilt"))
    assert not list((idx / "segments").glob(".tmp-*")) and not list((idx / "versions").glob(".tmp-*"))


def old_format_version(index_dir, corpus: Corpus) -> None:
    """An index as publish wrote it before segments (format 2): one folder of SQLite, FAISS and bm25s."""
    import sqlite3

    import bm25s
    import faiss

    docs, passages, vectors = corpus.everything()
    name = "v20250101-000000-abcdef"
    folder = index_dir / "versions" / name
    folder.mkdir(parents=True)
    conn = sqlite3.connect(folder / "index.sqlite")
    conn.executescript(store.SCHEMA)
    conn.executemany(store._insert_sql("documents", store.DOCUMENT_COLUMNS), [document_row(d) for d in docs])
    conn.executemany(store._insert_sql("passages", store.PASSAGE_COLUMNS),
                     [{"pos": pos, **passage_row(p)} for pos, p in enumerate(passages)])
    conn.commit()
    conn.close()
    dense, info = store.build_dense_index(vectors, DIM)
    faiss.write_index(dense, str(folder / "dense.faiss"))
    bm25 = bm25s.BM25()
    bm25.index([p.tokens for p in passages], show_progress=False)
    bm25.save(str(folder / "bm25"), show_progress=False)
    manifest = Manifest(version=name, model=MODEL, documents=len(docs), passages=len(passages), created=0.0,
                        format=2, dense=info).to_json()
    manifest.pop("segments", None)
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (index_dir / "CURRENT").write_text(name + "\n", encoding="utf-8")


def test_a_version_written_before_segments_opens_and_becomes_a_segment_without_embedding(tmp_path):
    corpus = Corpus(4)
    for i in range(25):
        corpus.make(f"d{i:02d}", region="广东省" if i % 3 == 0 else "")
    idx = tmp_path / "idx"
    old_format_version(idx, corpus)
    old = current(idx)
    assert old.manifest.format == 2 and old.manifest.segments == []
    assert_same_index(old, corpus.rebuild(tmp_path / "rebuilt"))  # bm25s' scores, the same positions
    old_dense = old.segments[0].folder / "dense.faiss"
    corpus.make("n1")
    store.publish_changes(idx, corpus.changes(["n1"], removed=["d03"]), MODEL)
    migrated = current(idx)
    assert migrated.manifest.format == 3 and len(migrated.segments) == 2
    assert os.path.samefile(old_dense, migrated.segments[0].folder / "dense.faiss")  # linked: vectors not rebuilt
    assert_same_index(migrated, corpus.rebuild(tmp_path / "rebuilt2"))
    corpus.make("n2")
    store.publish_changes(idx, corpus.changes(["n2"]), MODEL)  # the old version is no longer kept
    assert not (idx / "versions" / old.version).exists() and migrated.segments[0].folder.is_dir()
    assert_same_index(current(idx), corpus.rebuild(tmp_path / "rebuilt3"))


def test_the_pipeline_publishes_only_what_changed(tmp_path):
    from indexer.pipeline import delete_documents, index_paths
    from tests.conftest import DATA, SEEDS
    from tests.fakes import HashEncoder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for key in ("gz_ict_2019", "jm_ict_2024", "bureau_2022"):
        shutil.copy(DATA / SEEDS[key], corpus)
    idx, enc = tmp_path / "idx", HashEncoder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "merge_plan", lambda refs: None)
        index_paths([corpus], idx, encoder=enc)
        path = corpus / SEEDS["jm_ict_2024"]
        path.write_text(path.read_text(encoding="utf-8") + "\n（五）新增措施。建立行政执法案卷评查制度。", encoding="utf-8")
        summary = index_paths([corpus], idx, encoder=enc)
        reader = current(idx)
        refs = store.segment_refs(reader.manifest)
        assert len(refs) == 2 and refs[1].documents == 1 and len(refs[0].deleted) == 1
        assert summary.updated and summary.embedded <= 2
        gone = SEEDS["bureau_2022"]  # a document of the base segment
        doomed = [d.doc_id for d in reader.documents.values() if d.name == gone]
        assert delete_documents(idx, doomed)
        after = store.segment_refs(current(idx).manifest)
        assert [r.name for r in after] == [r.name for r in refs] and len(after[0].deleted) == 2  # tombstones only
    (corpus / SEEDS["bureau_2022"]).unlink()
    fresh = tmp_path / "fresh"
    index_paths([corpus], fresh, encoder=enc)
    assert_same_index(current(idx), current(fresh))
    from search.engine import SearchEngine

    a, b = SearchEngine(idx, encoder=enc), SearchEngine(fresh, encoder=enc)  # fusion, match levels, groups
    for q in ("法律顾问", "行政执法案卷评查", "公平竞争审查", "依法行政", "法律顧問"):
        for kwargs in ({}, {"mode": "bm25"}, {"per_doc": 1}, {"min_match": "any"}):
            x, y = a.search(q, k=10, **kwargs), b.search(q, k=10, **kwargs)
            assert [(h.passage_id, h.match, round(h.score, 6)) for h in x.hits] == \
                [(h.passage_id, h.match, round(h.score, 6)) for h in y.hits]
            assert x.total == y.total


def test_kept_bm25_scores_answer_only_the_same_tokens_and_are_not_written_to(tmp_path):
    """BM25 keeps the last query's scores for the filtered search that follows its facets' run: the next
    query, a filter, or a caller writing to `scores()` must not see another query's scores."""
    corpus, idx = base_index(tmp_path)
    a = current(idx)
    fresh = lambda: current(idx)  # noqa: E731  (nothing kept)
    broad = Filters(region=("广东省",))
    first, second = QUERIES[0], QUERIES[1]
    assert a.lexical_ranked(first, 10, Filters(), None) == fresh().lexical_ranked(first, 10, Filters(), None)
    assert a.lexical_ranked(first, 10, broad, None) == fresh().lexical_ranked(first, 10, broad, None)
    assert a.lexical_ranked(second, 10, Filters(), None) == fresh().lexical_ranked(second, 10, Filters(), None)
    a.lexical.scores(second)[:] = 1e6  # a caller's copy
    assert a.lexical_ranked(second, 10, broad, None) == fresh().lexical_ranked(second, 10, broad, None)
    assert a.lexical_ranked(first, 10, broad, None) == fresh().lexical_ranked(first, 10, broad, None)
