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
    for q in queries[:10]:
        assert [p for p, _ in index.top(q, 10, narrow)] == exact_top(vectors, q, 10, narrow)
    assert np.allclose(index.vector(123), vectors[123])


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_and_empty_indexes(tmp_path, n):
    index = written(tmp_path, unit_rows(n) if n else np.zeros((0, 32), np.float32))
    assert len(index.top(unit_rows(1)[0], 5)) == n
