"""The atlas, match levels and truthful search/compare on the seed index with the real model."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SEEDS
from tests.exports import read_csv_export
from web.atlas import ATLAS_COLUMNS

pytestmark = pytest.mark.model


def test_nonsense_gets_an_empty_result_and_a_typo_a_did_you_mean(engine):
    nonsense = engine.search("天气预报火锅", k=10, per_doc=3)
    assert nonsense.hits == [] and nonsense.groups == [] and nonsense.did_you_mean is None
    typo = engine.search("法律顾向")
    assert not any(h.match == "strong" for h in typo.hits) and typo.did_you_mean == "法律顾问"
    assert engine.search("法律顾问").did_you_mean is None
    assert len(engine.search("天气预报火锅", min_match="any").hits) > 0  # the old behaviour, on request


def test_hits_carry_match_and_groups_are_not_padded(engine):
    result = engine.search("法律顾问", k=20, per_doc=3)
    assert result.hits and all(h.match in ("strong", "weak") for h in result.hits)
    strong = engine.search("法律顾问", k=20, per_doc=3, min_match="strong")
    assert all(h.match == "strong" for h in strong.hits) and len(strong.hits) <= len(result.hits)
    # facets honour the cut: they count the documents of matching passages only
    counted = sum(f["count"] for f in strong.facets["script"])
    assert counted == len({h.doc_id for h in strong.hits}) or counted <= len(result.facets["script"]) + 5


@pytest.mark.parametrize("query", ["公平竞争审查", "法律顾问"])
def test_a_phrase_stays_whole_in_highlights(engine, query):
    """Where a hit holds the phrase, only the phrase and its other names are marked (no 审查 or 法律 alone
    elsewhere in the passage, no 律师 of the alias 公职律师); where it doesn't, its words are."""
    from core.textform import to_simplified, tokenize_query
    from search.atlas import compute_atlas
    from search.match import analyze

    names = [query] + analyze(query).aliases

    def stray(text, spans):
        return [to_simplified(text[s:e]) for s, e in spans if not any(n in to_simplified(text[s:e]) for n in names)]

    hits = engine.search(query, k=30, per_doc=None).hits
    holding = [h for h in hits if query in to_simplified(h.text)]
    assert len(holding) >= 3
    assert all(h.highlights and not stray(h.text, h.highlights) for h in holding), \
        [(h.passage_id, stray(h.text, h.highlights)) for h in holding]
    words = set(tokenize_query(query))
    others = [h for h in hits if query not in to_simplified(h.text) and h.highlights]
    assert others and all(to_simplified(h.text[s:e]) in words for h in others for s, e in h.highlights)
    cells = [c for c in compute_atlas(engine, [query]).to_json()["cells"] if query in to_simplified(c.get("text") or "")]
    assert cells and all(not stray(c["text"], c["highlights"]) for c in cells)


def test_compare_lists_the_reports_that_do_not_address_it(engine):
    result = engine.compare("双随机一公开")
    assert result.hits and all(h.match in ("strong", "weak") for h in result.hits)
    assert len(result.hits) + len(result.absent) == 5
    assert {a["status"] for a in result.absent} <= {"absent"}


def test_atlas_on_the_seeds(engine):
    from search.atlas import compute_atlas

    result = compute_atlas(engine, ["无线电管理", "12345热线", "天气预报火锅"]).to_json()
    cells = {(c["measure"], next(col["source"] for col in result["columns"] if col["key"] == c["column"])): c
             for c in result["cells"]}
    assert cells[("无线电管理", SEEDS["gz_ict_2019"])]["status"] == "strong"
    assert "无线电" in cells[("无线电管理", SEEDS["gz_ict_2019"])]["text"]
    assert all(c["status"] == "absent" for (m, _), c in cells.items() if m == "天气预报火锅")
    radio = next(m for m in result["measures"] if m["measure"] == "无线电管理")
    assert radio["strong"] >= 1 and radio["first_year"] is not None


