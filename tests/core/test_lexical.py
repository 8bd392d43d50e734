"""BM25 scoring functions beside the segmented index: the top-n selection."""

import numpy as np

from core.storage.embedded.lexical import ranked_positive


def reference(scores: np.ndarray, n: int) -> list[int]:
    """The n largest positive scores by a full sort: score descending, then index."""
    order = sorted((i for i in range(len(scores)) if scores[i] > 0), key=lambda i: (-scores[i], i))
    return order[:n]


def test_ranked_positive_with_hints_equals_a_full_sort_with_ties_and_zeros():
    rng = np.random.default_rng(3)
    for trial in range(200):
        size = int(rng.integers(1, 400))
        scores = np.round(rng.random(size) * 5, 1).astype(np.float32)  # many ties
        scores[rng.random(size) < 0.4] = 0
        n = int(rng.integers(1, 60))
        hints = [rng.choice(size, size=int(rng.integers(0, size + 1)), replace=True) for _ in range(3)]
        want = reference(scores, n)
        assert ranked_positive(scores, n) == want
        assert ranked_positive(scores, n, hints) == want  # hints may repeat positions and miss the best


def test_ranked_positive_edge_cases():
    assert ranked_positive(np.zeros(5, np.float32), 3) == []
    assert ranked_positive(np.array([0.0, 2.0, 1.0], np.float32), 0) == []
    assert ranked_positive(np.array([0.0, 2.0, 1.0], np.float32), 10, [np.array([1])]) == [1, 2]
