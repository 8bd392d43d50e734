"""Filters, facets, explain and compare on the seed index (real model), plus Filters on its own."""


import pytest

from tests.exports import read_csv_export
from web.api import COMPARE_COLUMNS

from core.records import DocumentRecord
from search.filters import Filters, facet_counts
from tests.conftest import SEEDS


def doc(**kw):
    base = dict(doc_id="d", source="s", name="n", content_hash="h", text="", title="", display_title="")
    return DocumentRecord(**{**base, **kw})


def test_filters_combine_fields_and_alternatives():
    gz = doc(issuing_body="广州市人民政府", region="广东省广州市", year="2018", doc_type="年度报告", script="traditional")
    jm = doc(issuing_body="江门市工业和信息化局", region="广东省江门市", year="2024", doc_type="年度报告", script="simplified")
    assert Filters(region=("广东省",)).admits(gz) and Filters(region=("廣東省",)).admits(jm)
    assert Filters(issuing_body=("廣州市人民政府", "某局")).admits(gz)  # either script, either value
    assert not Filters(year_from=2019).admits(gz) and Filters(year_from=2019, year_to=2024).admits(jm)
    assert not Filters(script=("traditional",), doc_type=("年度报告",)).admits(jm)
    assert not Filters(year_from=2000).admits(doc(year=""))  # unknown year is not in any range
    facets = facet_counts([gz, jm], Filters(script=("traditional",)))
    assert {f["value"] for f in facets["script"]} == {"traditional", "simplified"}  # own field not applied
    assert facets["year"] == [{"value": "2018", "count": 1}]  # other fields applied



@pytest.mark.model
def test_search_facets_and_filtering(engine):
    result = engine.search("法律顾问", k=10, per_doc=1)
    scripts = {f["value"]: f["count"] for f in result.facets["script"]}
    assert scripts["traditional"] == 1 and scripts["simplified"] >= 3
    narrowed = engine.search("法律顾问", k=10, per_doc=1, filters=Filters(script=("traditional",)))
    assert {h.source for h in narrowed.hits} == {SEEDS["gz_gov_2018_trad"]}
    years = engine.search("法律顾问", k=10, per_doc=1, filters=Filters(year_from=2019, year_to=2022))
    assert {h.year for h in years.hits} <= {"2019", "2020", "2021", "2022"} and years.hits
    bodies = engine.search("法律顾问", k=10, per_doc=1, filters=Filters(issuing_body=("江门市工业和信息化局",)))
    assert {h.source for h in bodies.hits} == {SEEDS["jm_ict_2024"]}


@pytest.mark.model
def test_similar_takes_filters(engine):
    source = next(h for h in engine.search("良匠律师事务所", k=3).hits if "良匠" in h.text)
    result = engine.similar(passage_id=source.passage_id, k=5, filters=Filters(region=("广东省广州市",)))
    assert result.hits and all(h.region == "广东省广州市" for h in result.hits)


@pytest.mark.model
def test_explain_gives_ranks_and_fused_score(engine):
    plain = engine.search("法律顾问", k=3).hits[0].to_json()
    assert "explain" not in plain
    hit = engine.search("法律顾问", k=3, explain=True).hits[0]
    e = hit.explain
    assert e["fused_score"] == hit.score and e["fusion"] == "convex"
    assert e["bm25_rank"] and e["dense_rank"]  # 法律顾问: both retrievers return the best passage
    expected = e["bm25_weight"] * e["bm25_z"] + e["dense_weight"] * e["dense_z"]
    assert abs(expected - hit.score) < 1e-5 and e["bm25_weight"] + e["dense_weight"] == pytest.approx(1.0)
    bm25 = engine.search("法律顾问", k=3, mode="bm25", explain=True).hits[0].explain
    assert bm25["fusion"] == "rank" and bm25["dense_rank"] is None


