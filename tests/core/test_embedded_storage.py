"""Dense index by size: exact below the threshold, IVF above; filters, vectors read back, recall vs exact."""

import numpy as np
import pytest

from core.storage.embedded import store
from core.storage.embedded import dense as dense_module
from core.storage.embedded.dense import DenseIndex


def unit_rows(n: int, dim: int = 32, seed: int = 1) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def written(tmp_path, vectors: np.ndarray) -> DenseIndex:
    index, info = store.build_dense_index(vectors, vectors.shape[1])
    store.write_dense(tmp_path, index, info, vectors)
    (tmp_path / "manifest.json").write_text(__import__("json").dumps({"dense": info}))
    return DenseIndex(tmp_path)


def exact_top(vectors, query, n, allowed=None):
    scores = vectors @ query
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    return [int(i) for i in np.argsort(-scores, kind="stable")[:n]]


def test_small_index_is_exact_and_filters_exactly(tmp_path):
    vectors = unit_rows(3000)
    index = written(tmp_path, vectors)
    assert not index.approximate
    allowed = np.arange(3000) % 3 == 0
    for q in vectors[:20]:
        assert [p for p, _ in index.top(q, 10)] == exact_top(vectors, q, 10)
        assert [p for p, _ in index.top(q, 10, allowed)] == exact_top(vectors, q, 10, allowed)
    assert np.allclose(index.vector(42), vectors[42])


