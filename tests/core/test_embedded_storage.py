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
    import faiss

    index, info = store.build_dense_index(vectors, vectors.shape[1])
    faiss.write_index(index, str(tmp_path / "dense.faiss"))
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
    stored = index.index.reconstruct_n(0, index.size)  # SQ8: the vectors as the cells hold them
    for q in queries[:10]:
        found = [p for p, _ in index.top(q, 10, narrow)]
        assert found == exact_top(stored, q, 10, narrow)  # exact over what is stored
        assert len(set(found) & set(exact_top(vectors, q, 10, narrow))) >= 9  # and ≈ exact over float32
    assert np.allclose(index.vector(123), vectors[123], atol=0.02)


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