def test_api_atlas_shape_and_validation(client):
    r = client.get("/api/atlas", query_string=[("m", "法律顾问"), ("m", "农民工|进城务工人员"), ("by", "document")])
    body = r.get_json()
    assert r.status_code == 200 and body["by"] == "document"
    assert [m["measure"] for m in body["measures"]] == ["法律顾问", "农民工|进城务工人员"]
    assert set(body["measures"][0]) >= {"measure", "strong", "weak", "absent", "first_year"}
    assert len(body["columns"]) == 5 and len(body["cells"]) == 10
    assert set(body["columns"][0]) >= {"key", "title", "source", "issuing_body", "region", "year", "doc_type", "script"}
    assert set(body["cells"][0]) >= {"measure", "column", "status", "passage_id", "text", "highlights", "score"}
    absent = [c for c in body["cells"] if c["status"] == "absent"]
    assert all(c["passage_id"] is None and c["text"] is None for c in absent)
    # by default a cell's evidence is its one passage, as it is stored
    assert all(len(c["passages"]) == 1 and c["text"] == client.get(f"/api/passages/{c['passage_id']}").get_json()["text"]
               for c in body["cells"] if c["passage_id"])
    two = client.get("/api/atlas", query_string={"m": "法律顾问", "evidence": 2}).get_json()
    assert any(len(c["passages"]) == 2 for c in two["cells"] if c["passage_id"])
    for cell in two["cells"]:
        if cell["passage_id"]:  # each excerpt of the evidence text is a passage of the cell's document
            assert cell["passages"][0]["passage_id"] == cell["passage_id"]
            assert all(client.get(f"/api/passages/{x['passage_id']}").get_json()["text"] == cell["text"][x["start"]:x["end"]]
                       for x in cell["passages"])
    by_region = client.get("/api/atlas", query_string={"m": "法律顾问", "by": "region", "region": "广东省广州市"}).get_json()
    assert [c["key"] for c in by_region["columns"]] == ["广东省广州市"]
    for params in ({}, {"m": "x", "by": "city"}, {"m": "x", "colour": "red"}, {"m": "x", "year_from": "abc"},
                   {"m": "x", "evidence": 3}):
        bad = client.get("/api/atlas", query_string=params)
        assert bad.status_code == 400 and "error" in bad.get_json()


def test_api_min_match(client):
    body = client.get("/api/search", query_string={"q": "天气预报火锅"}).get_json()
    assert body["count"] == 0 and body["min_match"] == "weak"
    assert client.get("/api/search", query_string={"q": "x", "min_match": "maybe"}).status_code == 400
    compare = client.get("/api/compare", query_string={"q": "公平竞争审查"}).get_json()
    assert all(r["match"] in ("strong", "weak") for r in compare["rows"])
    assert len(compare["rows"]) + len(compare["absent"]) == 5 and compare["rows"][0]["match"] == "strong"
    nonsense = client.get("/api/compare", query_string={"q": "天气预报火锅"}).get_json()
    assert nonsense["count"] == 0 and len(nonsense["absent"]) == 5
    similar = client.post("/api/similar", json={"text": "聘请法律顾问", "min_match": "weak"}).get_json()
    assert all(h["match"] in ("strong", "weak") for h in similar["results"])


def test_atlas_page_grid_share_link_and_csv(client):
    empty = client.get("/atlas").get_data(as_text=True)
    assert "措施图谱" in empty and "建议" in empty  # suggestions from the corpus's headings
    page = client.get("/atlas", query_string=[("ms", "法律顾问\n天气预报火锅"), ("by", "document")]).get_data(as_text=True)
    assert page.count('<tr><th class="m">') == 1 + 2 and 'class="strong"' in page and "未提及" in page
    assert "/atlas?m=%E6%B3%95%E5%BE%8B%E9%A1%BE%E9%97%AE&amp;m=" in page  # shareable: the measures as m=…
    assert "/documents/" in page and "#" in page  # a cell opens its evidence passage
    import html
    import re
    link = html.unescape(re.search(r'<td class="strong"><a href="([^"]+)"', page).group(1))
    assert "q=%E6%B3%95%E5%BE%8B%E9%A1%BE%E9%97%AE" in link  # … with the measure marked in the whole report
    report = client.get(link.split("#")[0]).get_data(as_text=True)
    assert "“法律顾问”：" in report and 'id="hit-next"' in report
    csv_text = client.get("/atlas/export", query_string={"m": "法律顾问", "by": "year", "format": "csv"}).get_data(as_text=True)
    about, rows = read_csv_export(csv_text, ATLAS_COLUMNS)  # what was asked, then the cells under Chinese headers
    assert about["措施"] == "法律顾问" and len(rows) == 5  # five years, one row each
    assert {"measure", "column", "status", "text", "link"} <= set(rows[0])
    assert client.get("/atlas", query_string={"m": "x", "by": "city"}).status_code == 400


