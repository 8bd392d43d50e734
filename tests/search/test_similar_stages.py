"""find-similar's pieces (issue 12): source terms, the second stage, one source from id or text.

Pure functions on their own, then the whole path over a hash-encoder index of two seeds (no model).
"""

from __future__ import annotations

import numpy as np
import pytest

from search.rerank import (
    FEATURES, LEGACY, Candidate, RerankWeights, SimilarConfig, TermMatrix, bm25_matrix, bm25_scores,
    best_per_document, deciding, ranked_within_documents, reciprocal, score_candidates,
)
from search.source_terms import FILLER, folded_forms, is_filler, is_function_word, select_terms, sentences, source_tokens, weighted_query
from tests.conftest import copy_seeds
from tests.fakes import HashEncoder


# -- source terms ---------------------------------------------------------------------------------------
def test_sentences_split_on_chinese_stops_and_join_fragments():
    assert sentences("一是聘请法律顾问。二是审查合同；", min_chars=4) == ["一是聘请法律顾问。", "二是审查合同；"]
    assert sentences("一是聘请法律顾问。二是审查合同；三是培训\n四") == ["一是聘请法律顾问。", "二是审查合同；三是培训四"]
    assert sentences("好。聘请律师事务所担任法律顾问。") == ["好。聘请律师事务所担任法律顾问。"]


def test_select_terms_keeps_rare_words_and_drops_filler_frequent_and_unknown():
    df = {"法律顾问": 3, "聘请": 10, "完成": 2, "工作机制": 900, "人民政府": 5}.get
    terms = select_terms(["法律顾问", "法律顾问", "聘请", "完成", "工作机制", "人民政府", "未知词"],
                         lambda t: df(t, 0), n_passages=1000)
    names = [t for t, _ in terms]
    assert names == ["法律顾问", "聘请"]  # 完成/人民政府: filler; 工作机制: in 90% of passages; 未知词: df 0
    assert terms[0][1] > terms[1][1]


def test_weighted_query_repeats_the_heaviest_terms():
    assert weighted_query([("a", 10.0), ("b", 5.0), ("c", 1.0)]) == ["a", "a", "a", "b", "b", "c"]
    assert weighted_query([]) == []


def test_filler_and_numbers_never_count():
    assert is_filler("完成") and is_filler("人民政府") and is_filler("2019") and is_filler("12.5%") and is_filler("法")
    assert not is_filler("法律顾问") and not is_filler("12345热线")
    assert "法律顾问" not in FILLER


def test_vocabulary_folding_adds_the_other_scripts_words():
    assert "软体" in " ".join(folded_forms("软件开发"))  # 软件 → 軟體, in matching form 软体
    assert "软件" in " ".join(folded_forms("軟體開發"))
    assert "软体" in source_tokens("软件开发", fold_vocabulary=True)
    assert "软体" not in source_tokens("软件开发")


# -- second stage ---------------------------------------------------------------------------------------
def cand(pos, doc, tokens, cosine, bm25_rank=None, dense_rank=None, fused=0.0):
    return Candidate(pos=pos, doc_id=doc, tokens=tokens, cosine=cosine, bm25_rank=bm25_rank, dense_rank=dense_rank,
                     fused=fused)


def test_bm25_scores_prefer_more_and_rarer_matches_and_shorter_passages():
    idf = {"顾问": 2.0, "法律": 0.5}.get
    scores = bm25_scores(["顾问", "法律"], [["顾问", "法律"], ["法律"], ["顾问", "法律"] + ["x"] * 20, []],
                         lambda t: idf(t, 1.0))
    assert scores[0] > scores[2] > scores[1] > scores[3] == 0.0


def test_bm25_over_the_term_matrix_equals_the_reference_loop():
    import random

    rng = random.Random(7)
    words = [f"词{i}" for i in range(40)]
    docs = [[rng.choice(words[: rng.randint(3, 40)]) for _ in range(rng.randint(0, 60))] for _ in range(50)]
    query = [rng.choice(words) for _ in range(12)] + ["不在任何段落"]
    idf = {w: rng.uniform(0.1, 5.0) for w in words}

    def idf_of(t):
        return idf.get(t, 0.0)

    fast = bm25_matrix(query, TermMatrix.of(docs), idf_of)
    assert np.allclose(fast, bm25_scores(query, docs, idf_of), rtol=1e-12, atol=1e-12)
    assert fast.min() == 0.0 < fast.max()  # the empty passage scores 0, some passage more


def test_reciprocal_rank_feature():
    assert reciprocal(1) == 1.0 and reciprocal(None) == 0.0 and 0 < reciprocal(50) < reciprocal(2) < 1


def test_second_stage_picks_the_passage_on_the_matter_inside_each_document():
    terms = {"法律顾问": 5.0, "合同": 2.0}
    cands = [
        cand(1, "A", ["法律顾问", "合同", "审查"], 0.80, bm25_rank=3, dense_rank=2, fused=0.02),
        cand(2, "A", ["完成", "人民政府", "工作"], 0.86, bm25_rank=None, dense_rank=1, fused=0.05),  # filler only
        cand(3, "B", ["法律顾问"], 0.70, bm25_rank=1, dense_rank=5, fused=0.04),
    ]
    score_candidates(cands, terms, lambda t: 1.0, RerankWeights(), is_filler=is_filler)
    assert set(cands[0].features) == set(FEATURES)
    assert cands[1].features["coverage"] == 0.0 and cands[0].features["coverage"] == 1.0
    assert cands[1].features["cosine_gap"] == 0.0 and cands[0].features["cosine_gap"] < 0
    heads = best_per_document(cands)
    assert {c.doc_id: c.pos for c in heads} == {"A": 1, "B": 3}
    assert [c.pos for c in best_per_document(cands, "fused")] == [1, 3]  # A had the best fused passage (pos 2)
    assert deciding(cands[0], RerankWeights(), n=2) == ["lexical_z", "coverage"]


