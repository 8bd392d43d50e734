"""The HTML pages through the Flask test client."""

import re

import pytest

from core.settings import Settings

from indexer.pipeline import index_paths
from search.engine import SearchEngine
from tests.conftest import SEEDS
from tests.fakes import HashEncoder
from web import create_app


@pytest.mark.model
def test_search_page_without_javascript_groups_and_highlights(client):
    r = client.get("/", query_string={"q": "法律顾问"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "<mark>法律顧問</mark>" in html and "<mark>法律顾问</mark>" in html
    assert html.count('class="group"') >= 4
    assert "相似举措" in html and 'value="法律顾问"' in html


@pytest.mark.model
def test_empty_query_shows_intro_and_no_results_message(client):
    assert "法治政府建设报告检索" in client.get("/").get_data(as_text=True)
    html = client.get("/", query_string={"q": "zzzzqqqq"}).get_data(as_text=True)
    assert "没有找到" in html or 'class="group"' in html


@pytest.mark.model
def test_document_page_and_similar_from_paragraph_and_selection(client, doc_id_of):
    doc_id = doc_id_of("jm_ict_2024")
    html = client.get(f"/documents/{doc_id}").get_data(as_text=True)
    assert "良匠律师事务所" in html and html.count("相似举措") > 10
    pid = f"{doc_id}-0006"
    page = client.get("/similar", query_string={"passage_id": pid}).get_data(as_text=True)
    assert "相似举措" in page and SEEDS["jm_ict_2024"] not in page.split("</blockquote>")[1]
    posted = client.post("/similar", data={"text": "聘请律师事务所担任法律顾问"})
    assert posted.status_code == 200 and "法律顾问" in posted.get_data(as_text=True)
    assert client.get("/documents/nope").status_code == 404
    assert "文档列表" in client.get("/documents").get_data(as_text=True)


@pytest.mark.model
def test_a_report_marks_the_query_phrase_not_each_of_its_words_unless_the_phrase_is_absent(client, doc_id_of):
    from core.textform import to_simplified

    doc_id = doc_id_of("gz_gov_2018_trad")
    text = to_simplified(client.get(f"/api/documents/{doc_id}").get_json()["text"])
    marks = lambda q: re.findall(r'<mark id="hit-\d+">([^<]*)</mark>',  # noqa: E731
                                 client.get(f"/documents/{doc_id}", query_string={"q": q}).get_data(as_text=True))
    phrase = marks("法律顾问")
    assert text.count("法律") > text.count("法律顾问") >= 3  # the report has 法律 outside the phrase
    assert len(phrase) == text.count("法律顾问") and set(phrase) == {"法律顧問"}  # as written, never 法律 alone
    words = marks("法律顾问工作考评")  # a phrase the report doesn't hold: its words are marked instead
    assert "法律顧問" in words and len(words) > len(phrase)


def test_text_is_escaped_everywhere(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "x.txt").write_text(
        "一、总体情况\n（一）加强领导。<script>alert('x')</script>法律顾问参与合法性审查，提升依法行政水平和能力。", encoding="utf-8")
    enc = HashEncoder()
    index_paths([folder], tmp_path / "idx", encoder=enc)
    app = create_app(engine=SearchEngine(tmp_path / "idx", encoder=enc), testing=True)
    client = app.test_client()
    for html in (
        client.get("/", query_string={"q": "法律顾问"}).get_data(as_text=True),
        client.get(f"/documents/{client.get('/api/documents').get_json()['documents'][0]['doc_id']}").get_data(as_text=True),
        client.get("/", query_string={"q": "<script>alert(1)</script>"}).get_data(as_text=True),
    ):
        assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in client.get("/", query_string={"q": "法律顾问"}).get_data(as_text=True)


def test_pages_without_index_explain_what_to_do(tmp_path):
    app = create_app(Settings(index=str(tmp_path / "none")), testing=True)
    r = app.test_client().get("/", query_string={"q": "法律顾问"})
    assert r.status_code == 503 and "fazhi index" in r.get_data(as_text=True)
    assert app.test_client().get("/api/health").status_code == 503


def test_paging_shows_the_next_passages_and_the_total(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(10):
        body = "\n".join(f"（{n}）第{i}局措施{n}。聘请法律顾问参与合法性审查，提升依法行政水平和能力，第{i}局第{n}项。" for n in "一二三四")
        (folder / f"r{i}.txt").write_text(f"一、总体情况\n{body}", encoding="utf-8")
    enc = HashEncoder()
    index_paths([folder], tmp_path / "idx", encoder=enc)
    client = create_app(engine=SearchEngine(tmp_path / "idx", encoder=enc), testing=True).test_client()
    first = client.get("/", query_string={"q": "法律顾问"}).get_data(as_text=True)
    assert first.count('class="hit"') == 20 and "下一页" in first and "page=2" in first
    assert "共 30 个段落，第 1 / 2 页" in first  # 10 reports × 3 passages
    second = client.get("/", query_string={"q": "法律顾问", "page": 2}).get_data(as_text=True)
    assert second.count('class="hit"') == 10 and "下一页" not in second and "上一页" in second
    ids = lambda html: set(re.findall(r'data-passage-id="([^"]+)"', html))  # noqa: E731
    assert not ids(first) & ids(second)  # page 2 is the next passages, not the first ones again
    by_date = client.get("/", query_string={"q": "法律顾问", "sort": "body", "per_doc": "1"}).get_data(as_text=True)
    assert by_date.count('class="group"') == 10 and "第 1 / 2 页" not in by_date


def test_api_pages_through_the_list_and_sorts_it(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i, body in enumerate(["乙局", "甲局", "丙局"]):
        text = "\n".join(f"（{n}）{body}措施{n}。聘请法律顾问参与合法性审查，提升依法行政水平。" for n in "一二三")
        (folder / f"r{i}.txt").write_text(f"一、总体情况\n{text}", encoding="utf-8")
        (folder / f"r{i}.meta.json").write_text(f'{{"issuing_body": "{body}", "year": "{2020 + i}"}}', encoding="utf-8")
    enc = HashEncoder()
    index_paths([folder], tmp_path / "idx", encoder=enc)
    client = create_app(engine=SearchEngine(tmp_path / "idx", encoder=enc), testing=True).test_client()
    first = client.get("/api/search", query_string={"q": "法律顾问", "k": 4}).get_json()
    rest = client.get("/api/search", query_string={"q": "法律顾问", "k": 4, "offset": 4}).get_json()
    assert first["total"] == rest["total"] == 9 and rest["offset"] == 4
    ids = [h["passage_id"] for h in first["results"] + rest["results"]]
    assert len(ids) == len(set(ids)) == 8  # the second page goes on where the first stopped
    by_body = client.get("/api/search", query_string={"q": "法律顾问", "k": 9, "sort": "body"}).get_json()
    bodies = [h["issuing_body"] for h in by_body["results"]]
    assert bodies == sorted(bodies) and len(by_body["groups"]) == 3  # a document's passages stay together
    by_date = client.get("/api/search", query_string={"q": "法律顾问", "k": 9, "sort": "date"}).get_json()
    assert [g["year"] for g in by_date["groups"]] == ["2022", "2021", "2020"]  # newest first
    bad = client.get("/api/search", query_string={"q": "法律顾问", "sort": "nope"})
    assert bad.status_code == 400 and "sort" in bad.get_json()["error"]["message"]


def test_exports_name_the_query_and_never_write_a_formula(tmp_path):
    import io
    from datetime import date
    from urllib.parse import unquote

    from openpyxl import load_workbook

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "x.txt").write_text("一、总体情况\n（一）加强领导。=HYPERLINK(\"http://x\") 法律顾问参与合法性审查。", encoding="utf-8")
    enc = HashEncoder()
    index_paths([folder], tmp_path / "idx", encoder=enc)
    client = create_app(engine=SearchEngine(tmp_path / "idx", encoder=enc), testing=True).test_client()
    r = client.get("/export/search", query_string={"q": "=法律/顾问", "format": "xlsx"})
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    name = unquote(r.headers["Content-Disposition"].split("UTF-8''")[1])
    assert name == f"检索-=法律_顾问-{date.today().isoformat()}.xlsx"  # no path separator in a file name
    sheet = load_workbook(io.BytesIO(r.data)).active
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)  # "=…" stays text
    assert sheet["A1"].value == "检索词" and sheet["B1"].value == "=法律/顾问"
    csv = client.get("/export/compare", query_string={"q": "法律顾问", "format": "csv"}).get_data(as_text=True)
    assert csv.startswith("\ufeff对比主题,法律顾问") and "排名,发布机关" in csv
    assert client.get("/export/search", query_string={"q": "法律顾问", "format": "pdf"}).status_code == 400
