"""The engine's query-embedding cache: a repeated query (paging, facet clicks) is not embedded again."""

from search import engine as engine_module
from search.engine import SearchEngine
from search.filters import Filters
from tests.conftest import copy_seeds
from tests.fakes import HashEncoder


class CountingQueries(HashEncoder):
    def __init__(self) -> None:
        super().__init__()
        self.queries: list[str] = []

    def encode_queries(self, texts):
        self.queries += list(texts)
        return super().encode_queries(texts)

    def encode_passages(self, texts, show_progress: bool = False):
        return HashEncoder.encode_queries(self, texts)


def test_repeated_queries_are_embedded_once_and_the_cache_is_bounded(tmp_path, monkeypatch):
    from indexer.pipeline import index_paths

    encoder = CountingQueries()
    index_paths([copy_seeds(tmp_path / "c", "gz_ict_2019", "jm_ict_2024")], tmp_path / "idx", encoder=encoder)
    engine = SearchEngine(tmp_path / "idx", encoder=encoder)
    first = engine.search("法律顾问", k=10)
    assert engine.search("法律顾问", k=20).hits[:10] == first.hits  # 更多结果: same ranking, no new embedding
    engine.search(" 法律顧問 ", k=10, filters=Filters(script=("simplified",)))  # a facet click, other script
    engine.compare("法律顾问")
    assert encoder.queries == ["法律顾问"]  # the t2s form is the key: both scripts share one entry
    monkeypatch.setattr(engine_module, "QUERY_CACHE_SIZE", 2)
    for q in ("公平竞争审查", "行政复议", "普法"):
        engine.search(q, mode="dense")
    assert len(engine._query_cache) == 2
    engine.search("法律顾问", mode="dense")  # evicted, embedded again
    assert encoder.queries.count("法律顾问") == 2
    engine.search("法律顾问", mode="bm25")
    assert len(encoder.queries) == 5  # BM25 alone needs no embedding
