"""BM25 scoring functions beside the segmented index: the top-n selection, columns read through a segment's runs."""

import numpy as np

from core.storage.embedded.lexical import RUNS_MAX, live_runs, mapped_column, ranked_positive


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


def gathered(local: np.ndarray, tf: np.ndarray, l2g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A column's live passages through the local → global map: the reference for reading through runs."""
    positions = np.take(l2g, local)
    live = positions >= 0
    return positions[live], tf[live], local[live]


def random_map(rng, size: int) -> np.ndarray:
    """A segment's local → global map after random adds elsewhere (jumps) and deletes here (-1 runs)."""
    l2g = np.full(size, -1, dtype=np.int32)
    at, g = 0, int(rng.integers(0, 50))
    while at < size:
        run = int(rng.integers(1, max(2, size // 4)))
        if rng.random() < 0.3:
            at += run  # a deleted document: tombstoned
            continue
        l2g[at : at + run] = np.arange(g, g + min(run, size - at), dtype=np.int32)
        at, g = at + run, g + run + (int(rng.integers(0, 20)) if rng.random() < 0.5 else 0)
    return l2g


def test_a_column_read_through_runs_equals_the_gather_through_the_map():
    rng = np.random.default_rng(5)
    checked = 0
    for trial in range(300):
        size = int(rng.integers(1, 3000))
        l2g = random_map(rng, size)
        runs = live_runs(l2g)
        if runs is None:
            assert (l2g < 0).all() or len(live_runs(l2g, limit=10**9).starts) > RUNS_MAX
            continue
        assert runs.whole == bool(np.array_equal(l2g, np.arange(l2g[0], l2g[0] + size)) and l2g[0] >= 0)
        for _ in range(3):
            local = np.sort(rng.choice(size, size=int(rng.integers(0, size + 1)), replace=False)).astype(np.int32)
            tf = rng.integers(1, 9, size=len(local)).astype(np.uint16)
            for got, want in zip(mapped_column(local, tf, runs), gathered(local, tf, l2g)):
                assert got.dtype == want.dtype and np.array_equal(got, want)
            checked += 1
    assert checked > 300  # most maps have few runs


def test_runs_of_a_map_with_tombstones_at_either_end_and_too_many_runs():
    l2g = np.array([-1, -1, 0, 1, 2, -1, 7, 8, -1], dtype=np.int32)
    runs = live_runs(l2g)
    assert runs.starts.tolist() == [2, 6] and runs.ends.tolist() == [5, 8] and runs.shifts.tolist() == [-2, 1]
    assert not runs.whole and not live_runs(np.array([0, 1, -1], dtype=np.int32)).whole
    assert live_runs(np.arange(4, dtype=np.int32) + 3).whole
    assert live_runs(np.full(3, -1, dtype=np.int32)) is None
    assert live_runs(np.arange(0, 20, 2, dtype=np.int32), limit=9) is None  # ten runs of one