def test_suggestions_are_measures_not_the_reports_own_parts(engine):
    from search.atlas import REPORT_PART, heading_suggestions
    from search.match import passage_table

    headings = passage_table(engine._state).headings.names
    assert any("年工作计划" in h for h in headings if h)  # the seeds have such parts: 2023年工作计划 …
    suggested = heading_suggestions(engine._state, 100)
    assert "全面推进政务公开" in suggested and "加强合法性审核" in suggested
    assert not [s for s in suggested if REPORT_PART.search(s)]
    assert not [s for s in suggested if "工作计划" in s or "建设情况" in s]
    assert not [s for s in suggested if s.startswith("以") and s.endswith("点")]  # 以…为切入点: the measure inside
    from search.atlas import suggestion_phrase

    assert suggestion_phrase("（三）以强化合法性审核为切入点，提高依法决策水平") == "强化合法性审核"
    assert suggestion_phrase("2.以信息化手段提升行政执法水平") == "以信息化手段提升行政执法水平"


def test_every_page_leads_to_the_atlas_and_search_and_compare_open_their_topic_in_it(client):
    from urllib.parse import parse_qs, urlsplit
    import html
    import re

    def atlas_links(page: str) -> list[dict]:
        hrefs = [html.unescape(h) for h in re.findall(r'href="(/atlas[^"]*)"', page)]
        return [parse_qs(urlsplit(h).query) for h in hrefs]

    home = client.get("/").get_data(as_text=True)
    assert {} in atlas_links(home)  # the navigation: the atlas, empty
    found = client.get("/", query_string=[("q", "法律顾问 -人大"), ("region", "广东省广州市"), ("page", "1")]).get_data(as_text=True)
    assert {"m": ["法律顾问"], "region": ["广东省广州市"]} in atlas_links(found)  # the topic, less exclusions, same scope
    rows = client.get("/compare", query_string={"q": "公平竞争审查", "by": "issuing_body"}).get_data(as_text=True)
    assert {"m": ["公平竞争审查"], "by": ["issuing_body"]} in atlas_links(rows)
    linked = client.get("/atlas", query_string={"m": "法律顾问", "region": "广东省广州市"}).get_data(as_text=True)
    assert linked.count('<tr><th class="m">') == 1 + 1  # the link opens a grid, over the filtered reports
    assert linked.count("<th title=") < client.get("/atlas", query_string={"m": "法律顾问"}).get_data(as_text=True).count("<th title=")


def test_a_quoted_phrase_is_matched_exactly(engine):
    from core.textform import to_simplified

    hits = engine.search('"公平竞争审查制度"', k=20, per_doc=3).hits
    assert hits and all("公平竞争审查制度" in to_simplified(h.text) for h in hits)
    assert len({h.doc_id for h in hits}) < len({h.doc_id for h in engine.search("公平竞争审查制度", k=20).hits}) + 1
    assert engine.search('"公平竞争法律顾问"').hits == []  # no passage holds that exact phrase


def test_a_quoted_term_lists_as_absent_every_report_that_never_names_it(engine, client):
    named = {SEEDS[k] for k in ("gz_ict_2019", "jm_ict_2024", "gd_ict_plan_2020")}  # they write 双随机、一公开
    result = engine.compare('"双随机一公开"')
    name = lambda doc_id: Path(engine._state.documents[doc_id].source).name  # noqa: E731
    assert {name(h.doc_id) for h in result.hits} == named and all(h.match == "strong" for h in result.hits)
    assert {name(a["doc_id"]) for a in result.absent} == set(SEEDS.values()) - named
    page = client.get("/compare", query_string={"q": "双随机一公开"}).get_data(as_text=True)
    unquoted = engine.compare("双随机一公开")
    assert ("可能相关" in page) == any(h.match == "weak" for h in unquoted.hits) and "仅提及" not in page


def test_search_marks_its_weak_hits_and_similar_does_not(engine, client):
    hits = engine.search("公平竞争审查", k=20, per_doc=3).hits
    assert any(h.match == "weak" for h in hits)  # 合法性审查 passages the model could not call absent
    page = client.get("/", query_string={"q": "公平竞争审查", "per_doc": 3}).get_data(as_text=True)
    assert '<span class="weak-tag"' in page and "可能相关" in page
    quoted = client.get("/", query_string={"q": '"公平竞争审查"', "per_doc": 3}).get_data(as_text=True)
    assert '<span class="weak-tag"' not in quoted  # every passage left names it: all strong
    source = next(h for h in hits if h.match == "strong")
    similar = client.get("/similar", query_string={"passage_id": source.passage_id}).get_data(as_text=True)
    assert 'class="weak-tag"' not in similar  # a whole passage as the query is not what the levels were fitted on