@pytest.mark.model
def test_compare_gives_one_row_per_report_or_body(engine):
    result = engine.compare("公平竞争审查")
    rows = result.hits
    # four reports address it; the fifth (a 合法性审查 passage at best) is never a strong row: weak or 未提及
    strong = [h for h in rows if h.match == "strong"]
    assert len({h.doc_id for h in rows}) == len(rows) and len(rows) + len(result.absent) == 5
    assert {h.source for h in strong} == {SEEDS[k] for k in ("gz_ict_2019", "gz_gov_2018_trad", "jm_ict_2024",
                                                           "gd_ict_plan_2020")}
    assert rows[:4] == strong and all(h.match == "weak" for h in rows[4:])
    assert len(engine.compare("公平竞争审查", min_match="strong").hits) == 4
    by_body = engine.compare("公平竞争审查", by="issuing_body").hits
    assert len({h.issuing_body or h.doc_id for h in by_body}) == len(by_body)


@pytest.mark.model
def test_api_filters_explain_and_validation(client):
    r = client.get("/api/search", query_string=[("q", "法律顾问"), ("per_doc", 1), ("script", "traditional"), ("explain", "true")])
    body = r.get_json()
    assert r.status_code == 200 and body["filters"] == {"script": ["traditional"]}
    assert {h["script"] for h in body["results"]} == {"traditional"} and "explain" in body["results"][0]
    assert any(f["value"] == "simplified" for f in body["facets"]["script"])
    for params, needle in [
        ({"q": "x", "colour": "red"}, "unknown parameter"), ({"q": "x", "year_from": "abc"}, "'year_from' must be an integer"),
        ({"q": "x", "explain": "maybe"}, "'explain'"),  # a range ending before it starts is empty: test_contract
    ]:
        bad = client.get("/api/search", query_string=params)
        assert bad.status_code == 400 and needle in bad.get_json()["error"]["message"]
    similar = client.post("/api/similar", json={"text": "法律顾问", "filters": {"region": "广东省广州市"}, "explain": True})
    assert similar.status_code == 200 and all(h["region"] == "广东省广州市" for h in similar.get_json()["results"])
    bad = client.post("/api/similar", json={"text": "法律顾问", "filters": {"colour": "red"}})
    assert bad.status_code == 400


@pytest.mark.model
def test_api_compare_json_and_csv(client):
    body = client.get("/api/compare", query_string={"q": "法律顾问"}).get_json()
    assert body["count"] == len(body["rows"]) == 5 and body["rows"][0]["rank"] == 1
    r = client.get("/api/compare", query_string={"q": "法律顾问", "format": "csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    text = r.get_data(as_text=True)
    assert text.startswith("\ufeff")
    about, rows = read_csv_export(text, COMPARE_COLUMNS)
    assert about["检索词"] == "法律顾问"
    assert len(rows) == 5 and {"issuing_body", "year", "text", "passage_id"} <= set(rows[0])
    assert any("法律顧問" in row["text"] for row in rows)  # shown as written
    assert client.get("/api/compare", query_string={"q": "x", "by": "city"}).status_code == 400


@pytest.mark.model
def test_pages_show_facets_and_compare(client):
    html = client.get("/", query_string={"q": "法律顾问"}).get_data(as_text=True)
    assert "发布机关" in html and "繁体" in html and "script=traditional" in html
    narrowed = client.get("/", query_string={"q": "法律顾问", "script": "traditional"}).get_data(as_text=True)
    assert narrowed.count('class="group"') == 1 and "清除筛选" in narrowed
    page = client.get("/compare", query_string={"q": "公平竞争审查"}).get_data(as_text=True)
    assert page.count("<tr>") == 6 and "导出 CSV" in page and "format=csv" in page
    assert client.get("/", query_string={"q": "x", "year_from": "abc"}).status_code == 400


@pytest.mark.model
def test_traditional_query_highlights_simplified_text(engine):
    hit = next(h for h in engine.search("法律顧問", k=10, per_doc=1).hits if h.script == "simplified")
    assert "法律顾问" in hit.matched_terms
    assert any(hit.text[s:e] == "法律顾问" for s, e in hit.highlights)
