"""A hybrid search's two retrievers run at once: the same lists as one after the other, errors kept."""

import threading

import numpy as np
import pytest

from core.filters import Filters
from search.engine import CANDIDATES, both_ranked


class Reader:
    """Just the two retrieval calls, recording which thread ran each and what it was asked."""

    def __init__(self, lexical_error: Exception | None = None, dense_error: Exception | None = None) -> None:
        self.threads: dict[str, int] = {}
        self.asked: dict[str, tuple] = {}
        self.lexical_error, self.dense_error = lexical_error, dense_error

    def lexical_ranked(self, tokens, n, filters, exclude_doc):
        self.threads["lexical"], self.asked["lexical"] = threading.get_ident(), (tuple(tokens), n, filters, exclude_doc)
        if self.lexical_error:
            raise self.lexical_error
        return [(3, 2.0), (1, 1.0)]

    def dense_ranked(self, vector, n, filters, exclude_doc):
        self.threads["dense"], self.asked["dense"] = threading.get_ident(), (tuple(vector), n, filters, exclude_doc)
        if self.dense_error:
            raise self.dense_error
        return [(1, 0.9), (2, 0.5)]


def test_both_lists_come_back_each_from_its_own_retriever_with_the_same_arguments():
    reader, filters = Reader(), Filters(year_from=2021)
    scored, near = both_ranked(reader, ["法律", "顾问"], np.array([0.5, 0.5]), filters, "doc-a")
    assert scored == [(3, 2.0), (1, 1.0)] and near == [(1, 0.9), (2, 0.5)]
    assert reader.asked["lexical"] == (("法律", "顾问"), CANDIDATES, filters, "doc-a")
    assert reader.asked["dense"] == ((0.5, 0.5), CANDIDATES, filters, "doc-a")
    assert reader.threads["lexical"] == threading.get_ident()  # BM25 on the caller's thread
    assert reader.threads["dense"] != threading.get_ident()  # dense meanwhile on a pool thread


def test_a_dense_failure_reaches_the_caller():
    with pytest.raises(RuntimeError, match="milvus down"):
        both_ranked(Reader(dense_error=RuntimeError("milvus down")), ["x"], np.zeros(2), Filters(), None)


def test_a_lexical_failure_reaches_the_caller():
    reader = Reader(lexical_error=ValueError("bad postings"))
    with pytest.raises(ValueError, match="bad postings"):
        both_ranked(reader, ["x"], np.zeros(2), Filters(), None)


def test_a_search_overlaps_its_retrievers_only_when_it_runs_alone(engine, monkeypatch):
    """An engine whose reader asks for overlap hands dense to a pool thread, unless another search runs."""
    import search.engine as engine_module

    calls = []
    monkeypatch.setattr(engine_module, "both_ranked", lambda *a: calls.append("both") or ([], []))
    monkeypatch.setattr(engine._state, "overlap_retrieval", True)
    engine.search("法律顾问", min_match="any")
    assert calls == ["both"]
    with engine._running():  # another request is being answered in this process
        engine.search("法律顾问", min_match="any")
    assert calls == ["both"] and engine._busy == 0
