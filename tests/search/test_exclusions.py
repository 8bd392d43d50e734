"""Excluded words (-词, -"短语"): parsing, and that search never returns a passage holding them."""

import re

import pytest

from core.textform import to_simplified
from search.exclusions import split


@pytest.mark.parametrize("query, rest, excluded", [
    ("法律顾问 -律师事务所", "法律顾问", ["律师事务所"]),
    ('法律顾问 -"律师 事务所"', "法律顾问", ["律师 事务所"]),
    ("法律顾问 －律师 -律师", "法律顾问", ["律师"]),  # full-width minus; a repeat counts once
    ("-律师 法律顾问", "法律顾问", ["律师"]),
    ("2021-2025年 规划", "2021-2025年 规划", []),  # a hyphen inside a word is text
    ("一-三季度", "一-三季度", []),
    ("法律顾问 -市", "法律顾问 -市", []),  # one character is too little to exclude: text
    ("-法律顾问", "", ["法律顾问"]),  # only an exclusion: nothing left to search for
])
def test_split(query, rest, excluded):
    assert split(query) == (rest, excluded)


def holds(hit, word: str) -> bool:
    return to_simplified(word) in to_simplified(hit.text).lower()


def test_no_hit_holds_an_excluded_word_in_either_script(engine):
    everything = engine.search("法律顾问", k=50, per_doc=0)
    assert sum(holds(h, "律师") for h in everything.hits) >= 2  # the exclusion has something to drop
    for query in ("法律顾问 -律师", "法律顾问 -律師"):  # Traditional 律師 excludes 律师 passages too
        result = engine.search(query, k=50, per_doc=0)
        assert result.hits and not any(holds(h, "律师") for h in result.hits)
        assert result.excluded == [query.split("-")[1]] and result.query == query
        assert {h.passage_id for h in result.hits} == {h.passage_id for h in everything.hits if not holds(h, "律师")}


def test_facets_count_what_the_exclusion_left(engine):
    kept = engine.search("法律顾问 -律师", k=100, per_doc=0)
    docs = {h.doc_id for h in kept.hits}
    assert sum(v["count"] for v in kept.facets["script"]) == len(docs)


def test_api_and_what_only_search_reads(client):
    answer = client.get("/api/search", query_string={"q": "法律顾问 -律师"}).get_json()
    assert answer["excluded"] == ["律师"] and answer["results"]
    only = client.get("/api/search", query_string={"q": "-律师"})  # nothing to rank: nothing, not everything
    assert only.status_code == 200 and only.get_json()["results"] == [] and only.get_json()["excluded"] == ["律师"]
    for path, params in (("/api/compare", {"q": "法律顾问 -律师"}), ("/api/atlas", {"m": "法律顾问 -律师"})):
        assert client.get(path, query_string=params).status_code == 200  # there a '-' is the topic's text


def test_page_says_what_was_excluded_and_compares_the_topic(client):
    page = client.get("/", query_string={"q": "法律顾问 -律师"}).get_data(as_text=True)
    assert "均不含“律师”" in page
    assert "/compare?" in page and "q=%E6%B3%95%E5%BE%8B%E9%A1%BE%E9%97%AE\"" in page.replace("&amp;", "&")
    only = client.get("/", query_string={"q": "-律师"}).get_data(as_text=True)
    assert "请写上要检索的主题" in only
    assert "请写上要检索的主题" not in client.get("/", query_string={"q": "天气预报火锅 -律师"}).get_data(as_text=True)


def test_document_view_never_marks_an_excluded_word(client, engine):
    doc_id = next(h.doc_id for h in engine.search("法律顾问", k=50, per_doc=0).hits if holds(h, "律师"))
    marked = client.get(f"/documents/{doc_id}", query_string={"q": "法律顾问 -律师"}).get_data(as_text=True)
    assert re.search(r"<mark[^>]*>法律顾问", marked) and not re.search(r"<mark[^>]*>律[师師]", marked)
    plain = client.get(f"/documents/{doc_id}", query_string={"q": "法律顾问 律师"}).get_data(as_text=True)
    assert re.search(r"<mark[^>]*>律[师師]", plain)  # without the minus it is marked
    assert client.get(f"/documents/{doc_id}", query_string={"q": "-律师"}).status_code == 200
