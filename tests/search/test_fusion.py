"""Reciprocal rank fusion, per-document limits and highlighting."""

from search.fusion import level_first_within_groups, limit_per_group, reciprocal_rank_fusion
from search.highlight import grow_to_shared, held_terms, highlight_spans


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


def test_a_group_shows_its_strong_item_at_the_place_of_its_best_one():
    items = [(0, 0.9), (1, 0.8), (2, 0.7), (3, 0.6), (4, 0.5)]  # 0, 2, 4 of group a; 1, 3 of group b
    strong = {2, 3, 4}
    out = level_first_within_groups(items, lambda i: "ab"[i % 2], lambda i: i in strong)
    assert out == [(2, 0.7), (3, 0.6), (4, 0.5), (1, 0.8), (0, 0.9)]  # each item keeps its own score
    assert [i for i, _ in limit_per_group(out, lambda i: "ab"[i % 2], 1, 10)] == [2, 3]
    assert level_first_within_groups(items, lambda i: "ab"[i % 2], lambda i: False) == items


def test_a_held_phrase_keeps_its_words_from_being_marked_apart():
    tokens = ["公平", "竞争", "公平竞争", "审查", "制度"]
    assert held_terms("开展公平竞争审查，加强审查", tokens, ["公平竞争审查"]) == ["公平竞争审查", "制度"]
    assert held_terms("加强合法性审查", tokens, ["公平竞争审查"]) == tokens  # the phrase is absent: its words
    text = "開展公平競爭審查，加強審查制度建設"
    spans, terms = highlight_spans(text, tokens, phrases=["公平竞争审查"])
    assert [text[s:e] for s, e in spans] == ["公平競爭審查", "制度"] and terms == ["公平競爭審查", "制度"]
    before = highlight_spans(text, ["公平竞争审查"] + tokens)[0]  # every token marked, as without phrases
    assert [text[s:e] for s, e in before] == ["公平競爭審查", "審查", "制度"]


def test_a_similar_mark_grows_to_the_run_it_shares_with_the_source_but_not_by_filler():
    source = "全面落实公平竞争审查制度，对新制定的政策措施开展公平竞争审查"
    text = "嚴格落實公平競爭審查，清理政策措施"
    rare = [(4, 8), (13, 17)]  # 公平競爭, 政策措施: the source's rarest words, as find-similar marks them
    spans, terms = grow_to_shared(text, rare, source)
    assert terms == ["公平競爭審查", "政策措施"]  # 審查 joins; 落實 (filler) and 清理 (not in the source) don't
    assert grow_to_shared(text, [(4, 6), (6, 8)], source)[1] == ["公平競爭審查"]  # touching marks become one
    assert grow_to_shared("公平竞争与审查", [(0, 4)], source)[1] == ["公平竞争"]  # the run must be in the source
    assert grow_to_shared(text, [], source) == ([], [])
    # a word the hit shares only with the source's heading context is not shown as shared
    assert grow_to_shared("推进民主决策，清理政策措施", [(2, 4), (9, 13)], source)[1] == ["政策措施"]
    # …but one the source holds in the other vocabulary is (軟體 = 软件)
    assert grow_to_shared("推广使用正版软件", [(6, 8)], "各機關應使用正版軟體")[1] == ["软件"]


def test_simplified_query_terms_highlight_traditional_text():
    text = "完善政府法律顧問管理機製，聘請兼職法律顧問"
    spans, terms = highlight_spans(text, ["法律顾问", "管理"])
    assert terms == ["法律顧問", "管理"]
    assert [text[s:e] for s, e in spans] == ["法律顧問", "管理", "法律顧問"]
