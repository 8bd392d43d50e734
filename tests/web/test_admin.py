"""Admin endpoints: absent without a token, 401 without the right one, and they really change the index."""

from core.settings import Settings
import io
import shutil

import pytest

from indexer.pipeline import index_paths
from search.engine import SearchEngine
from tests.conftest import DATA, SEEDS, copy_seeds
from tests.fakes import HashEncoder
from web import create_app

TOKEN = "s3cret-token"


@pytest.fixture()
def admin_client(tmp_path):
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019")
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    app = create_app(Settings(index=str(tmp_path / "idx"), admin_token=TOKEN, reindex_paths=(str(corpus),)),
                     engine=SearchEngine(tmp_path / "idx", encoder=enc), testing=True)
    return app.test_client(), corpus


def auth(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


def test_admin_endpoints_do_not_exist_without_a_configured_token(tmp_path, monkeypatch):
    monkeypatch.delenv("FAZHI_ADMIN_TOKEN", raising=False)
    client = create_app(Settings.load(flags={"index": str(tmp_path)})).test_client()
    assert client.post("/api/admin/reindex", headers=auth()).status_code == 404
    assert client.delete("/api/admin/documents/x", headers=auth()).status_code == 404


@pytest.mark.parametrize("headers", [{}, auth("wrong"), {"Authorization": TOKEN}])
def test_requests_without_the_token_are_refused(admin_client, headers):
    client, _ = admin_client
    for response in (
        client.post("/api/admin/reindex", headers=headers),
        client.delete("/api/admin/documents/x", headers=headers),
        client.post("/api/admin/documents", headers=headers, data={"file": (io.BytesIO(b"x"), "a.txt")}),
    ):
        assert response.status_code == 401 and "admin token" in response.get_json()["error"]["message"]


def test_upload_delete_and_reindex_change_what_search_finds(admin_client):
    client, corpus = admin_client
    report = (DATA / SEEDS["jm_ict_2024"]).read_bytes()
    r = client.post("/api/admin/documents", headers=auth(), data={"file": (io.BytesIO(report), "江门报告.txt")})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["documents"] == 2 and len(r.get_json()["added"]) == 1
    sources = {d["source"] for d in client.get("/api/documents").get_json()["documents"]}
    assert any(s.endswith("江门报告.txt") for s in sources)  # the upload is searchable at once
    doc_id = next(d["doc_id"] for d in client.get("/api/documents").get_json()["documents"] if d["source"].endswith("江门报告.txt"))
    assert client.delete(f"/api/admin/documents/{doc_id}", headers=auth()).status_code == 200
    assert client.get("/api/documents").get_json()["count"] == 1
    assert client.delete("/api/admin/documents/nope", headers=auth()).status_code == 404
    shutil.copy(DATA / SEEDS["bureau_2022"], corpus)
    r = client.post("/api/admin/reindex", headers=auth())
    assert r.status_code == 200 and r.get_json()["documents"] >= 2


@pytest.mark.parametrize("name,data,needle", [
    ("a.exe", b"MZ", "unsupported file type"), ("a.txt", b"", "empty"), ("a.txt", b"\x00\x01" * 100, "binary"),
])
def test_bad_uploads_are_refused_with_a_reason(admin_client, name, data, needle):
    client, _ = admin_client
    r = client.post("/api/admin/documents", headers=auth(), data={"file": (io.BytesIO(data), name)})
    assert r.status_code == 400 and needle in r.get_json()["error"]["message"]
