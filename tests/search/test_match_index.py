"""The match levels' on-disk character index gives what the texts held in memory gave: the same occurrences
(str.count's counts) for every term, the same headings, sections, kinds and lengths, the same atlas and
search levels, over several segments with tombstones; segments written without it still open the old way."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import core.storage.embedded.chars as chars_module
import search.match as match
from core.storage.embedded import store
from core.storage.embedded.chars import CharIndex, _argsorted, _codes, _packed_sort, build_chars, write_chars
from core.storage.embedded.reader import EmbeddedReader
from search.atlas import compute_atlas, heading_suggestions
from search.engine import SearchEngine
from search.match import CharTable, PassageTable, TextTable, passage_table
from tests.conftest import DATA, SEEDS
from tests.fakes import HashEncoder

REPEATS = ["啊啊", "啊啊啊", "啊啊啊啊", "abab", "aba", "——", "———", "……", "00", "000", "1111", "法法"]


def test_counts_are_str_counts_with_self_overlapping_words(tmp_path, monkeypatch):
    texts = ["啊啊啊啊啊", "ababab aba", "", "x", "啊啊\u3000啊啊啊", "ABAB", "——————", "法法法律法", "啊",
             "\U0001F600\U0001F600x"]
    write_chars(tmp_path, texts, ['["一"]'] * len(texts), ["paragraph"] * len(texts))
    chars = CharIndex(tmp_path / "chars")
    terms = REPEATS + ["\U0001F600\U0001F600", "\U0001F600x", "ab", "ba", "bab", "啊啊啊啊啊", "啊啊啊啊啊啊", "法律", "律法",
                       "a", "啊", "", "x\x00啊", "不在"]
    for term in terms:
        found = chars.occurrences(term)
        if len(term) < 2 or "\x00" in term:
            assert found is None  # the table answers these from the texts
            continue
        want = [(p, t.lower().count(term)) for p, t in enumerate(texts) if t.lower().count(term)]
        assert list(zip(found[0].tolist(), found[1].tolist())) == want, term
    assert chars.lengths().tolist() == [len(t) for t in texts]
    codes, _ = _codes(texts + ["\U0001F600啊\U0001F600啊"])  # both ways of sorting give the same index
    assert all(np.array_equal(a, b) for a, b in zip(_packed_sort(codes), _argsorted(codes)))
    monkeypatch.setattr(chars_module, "PART", 5)  # in parts of a few bigrams, scanned a few characters at a time
    monkeypatch.setattr(chars_module, "BLOCK", 3)
    assert all(np.array_equal(a, b) for a, b in zip(_packed_sort(codes), _argsorted(codes)))
    for none in ([], ["a", "b"], ["", ""]):  # no bigram at all
        keys, indptr, offsets, starts = build_chars(none)
        assert len(keys) == 0 and indptr.tolist() == [0] and len(offsets) == 0 and len(starts) == len(none) + 1


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    """The seed reports as two segments: a base, and a changed report (tombstoned in the base) with an added
    one; one more deleted from the base (tombstones only)."""
    from indexer.pipeline import delete_documents, index_paths

    tmp = tmp_path_factory.mktemp("chars")
    corpus = tmp / "corpus"
    corpus.mkdir()
    keys = list(SEEDS)
    for key in keys[:-1]:
        shutil.copy(DATA / SEEDS[key], corpus)
    idx, encoder = tmp / "idx", HashEncoder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "merge_plan", lambda refs: None)
        index_paths([corpus], idx, encoder=encoder)
        path = corpus / SEEDS[keys[1]]
        path.write_text(path.read_text(encoding="utf-8") + "\n（五）新增措施。啊啊啊啊，建立行政执法案卷评查制度。",
                        encoding="utf-8")
        shutil.copy(DATA / SEEDS[keys[-1]], corpus)
        index_paths([corpus], idx, encoder=encoder)
        reader = EmbeddedReader(store.current_version_dir(idx))
        doomed = [d.doc_id for d in reader.documents.values() if d.name == SEEDS[keys[0]]]
        assert delete_documents(idx, doomed)
    reader = EmbeddedReader(store.current_version_dir(idx))
    refs = store.segment_refs(reader.manifest)
    assert len(refs) == 2 and len(refs[0].deleted) == 2 and all(s.chars is not None for s in reader.segments)
    return idx, encoder, reader


def sampled_terms(reader, n: int = 3000, seed: int = 0) -> list[str]:
    """Substrings of 2-6 characters of the live passages, words that repeat themselves, absent words."""
    rng = np.random.default_rng(seed)
    texts = [r[0].lower() for r in reader.passage_rows(["match_text"])]
    terms = []
    for _ in range(n):
        text = texts[int(rng.integers(len(texts)))]
        width = int(rng.integers(2, 7))
        if len(text) >= width:
            start = int(rng.integers(len(text) - width + 1))
            terms.append(text[start:start + width])
    for text in texts[:200]:  # a character twice or thrice, wherever the text doubles one
        for a, b in zip(text, text[1:]):
            if a == b:
                terms += [a * 2, a * 3, a * 4]
    return list(dict.fromkeys(terms + REPEATS + ["天气预报火锅", "不存在的词语", "zzqq", "法", "制", "", "a"]))


def test_occurrences_equal_the_texts_in_memory_over_segments_with_tombstones(segmented, monkeypatch):
    _, _, reader = segmented
    new, old = PassageTable(reader), PassageTable(reader, in_memory=True)
    assert any(isinstance(t, CharTable) for t, _ in new.parts) and all(isinstance(t, TextTable) for t, _ in old.parts)
    assert any(l2g is not None and (l2g < 0).any() for _, l2g in new.parts)  # tombstones in play
    terms = sampled_terms(reader)
    assert len(terms) > 2000
    found = 0
    for term in terms:
        a, b = new.sparse_occurrences(term), old.sparse_occurrences(term)
        assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist(), term
        found += len(a[0]) > 0
    assert found > len(terms) * 0.9
    assert list(new.headings) == list(old.headings)
    for name in ("kind", "length", "sections"):
        assert np.array_equal(getattr(new, name), getattr(old, name)), name
    monkeypatch.setattr(match, "CHAR_INDEX_MAX", 0)  # the scan an in-memory table falls back to when large
    scan = PassageTable(reader, in_memory=True)
    for term in terms[::7]:
        a, b = new.sparse_occurrences(term), scan.sparse_occurrences(term)
        assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist(), term


def test_atlas_and_search_levels_are_unchanged(segmented):
    idx, encoder, _ = segmented
    ours, theirs = SearchEngine(idx, encoder=encoder), SearchEngine(idx, encoder=encoder)
    theirs._state._fazhi_passage_table = PassageTable(theirs._state, in_memory=True)
    assert isinstance(passage_table(ours._state).parts[0][0], CharTable)
    measures = ["法律顾问", "天气预报火锅", "农民工|进城务工人员", "公平竞争审查", '"行政执法案卷评查"', "营商环境"]
    a = compute_atlas(ours, measures, by="document", evidence=2).to_json()
    b = compute_atlas(theirs, measures, by="document", evidence=2).to_json()
    assert a == b and any(c["status"] == "strong" for c in a["cells"])
    assert heading_suggestions(ours._state) == heading_suggestions(theirs._state)
    for q in ("法律顾问", "行政执法案卷评查", "公平竞争审查", "依法行政", "法律顧問", "啊啊"):
        for kwargs in ({}, {"min_match": "strong"}, {"min_match": "any", "explain": True}):
            x, y = ours.search(q, k=10, **kwargs), theirs.search(q, k=10, **kwargs)
            assert [(h.passage_id, h.match, round(h.score, 6)) for h in x.hits] == \
                [(h.passage_id, h.match, round(h.score, 6)) for h in y.hits]


def test_a_segment_without_a_character_index_is_read_into_memory(segmented, tmp_path):
    idx, _, reader = segmented
    copy = tmp_path / "idx"
    shutil.copytree(idx, copy)
    for folder in (copy / "segments").iterdir():
        shutil.rmtree(folder / "chars")  # as written before this change
    before = EmbeddedReader(store.current_version_dir(copy))
    assert all(s.chars is None for s in before.segments)
    old, new = PassageTable(before), PassageTable(reader)
    assert all(isinstance(t, TextTable) for t, _ in old.parts)
    for term in sampled_terms(reader, n=300, seed=1):
        assert old.sparse_occurrences(term)[0].tolist() == new.sparse_occurrences(term)[0].tolist(), term
