"""Reciprocal rank fusion, per-document limits and highlighting."""

from search.fusion import limit_per_group, reciprocal_rank_fusion
from search.highlight import highlight_spans


def test_rrf_rewards_items_ranked_by_both_lists():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 4, 1]], k=60)
    assert [item for item, _ in fused][:2] == [1, 3]
    assert fused[0][1] == 1 / 61 + 1 / 63
    weighted = reciprocal_rank_fusion([[1, 2], [2, 1]], k=20, weights=[0.5, 1.0])
    assert [item for item, _ in weighted] == [2, 1]


def test_limit_per_group_keeps_rank_order():
    items = [(i, 1.0 / (i + 1)) for i in range(6)]
    out = limit_per_group(items, lambda i: "ab"[i % 2], per_group=2, k=10)
    assert [i for i, _ in out] == [0, 1, 2, 3]
    assert [i for i, _ in limit_per_group(items, lambda i: "a", None, 3)] == [0, 1, 2]


def test_simplified_query_terms_highlight_traditional_text():
    text = "完善政府法律顧問管理機製，聘請兼職法律顧問"
    spans, terms = highlight_spans(text, ["法律顾问", "管理"])
    assert terms == ["法律顧問", "管理"]
    assert [text[s:e] for s, e in spans] == ["法律顧問", "管理", "法律顧問"]