def test_ranked_within_documents_keeps_per_doc_and_document_order():
    cands = [cand(1, "A", [], 0), cand(2, "A", [], 0), cand(3, "B", [], 0)]
    for c, s in zip(cands, (0.9, 0.5, 0.7)):
        c.score = s
    assert [c.pos for c in ranked_within_documents(cands, 1, "rerank")] == [1, 3]
    assert [c.pos for c in ranked_within_documents(cands, 2, "rerank")] == [1, 3, 2]  # every document's best first
    assert [c.pos for c in ranked_within_documents(cands, None, "rerank")] == [1, 3, 2]


def test_configs_switch_levers_one_by_one():
    assert LEGACY.legacy and not LEGACY.rerank
    shipped = SimilarConfig()
    assert not shipped.legacy and shipped.but(rerank=False).rerank is False and shipped.rerank


# -- one source from id or text (hash encoder, two seeds) ----------------------------------------------
@pytest.fixture(scope="module")
def hash_engine(tmp_path_factory):
    from indexer.pipeline import index_paths
    from search.engine import SearchEngine

    folder = tmp_path_factory.mktemp("similar")
    encoder = HashEncoder()
    index_paths([copy_seeds(folder / "c", "gz_ict_2019", "jm_ict_2024", "bureau_2022")], folder / "idx", encoder=encoder)
    return SearchEngine(folder / "idx", encoder=encoder)


def source_passage(engine, words="良匠律师事务所"):
    return next(h for h in engine.search(words, k=5, mode="bm25").hits if words in h.text)


def test_passage_id_and_its_text_give_the_same_answer(hash_engine):
    source = source_passage(hash_engine)
    by_id = hash_engine.similar(passage_id=source.passage_id, k=10)
    by_text = hash_engine.similar(text=source.text, k=10)
    assert [h.passage_id for h in by_id.hits] == [h.passage_id for h in by_text.hits]
    assert source.doc_id not in {h.doc_id for h in by_text.hits}


def test_selected_text_never_returns_its_passage_nor_its_document_unless_asked(hash_engine):
    source = source_passage(hash_engine)
    selection = source.text[2:40]
    hits = hash_engine.similar(text=selection, k=20, per_doc=None).hits
    assert source.doc_id not in {h.doc_id for h in hits}
    same = hash_engine.similar(text=selection, k=50, per_doc=None, include_same_doc=True).hits
    assert source.passage_id not in {h.passage_id for h in same}
    assert source.doc_id in {h.doc_id for h in same}
    named = hash_engine.similar(text="聘请律师担任法律顾问", doc_id=source.doc_id, k=20, per_doc=None).hits
    assert source.doc_id not in {h.doc_id for h in named}  # the document it was selected from, by name


def test_explain_gives_every_stage(hash_engine):
    source = source_passage(hash_engine)
    hit = hash_engine.similar(passage_id=source.passage_id, k=3, explain=True).hits[0]
    for key in ("bm25_rank", "dense_rank", "fused_score", "first_stage_rank", "rerank_score", "features", "deciding",
                "source_terms"):
        assert key in hit.explain, key
    assert set(hit.explain["features"]) == set(FEATURES)
    legacy = hash_engine.similar(passage_id=source.passage_id, k=3, explain=True, config=LEGACY).hits[0]
    assert "rerank_score" not in legacy.explain


def test_highlights_are_shared_selected_terms_never_filler(hash_engine):
    source = source_passage(hash_engine)
    for hit in hash_engine.similar(passage_id=source.passage_id, k=5).hits:
        assert len(hit.matched_terms) <= 3
        assert not any(is_filler(t) for t in hit.matched_terms)


def test_function_words_are_never_highlighted_even_when_rare_on_the_index():
    from search.find_similar import _marks

    assert all(is_function_word(w) for w in ("关于", "对于", "以及", "其他", "以下", "一个"))
    assert not any(is_function_word(w) for w in ("法律顾问", "随机", "审查", "依法", "合法性", "新词汇甲乙"))
    # on five reports 关于 can be rarer than the measure itself; it still never marks a hit
    assert _marks({"关于": 9.0, "法律顾问": 3.0, "顾问": 1.0})(["关于", "法律顾问", "顾问"]) == ["法律顾问"]


def test_api_accepts_doc_id_and_include_same_doc(hash_engine):
    from web import create_app

    client = create_app(engine=hash_engine, testing=True).test_client()
    source = source_passage(hash_engine)
    answer = client.post("/api/similar", json={"text": "聘请律师担任法律顾问", "doc_id": source.doc_id, "k": 20,
                                               "per_doc": 0})
    assert answer.status_code == 200
    assert source.doc_id not in {h["doc_id"] for h in answer.get_json()["results"]}
    same = client.post("/api/similar", json={"passage_id": source.passage_id, "include_same_doc": True, "k": 50,
                                             "per_doc": 0}).get_json()["results"]
    assert source.doc_id in {h["doc_id"] for h in same} and source.passage_id not in {h["passage_id"] for h in same}
    assert client.post("/api/similar", json={"text": "x", "doc_id": 3}).status_code == 400
