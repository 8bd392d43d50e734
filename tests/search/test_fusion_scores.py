"""Score fusion: z-scores per list, a convex combination, and a missing item counted as the list's last."""

import pytest

from search.fusion import convex_fusion, z_scores


def test_z_scores_are_centred_and_scaled():
    z = z_scores([(1, 3.0), (2, 2.0), (3, 1.0)])
    assert z[1] == pytest.approx(1.2247, abs=1e-4) and z[2] == pytest.approx(0.0) and z[3] == pytest.approx(-1.2247, abs=1e-4)
    assert z_scores([(7, 5.0), (8, 5.0)]) == {7: 0.0, 8: 0.0} and z_scores([]) == {}


def test_scale_of_a_list_does_not_matter():
    lexical = [(1, 30.0), (2, 20.0), (3, 10.0)]
    dense = [(3, 0.9), (2, 0.8), (4, 0.1)]
    a = convex_fusion([lexical, dense], [0.3, 0.7])
    b = convex_fusion([[(p, s / 10) for p, s in lexical], [(p, s * 100) for p, s in dense]], [0.3, 0.7])
    assert [p for p, _ in a] == [p for p, _ in b]


def test_margins_count_where_ranks_would_not():
    # dense: 1 far ahead of 2; lexical: 2 barely ahead of 1. Rank fusion would tie them; scores do not.
    lexical = [(2, 10.0), (1, 9.9), (3, 1.0)]
    dense = [(1, 0.95), (2, 0.50), (3, 0.49)]
    assert [p for p, _ in convex_fusion([lexical, dense], [0.5, 0.5])][0] == 1


def test_an_item_one_list_missed_counts_as_that_lists_lowest():
    fused = dict(convex_fusion([[(1, 2.0), (2, 1.0)], [(3, 1.0), (1, 0.0)]], [0.5, 0.5]))
    low_lexical, low_dense = min(z_scores([(1, 2.0), (2, 1.0)]).values()), min(z_scores([(3, 1.0), (1, 0.0)]).values())
    assert fused[3] == pytest.approx(0.5 * low_lexical + 0.5 * 1.0)
    assert fused[2] == pytest.approx(0.5 * -1.0 + 0.5 * low_dense)  # two scores: z = ±1
    assert set(fused) == {1, 2, 3}


def test_one_list_alone_keeps_its_order():
    near = [(5, 0.9), (4, 0.7), (9, 0.2)]
    assert [p for p, _ in convex_fusion([[], near], [0.3, 0.7])] == [5, 4, 9]
