"""The JSON API through the Flask test client, on the real seed index."""

import pytest

from tests.conftest import SEEDS

pytestmark = pytest.mark.model


def test_search_answers_results_grouped_per_document(client):
    r = client.get("/api/search", query_string={"q": "法律顾问", "k": 10, "per_doc": 1})
    assert r.status_code == 200
    body = r.get_json()
    assert body["results"] and body["count"] == len(body["results"])
    assert SEEDS["gz_gov_2018_trad"] in {h["source"] for h in body["results"]}
    assert len({h["doc_id"] for h in body["results"]}) == len(body["results"])
    assert [g["doc_id"] for g in body["groups"]] == [h["doc_id"] for h in body["results"]]


@pytest.mark.parametrize("params,needle", [
    ({}, "'q' is required"), ({"q": "  "}, "'q' is required"), ({"q": "x", "k": "ten"}, "'k' must be an integer"),
    ({"q": "x", "k": 0}, "'k' must be between"), ({"q": "x", "k": 1000}, "'k' must be between"),
    ({"q": "x", "per_doc": -1}, "'per_doc' must be between"), ({"q": "法" * 501}, "too long"),
])
def test_search_rejects_bad_parameters_with_json_400(client, params, needle):
    r = client.get("/api/search", query_string=params)
    assert r.status_code == 400
    assert needle in r.get_json()["error"]["message"]


def test_similar_by_passage_id_and_by_text(client):
    pid = client.get("/api/search", query_string={"q": "良匠律师事务所", "k": 1}).get_json()["results"][0]["passage_id"]
    by_id = client.post("/api/similar", json={"passage_id": pid, "k": 5}).get_json()
    assert by_id["results"] and all(h["passage_id"] != pid for h in by_id["results"])
    by_text = client.post("/api/similar", json={"text": "发挥法律顾问作用", "k": 3, "per_doc": 1}).get_json()
    assert len(by_text["results"]) == 3


@pytest.mark.parametrize("body,status,needle", [
    ({"passage_id": "missing-0000"}, 404, "no passage"),
    ({}, 400, "passage_id"),
    ({"text": ""}, 400, "'text' is required"),
    ({"text": "x", "k": "a"}, 400, "'k' must be an integer"),
    ({"text": "x", "color": "red"}, 400, "unknown field"),
    (["not", "an", "object"], 400, "JSON object"),
])
def test_similar_errors_are_json(client, body, status, needle):
    r = client.post("/api/similar", json=body)
    assert r.status_code == status
    assert needle in r.get_json()["error"]["message"]


def test_similar_rejects_non_json_body(client):
    r = client.post("/api/similar", data="passage_id=1", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400 and "JSON object" in r.get_json()["error"]["message"]


def test_oversized_request_gets_413(client):
    r = client.post("/api/similar", json={"text": "法" * 300_000})
    assert r.status_code == 413 and "error" in r.get_json()


def test_passage_documents_health(client):
    docs = client.get("/api/documents").get_json()
    assert docs["count"] == 5
    traditional = next(d for d in docs["documents"] if d["source"] == SEEDS["gz_gov_2018_trad"])
    assert traditional["script"] == "traditional" and traditional["year"] == "2018"
    hit = client.get("/api/search", query_string={"q": "法律顾问", "k": 1}).get_json()["results"][0]
    p = client.get(f"/api/passages/{hit['passage_id']}").get_json()
    assert p["text"] == hit["text"] and p["heading_path"] == hit["heading_path"]
    assert client.get("/api/passages/none-0000").status_code == 404
    health = client.get("/api/health").get_json()
    assert health["status"] == "ok" and health["model"]["name"] == "intfloat/multilingual-e5-small"
    assert health["passages"] > 100


def test_unknown_api_route_is_json_404(client):
    r = client.get("/api/nothing-here")
    assert r.status_code == 404 and r.get_json()["error"]["status"] == 404
    assert client.delete("/api/search").status_code == 405
