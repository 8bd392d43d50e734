"""Match levels, aliases and the atlas without the real model: query analysis, the alias file, did-you-mean."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from search.aliases import AliasTable, parse_aliases, split_measure
from search.atlas import EXCERPT_SEPARATOR, best_per_group, compute_atlas, evidence_text, second_passages
from search.engine import SearchEngine
from search.match import (FEATURES, MatchModel, _one_edit, admits, analyze, default_model, features,
                          passage_table)
from tests.conftest import copy_seeds
from tests.fakes import HashEncoder


def test_alias_file_groups_and_expansion(tmp_path):
    path = tmp_path / "a.tsv"
    path.write_text("# comment\n放管服\t简政放权\t放管结合\n單獨\n", encoding="utf-8")
    table = AliasTable(path)
    assert table.groups == [("放管服", "简政放权", "放管结合")]  # a one-name line is no group
    assert table.expand("深化放管服改革") == ["简政放权", "放管结合"]
    assert table.expand("簡政放權") == ["放管服", "放管结合"]  # either script
    assert table.expand("法律顾问") == []


def test_alias_file_is_reloaded_when_it_changes(tmp_path, monkeypatch):
    import search.aliases as aliases

    monkeypatch.setattr(aliases, "CHECK_EVERY", 0.0)
    path = tmp_path / "a.tsv"
    path.write_text("农民工\t进城务工人员\n", encoding="utf-8")
    table = AliasTable(path)
    assert table.expand("农民工") == ["进城务工人员"]
    time.sleep(0.01)
    path.write_text("农民工\t进城务工人员\t外来务工人员\n", encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert table.expand("农民工") == ["进城务工人员", "外来务工人员"]


def test_shipped_alias_file_names_the_abbreviations():
    names = {n for g in parse_aliases(open(AliasTable().path, encoding="utf-8").read()) for n in g}
    assert {"放管服", "双随机一公开", "三项制度", "证明事项告知承诺制"} <= names


def test_measure_aliases_after_a_bar():
    assert split_measure(" 农民工 | 进城务工人员 ") == ("农民工", ["进城务工人员"])
    assert split_measure("粮食安全") == ("粮食安全", [])


def test_analyze_phrases_quotes_and_aliases():
    mq = analyze('"公平竞争审查" 制度', use_alias_file=False)
    assert mq.quoted == ["公平竞争审查"] and "公平竞争审查" in mq.segments
    assert mq.highlight_terms[0] == "公平竞争审查"  # the whole phrase is marked before its words
    mq = analyze("农民工", extra_aliases=["进城务工人员"])
    assert "进城务工人员" in mq.aliases and "外出务工人员" in mq.aliases  # explicit, then the shipped file
    assert analyze("共建“一带一路”").quoted == []  # curly quotes in prose mark a slogan, not an exact search


def test_a_compound_query_word_is_marked_whole_not_as_its_pieces():
    from search.highlight import highlight_spans

    mq = analyze("关于法律顾问的工作", use_alias_file=False)
    _spans, terms = highlight_spans("聘请法律顾问，遵守法律法规。", mq.highlight_terms, phrases=mq.phrases)
    assert terms == ["法律顾问"]  # not the passage's other 法律
    _spans, terms = highlight_spans("遵守法律法规。", mq.highlight_terms, phrases=mq.phrases)
    assert terms == ["法律"]  # without the compound, its piece is what matched
    mq = analyze("公平竞争审查", use_alias_file=False)  # a compound inside the held phrase is not marked apart
    _spans, terms = highlight_spans("开展公平竞争审查，维护公平竞争秩序。", mq.highlight_terms, phrases=mq.phrases)
    assert terms == ["公平竞争审查"]


def test_one_edit_and_levels():
    assert _one_edit("法律顾向", "法律顾问") and _one_edit("法律顾", "法律顾问") and not _one_edit("法律", "顾问")
    model = default_model()
    assert model.level(model.t_strong) == "strong" and model.level(model.t_weak) in ("weak", "strong")
    assert model.level(0.0) is None
    assert admits("weak", "weak") and not admits("weak", "strong") and admits(None, "any") and not admits(None, "weak")


def test_best_per_group():
    p = np.array([0.1, 0.9, 0.3, 0.2], np.float32)
    idx, best = best_per_group(p, np.array([0, 0, 2, 2]), 4)
    assert idx.tolist() == [1, -1, 2, -1] and best[0] == pytest.approx(0.9) and best[1] == 0.0
    tied, _ = best_per_group(np.array([0.5, 0.7, 0.7, 0.5]), np.array([1, 0, 0, 1]), 2)
    assert tied.tolist() == [1, 0]  # the first of equal items


def test_second_evidence_passage_prefers_another_part_of_the_document():
    # document 0: best at 0 (section 7), a strong neighbour at 1 (same section), a weaker strong one at 2
    # (another section); document 1: one strong passage only; document 2: a second passage under the cut
    z = np.array([9.0, 8.0, 4.0, 6.0, 1.0, 7.0, 2.0])
    group = np.array([0, 0, 0, 1, 1, 2, 2])
    sections = np.array([7, 7, 3, 7, 3, 7, 3])
    best, _ = best_per_group(z, group, 4, empty=-50.0)
    second = second_passages(z, group, 4, best, sections, cut=3.0)
    assert second.tolist() == [2, -1, -1, -1]
    same_part = second_passages(z, group, 4, best, np.zeros(7, np.int32), cut=3.0)
    assert same_part.tolist() == [1, -1, -1, -1]  # no other part: the next best strong passage


def test_evidence_text_locates_each_passage_and_its_highlights():
    class Record:
        def __init__(self, pid, text):
            self.passage_id, self.text = pid, text

    text, spans, excerpts = evidence_text([Record("a", "聘请法律顾问。"), Record("b", "法律顾问制度")], ["法律顾问"])
    assert text == "聘请法律顾问。" + EXCERPT_SEPARATOR + "法律顾问制度"
    assert [text[s:e] for s, e in spans] == ["法律顾问", "法律顾问"]
    assert [(x["passage_id"], text[x["start"]:x["end"]]) for x in excerpts] == [("a", "聘请法律顾问。"), ("b", "法律顾问制度")]


def test_model_round_trips_and_blanks_rows_without_the_quoted_phrase():
    model = MatchModel([1.0] * len(FEATURES), 0.0, [0.0] * len(FEATURES), [1.0] * len(FEATURES), 0.6, 0.3)
    again = MatchModel.from_json(model.to_json())
    X = np.zeros((2, len(FEATURES)), np.float32)
    X[1] = np.nan
    assert again.probability(X).tolist() == [0.5, 0.0]


@pytest.fixture(scope="module")
def hash_engine(tmp_path_factory):
    from indexer.pipeline import index_paths

    tmp = tmp_path_factory.mktemp("match")
    encoder = HashEncoder()
    index_paths([copy_seeds(tmp / "c", "gz_ict_2019", "jm_ict_2024", "bureau_2022")], tmp / "idx", encoder=encoder)
    return SearchEngine(tmp / "idx", encoder=encoder)


def test_features_of_a_subset_equal_those_of_every_passage(hash_engine):
    state = hash_engine._state
    mq = analyze("法律顾问")
    mq.vector = hash_engine._query_vector("法律顾问")
    every, _ = features(passage_table(state), mq)
    some, _ = features(passage_table(state), mq, np.array([0, 3, 5]))
    assert np.allclose(every[[0, 3, 5]], some)


def test_a_table_without_every_vector_reads_the_cosines_it_needs(hash_engine, monkeypatch):
    import search.match as match

    state = hash_engine._state
    q = hash_engine._query_vector("法律顾问")
    full = match.PassageTable(state)
    monkeypatch.setattr(match, "FULL_VECTORS_MAX", 10)  # as over a million passages: a sample, and reads
    sampled = match.PassageTable(state)
    assert full.vectors is not None and sampled.vectors is None
    positions = np.array([7, 0, 3, 3, len(state.doc_of_pos) - 1])
    mine, *_ = sampled.cosines(q, positions)
    assert np.allclose(mine, full.cosines(q, positions)[0], atol=1e-6)
    assert sampled.cosines(q, np.array([], dtype=np.int64))[0].shape == (0,)


def test_atlas_has_one_cell_per_measure_and_column(hash_engine):
    result = compute_atlas(hash_engine, ["法律顾问", "天气预报火锅", "农民工|进城务工人员"], by="document",
                           evidence=2).to_json()
    assert len(result["columns"]) == 3 and len(result["cells"]) == 9
    assert {(c["measure"], c["column"]) for c in result["cells"]} == {
        (m["measure"], col["key"]) for m in result["measures"] for col in result["columns"]}
    for cell in result["cells"]:
        assert (cell["status"] == "absent") == (cell["passage_id"] is None)
        if cell["passage_id"]:  # the evidence text starts with the cell's passage; at most two, one if weak
            excerpts = cell["passages"]
            assert excerpts[0]["passage_id"] == cell["passage_id"] and excerpts[0]["start"] == 0
            assert len(excerpts) <= (2 if cell["status"] == "strong" else 1)
            assert excerpts[-1]["end"] == len(cell["text"])
    single = compute_atlas(hash_engine, ["法律顾问"], by="document").to_json()  # the default: one passage
    assert all(len(c["passages"]) == 1 for c in single["cells"] if c["passage_id"])
    for m in result["measures"]:
        assert m["strong"] + m["weak"] + m["absent"] == 3
    by_year = compute_atlas(hash_engine, ["法律顾问"], by="year").to_json()
    assert [c["key"] for c in by_year["columns"]] == ["2019", "2022", "2024"]
    with pytest.raises(ValueError):
        compute_atlas(hash_engine, ["法律顾问"], by="city")


def test_a_quoted_phrase_is_also_satisfied_by_its_alias_file_names_and_by_nothing_looser(hash_engine, tmp_path):
    table = passage_table(hash_engine._state)
    texts = [p.match_text for p in hash_engine._state.passages_at(list(range(table.size)))]
    written = {i for i, t in enumerate(texts) if "双随机、一公开" in t}  # how the reports write it
    assert written and not any("双随机一公开" in t for t in texts)
    path = tmp_path / "a.tsv"
    path.write_text("双随机一公开\t双随机、一公开\t随机抽取检查对象\n", encoding="utf-8")
    named = analyze('"双随机一公开"', aliases=AliasTable(path))
    assert named.quoted_forms == [["双随机一公开", "双随机、一公开", "随机抽取检查对象"]]
    X, positions = features(table, named)
    kept = {int(positions[i]) for i in np.flatnonzero(~np.isnan(X).any(axis=1))}
    assert kept == {i for i, t in enumerate(texts) if "双随机、一公开" in t or "随机抽取检查对象" in t}
    assert written <= kept and len(kept) < table.size  # a passage with only 双随机 or 公开 is still blanked
    bare, _ = features(table, analyze('"双随机一公开"', use_alias_file=False))
    assert np.isnan(bare).any(axis=1).all()  # without the alias file the literal phrase is nowhere