def test_large_index_is_ivf_with_high_recall_and_filters(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "EXACT_MAX", 5000)
    centers = unit_rows(400, seed=2)
    rng = np.random.default_rng(3)
    vectors = centers[rng.integers(0, 400, 20000)] + rng.normal(scale=0.08, size=(20000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = written(tmp_path, vectors)
    assert index.approximate
    queries = vectors[rng.integers(0, 20000, 50)] + rng.normal(scale=0.05, size=(50, 32)).astype(np.float32)
    recall = np.mean([
        len(set(p for p, _ in index.top(q, 10)) & set(exact_top(vectors, q, 10))) / 10 for q in queries
    ])
    assert recall >= 0.95
    allowed = rng.random(20000) < 0.5
    monkeypatch.setattr(dense_module, "FILTERED_EXACT_MAX", 100)  # force the IVF selector path
    for q in queries[:10]:
        assert all(allowed[p] for p, _ in index.top(q, 10, allowed))
    narrow = np.zeros(20000, bool)
    narrow[rng.choice(20000, 50, replace=False)] = True
    monkeypatch.setattr(dense_module, "FILTERED_EXACT_MAX", 20_000)  # a narrow filter is searched exactly
    stored = index.vectors()  # the fp16 vectors the search re-ranks by (SQ8 cells keep no direct map)
    assert np.allclose(stored, vectors, atol=2e-3)
    for q in queries[:10]:
        found = [p for p, _ in index.top(q, 10, narrow)]
        assert found == exact_top(stored, q, 10, narrow)  # exact over what is stored
        assert len(set(found) & set(exact_top(vectors, q, 10, narrow))) >= 9  # and ≈ exact over float32
    assert np.allclose(index.vector(123), vectors[123], atol=2e-3)


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_and_empty_indexes(tmp_path, n):
    index = written(tmp_path, unit_rows(n) if n else np.zeros((0, 32), np.float32))
    assert len(index.top(unit_rows(1)[0], 5)) == n


@pytest.mark.parametrize("codec", ["SQ8", "fp16"])
def test_quantized_cells_return_the_top_ten_of_float32_cells(tmp_path, monkeypatch, codec):
    """SQ8 / fp16 IVF cells against float32 ones (same cells, same nprobe): the same top 10, within a tie or two."""
    import faiss

    monkeypatch.setattr(store, "EXACT_MAX", 5000)
    centers = unit_rows(200, seed=4)
    rng = np.random.default_rng(5)
    vectors = centers[rng.integers(0, 200, 12000)] + rng.normal(scale=0.1, size=(12000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.integers(0, 12000, 100)] + rng.normal(scale=0.1, size=(100, 32)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    tops = {}
    for kind in ("flat", codec):
        monkeypatch.setattr(store, "IVF_CODEC", kind)
        index, info = store.build_dense_index(vectors, 32)
        assert info["codec"] == kind
        index.nprobe = 32
        tops[kind] = index.search(queries, 10)[1]
    assert isinstance(index, faiss.IndexIVFScalarQuantizer)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(tops["flat"], tops[codec])])
    assert overlap >= (0.97 if codec == "SQ8" else 0.995)
    assert index.code_size == (32 if codec == "SQ8" else 64)  # bytes a vector: a quarter / half of float32


def near_duplicates(n: int, dim: int = 32, seed: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Noisy copies of a few hundred centres (near-ties SQ8 codes cannot order) and queries between them."""
    rng = np.random.default_rng(seed)
    centers = unit_rows(300, dim, seed=seed + 1)
    vectors = centers[rng.integers(0, 300, n)] + rng.normal(scale=0.03, size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[rng.integers(0, n, 100)] + rng.normal(scale=0.15, size=(100, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return vectors, queries


def test_sq8_cells_reranked_from_disk_return_the_exact_top_ten(tmp_path, monkeypatch):
    """IVF-SQ8 + re-rank from vectors.npy gives the exact top 10 (brute force over what is stored), better
    than the SQ8 codes alone and as well as float32 cells with the same nprobe; no direct map is kept."""
    import faiss

    monkeypatch.setattr(store, "EXACT_MAX", 5000)
    vectors, queries = near_duplicates(15000)
    index = written(tmp_path, vectors)
    info = __import__("json").loads((tmp_path / "manifest.json").read_text())["dense"]
    assert info["codec"] == "SQ8" and info["rerank"]["extra"] == store.IVF_RERANK_EXTRA
    assert isinstance(index.index, faiss.IndexIVFScalarQuantizer) and index.index.code_size == 32  # a byte a dimension
    assert index.index.direct_map.type == faiss.DirectMap.NoMap  # vectors come from the file, not the cells
    assert (tmp_path / "vectors.npy").exists() and index.stored.shape == (15000, 32)
    stored = index.vectors()
    assert np.array_equal(stored, vectors.astype(np.float16).astype(np.float32))

    def recall(found, truth):
        return np.mean([len(set(f) & set(truth(q))) / 10 for f, q in zip(found, queries)])

    reranked = [[p for p, _ in index.top(q, 10)] for q in queries]
    index.index.nprobe = index.index.nlist  # every cell: what remains is the codes' and the re-rank's doing
    every_cell = [[p for p, _ in index.top(q, 10)] for q in queries]
    assert every_cell == [exact_top(stored, q, 10) for q in queries]  # the exact top 10 of the stored vectors
    index.index.nprobe = info["nprobe"]
    codes_alone = index.index.search(queries, 10)[1]
    flat = store.ivf_index(faiss.downcast_index(index.index.quantizer), 32, index.index.nlist, "flat")
    flat.is_trained = True
    flat.add(vectors)
    flat.nprobe = info["nprobe"]
    float32_cells = flat.search(queries, 10)[1]
    def exact(q):
        return exact_top(vectors, q, 10)

    assert recall(reranked, exact) >= 0.98
    assert recall(reranked, exact) >= recall(float32_cells, exact) - 0.01  # fp16 may swap a near-tie at 10th
    assert recall(reranked, exact) > recall(codes_alone, exact)
    for q in queries[:5]:  # the scores are the stored vectors' cosines, best first
        hits = index.top(q, 10)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        assert np.allclose([s for _, s in hits], stored[[p for p, _ in hits]] @ q, atol=1e-5)


def test_sq8_filters_and_the_exact_filtered_path_read_the_stored_vectors(tmp_path, monkeypatch):
    """A filter (the IVF selector path, re-ranked) admits only allowed positions and finds their exact top 10
    with every cell visited; a narrow one is searched exactly over vectors.npy."""
    monkeypatch.setattr(store, "EXACT_MAX", 5000)
    vectors, queries = near_duplicates(12000, seed=8)
    index = written(tmp_path, vectors)
    stored = index.vectors()
    rng = np.random.default_rng(9)
    allowed = rng.random(12000) < 0.3
    monkeypatch.setattr(dense_module, "FILTERED_EXACT_MAX", 100)
    index.index.nprobe = index.index.nlist
    for q in queries[:20]:
        assert [p for p, _ in index.top(q, 10, allowed)] == exact_top(stored, q, 10, allowed)
    monkeypatch.setattr(dense_module, "FILTERED_EXACT_MAX", 20_000)
    narrow = np.zeros(12000, bool)
    narrow[rng.choice(12000, 40, replace=False)] = True
    for q in queries[:20]:
        assert [p for p, _ in index.top(q, 10, narrow)] == exact_top(stored, q, 10, narrow)


def test_stored_vectors_are_read_not_mapped(tmp_path, monkeypatch):
    """The re-rank reads rows with pread: the file never becomes part of the process (a memory map would,
    page by page, ~the whole file after enough queries)."""
    import os

    monkeypatch.setattr(store, "EXACT_MAX", 5000)
    vectors, queries = near_duplicates(8000)
    index = written(tmp_path, vectors)
    for q in queries:
        index.top(q, 20)
    if os.path.exists("/proc/self/maps"):
        with open("/proc/self/maps") as maps:
            assert str(tmp_path / "vectors.npy") not in maps.read()
    rows = index.stored.rows(np.array([7, 3, 4, 5, 7999, 0]))  # any order; runs read together
    assert np.allclose(rows, vectors[[7, 3, 4, 5, 7999, 0]], atol=2e-3) and rows.dtype == np.float32
    assert np.array_equal(index.vector(4), rows[2]) and len(index.stored.rows([])) == 0
    with pytest.raises(IndexError):
        index.stored.rows(np.array([8000]))
    np.save(tmp_path / "vectors.npy", vectors[:-1].astype(np.float16))  # a file that does not match its index
    with pytest.raises(ValueError, match="7999 stored vectors for 8000"):
        DenseIndex(tmp_path)


def test_fp16_ivf_written_before_sq8_is_searched_as_before(tmp_path, monkeypatch):
    """An IVF-fp16 index without vectors.npy or `rerank` (as main wrote them) opens with a direct map and is
    searched, filtered and read back by its cells, as before."""
    monkeypatch.setattr(store, "EXACT_MAX", 5000)
    monkeypatch.setattr(store, "IVF_CODEC", "fp16")
    vectors, queries = near_duplicates(10000)
    index = written(tmp_path, vectors)
    monkeypatch.undo()
    reopened = DenseIndex(tmp_path)
    assert not (tmp_path / "vectors.npy").exists() and reopened.stored is None and reopened.rerank_extra == 0
    assert reopened.approximate and reopened.index.code_size == 64
    recall = np.mean([len({p for p, _ in reopened.top(q, 10)} & set(exact_top(vectors, q, 10))) / 10
                      for q in queries])
    assert recall >= 0.98
    assert np.allclose(reopened.vector(17), vectors[17], atol=2e-3)
    assert np.allclose(reopened.vectors(), vectors, atol=2e-3)
    narrow = np.zeros(10000, bool)
    narrow[::500] = True
    assert [p for p, _ in reopened.top(queries[0], 5, narrow)] == exact_top(reopened.vectors(), queries[0], 5, narrow)
    assert index.index.nprobe == reopened.index.nprobe


def test_reader_mappings_behave_like_the_dict_and_list_they_replace(tmp_path):
    """passage_pos, doc_of_pos and documents' texts are read from SQLite and arrays, answering as before."""
    from core.model import ModelInfo
    from core.records import DocumentRecord, PassageRecord
    from core.storage.embedded.reader import EmbeddedReader

    docs, passages = [], []
    for d, n in (("b", 3), ("a", 2), ("c", 1)):
        docs.append(DocumentRecord(doc_id=d, source=f"{d}.txt", name=f"{d}.txt", content_hash=d, text=f"全文{d}" * 3,
                                   title=d, display_title=d.upper(), n_passages=n))
        for i in range(n):
            passages.append(PassageRecord(passage_id=f"{d}-{i:04d}", doc_id=d, ordinal=i, start=0, end=1,
                                          heading_path=[], kind="paragraph", text=f"{d}{i}", match_text=f"{d}{i}",
                                          tokens=["法律", f"t{d}{i}"]))
    vectors = unit_rows(len(passages))
    model = ModelInfo(name="m", dim=32, fingerprint="f", probe=[])
    reader = EmbeddedReader(store.publish(tmp_path, docs, passages, vectors, model))
    # positions follow document name, then ordinal (the protocol's order), whatever order publish was given
    in_order = sorted(passages, key=lambda p: (p.doc_id, p.ordinal))
    expected_pos = {p.passage_id: i for i, p in enumerate(in_order)}
    expected_docs = [p.doc_id for p in in_order]
    assert dict(reader.passage_pos) == expected_pos and len(reader.passage_pos) == 6
    assert reader.passage_pos.get("c-0000") == 5 and reader.passage_pos["b-0001"] == 3
    assert reader.passage_pos.get("nope") is None and "nope" not in reader.passage_pos and "a-0001" in reader.passage_pos
    with pytest.raises(KeyError):
        reader.passage_pos["nope"]
    assert list(reader.doc_of_pos) == expected_docs and len(reader.doc_of_pos) == 6
    assert [reader.doc_of_pos[i] for i in range(6)] == expected_docs
    assert reader.doc_of_pos[np.int64(4)] == "b" and reader.doc_of_pos[-1] == "c" and reader.doc_of_pos[1:3] == ["a", "b"]
    assert reader.documents["a"].text == "全文a" * 3 and reader.documents["c"].display_title == "C"
    assert [d.doc_id for d in reader.documents.values()] == ["a", "b", "c"]
    assert [p.passage_id for p in reader.passages_at([4, 0])] == ["b-0002", "a-0000"]
    by_id = {p.passage_id: v for p, v in zip(passages, vectors)}
    assert np.allclose(reader.vector_at(2), by_id["b-0000"])  # vectors travel with their passages
