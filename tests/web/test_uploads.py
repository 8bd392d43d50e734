"""Uploads and the index agree: refused, failed, crash-cut and replaced uploads; errors in JSON without paths."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from core.settings import Settings
from core.storage import open_storage
from indexer.pipeline import index_paths
from search.engine import SearchEngine
from tests.conftest import DATA, SEEDS, copy_seeds
from tests.fakes import HashEncoder
from web import create_app
from web.admin import ACKED

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture()
def admin(tmp_path):
    """An admin-enabled app over a one-report index, its uploads folder, and its engine."""
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019")
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    engine = SearchEngine(tmp_path / "idx", encoder=enc)
    app = create_app(Settings(index=str(tmp_path / "idx"), admin_token=TOKEN, reindex_paths=(str(corpus),)),
                     engine=engine, testing=True)
    return app.test_client(), tmp_path / "idx" / "uploads", engine


def upload(client, name: str, data: bytes):
    return client.post("/api/admin/documents", headers=AUTH, data={"file": (io.BytesIO(data), name)})


def sources(client) -> set[str]:
    return {Path(d["source"]).name for d in client.get("/api/documents").get_json()["documents"]}


def test_a_busy_index_refuses_the_upload_and_keeps_nothing(admin):
    client, uploads, engine = admin
    with open_storage(engine.storage).writer_lock():
        pass  # the lock is free again
    import threading

    held, release = threading.Event(), threading.Event()

    def hold():
        with engine.storage.writer_lock():
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    try:
        r = upload(client, "江门.txt", (DATA / SEEDS["jm_ict_2024"]).read_bytes())
    finally:
        release.set()
        t.join()
    assert r.status_code == 409 and r.headers["Retry-After"]
    assert not (uploads / "江门.txt").exists()
    assert client.post("/api/admin/reindex", headers=AUTH).status_code == 200
    assert "江门.txt" not in sources(client)


def test_same_name_replaces_and_delete_removes_the_upload(admin):
    client, uploads, _ = admin
    assert upload(client, "报告.txt", (DATA / SEEDS["jm_ict_2024"]).read_bytes()).status_code == 200
    assert upload(client, "报告.txt", (DATA / SEEDS["bureau_2022"]).read_bytes()).status_code == 200
    docs = client.get("/api/documents").get_json()["documents"]
    assert [Path(d["source"]).name for d in docs].count("报告.txt") == 1 and len(docs) == 2
    assert (uploads / "报告.txt").read_bytes() == (DATA / SEEDS["bureau_2022"]).read_bytes()
    doc_id = next(d["doc_id"] for d in docs if d["source"].endswith("报告.txt"))
    assert client.delete(f"/api/admin/documents/{doc_id}", headers=AUTH).status_code == 200
    assert not (uploads / "报告.txt").exists() and "报告.txt" not in json.loads((uploads / ACKED).read_text())
    assert client.post("/api/admin/reindex", headers=AUTH).status_code == 200
    assert "报告.txt" not in sources(client)  # a deleted upload does not come back


def test_a_crash_cut_upload_is_not_indexed_by_the_next_reindex(admin):
    client, uploads, _ = admin
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "半截.txt").write_bytes((DATA / SEEDS["jm_ict_2024"]).read_bytes())  # stored, never published
    (uploads / ".tmp-abc").write_bytes(b"partial")
    r = client.post("/api/admin/reindex", headers=AUTH)
    assert r.status_code == 200 and "半截.txt" not in sources(client)
    assert not (uploads / "半截.txt").exists() and not (uploads / ".tmp-abc").exists()


def test_a_refused_upload_leaves_the_earlier_report_of_that_name(admin):
    client, uploads, _ = admin
    good = (DATA / SEEDS["jm_ict_2024"]).read_bytes()
    assert upload(client, "报告.txt", good).status_code == 200
    r = upload(client, "报告.txt", b"\x00\x01" * 100)
    assert r.status_code == 400 and (uploads / "报告.txt").read_bytes() == good
    assert "报告.txt" in sources(client)


def test_long_names_and_admin_errors_are_json_without_server_paths(admin, tmp_path):
    client, uploads, _ = admin
    r = upload(client, "报" * 120 + ".txt", (DATA / SEEDS["bureau_2022"]).read_bytes())
    assert r.status_code == 200 and len(next(iter(r.get_json()["added"])).encode()) <= 200
    r = upload(client, "空.txt", b"")
    assert r.status_code == 400 and str(tmp_path) not in r.get_data(as_text=True)
    r = upload(client, "大.txt", b"x" * (51 * 1024 * 1024))
    assert r.status_code == 413 and r.is_json and not (uploads / "大.txt").exists()
