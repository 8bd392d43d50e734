"""The HTTP contract: schemathesis with every check against the real server, errors in JSON and Chinese pages."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from web.app import json_depth

pytestmark = pytest.mark.model
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def real_server(seed_index, tmp_path_factory):
    """`fazhi serve` over a copy of the seed index, as a separate process; stopped afterwards."""
    index = tmp_path_factory.mktemp("contract") / "idx"
    shutil.copytree(seed_index, index)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "--index", str(index), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/api/ready", timeout=2) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None:
                pytest.fail(f"fazhi serve exited: {proc.stderr.read()}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("fazhi serve did not become ready")
    yield base
    proc.kill()
    proc.wait()


def test_schemathesis_with_every_check_finds_nothing(real_server):
    if not SCHEMATHESIS.exists():
        pytest.skip("schemathesis is not installed")
    run = subprocess.run(
        [str(SCHEMATHESIS), "run", "--checks", "all", "--max-examples", "25", "--seed", "1", "--no-color",
         "--request-timeout", "60",  # its 10 s default failed once on a loaded 2-core runner; this checks answers, not speed
         f"{real_server}/api/openapi.json"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:]
    assert "No issues found" in run.stdout


def test_405_carries_allow(client):
    r = client.delete("/api/search?q=x")
    assert r.status_code == 405 and "GET" in r.headers["Allow"]
    assert r.get_json()["error"]["status"] == 405


@pytest.mark.parametrize("body", [
    '{"text": "\\ud800"}', '{"text": "x", "k": 1e400}', "[" * 100_000 + "]" * 100_000,
    '{"text": "x", "filters": {"year_from": null}}', '{"passage_id": null}',
])
def test_hostile_bodies_are_400_not_500(client, body):
    r = client.post("/api/similar", data=body, content_type="application/json")
    assert r.status_code == 400, r.data[:200]
    assert r.get_json()["error"]["message"]


def test_year_range_after_its_end_is_empty_not_refused(client):
    r = client.get("/api/search", query_string={"q": "法律顾问", "year_from": 2024, "year_to": 2018})
    assert r.status_code == 200 and r.get_json()["count"] == 0


def test_empty_year_is_refused_with_the_parameter_named(client):
    r = client.get("/api/search", query_string={"q": "法律顾问", "year_to": ""})
    assert r.status_code == 400 and "'year_to'" in r.get_json()["error"]["message"]


@pytest.mark.parametrize("path", ["/?q=x&endpoint=x", "/?q=x&_method=POST", "/compare?q=x&format=json",
                                  "/compare?q=x&_external=1"])
def test_request_arguments_never_steer_links(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert b"endpoint=" not in r.data and b"_method" not in r.data and b"_external" not in r.data


def test_page_errors_are_styled_chinese_pages(client):
    r = client.get("/?q=x&year_from=abc")
    assert r.status_code == 400 and "请求参数有误" in r.get_data(as_text=True)
    assert 'href="/static/app.css' in r.get_data(as_text=True)
    r = client.get("/no-such-page")
    assert r.status_code == 404 and "找不到" in r.get_data(as_text=True)
    assert client.get("/api/no-such").get_json()["error"]["status"] == 404


def test_csv_cells_cannot_be_formulas(client):
    from web.api import safe_cell

    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe_cell("@x") == "'@x" and safe_cell("法律") == "法律"
    r = client.get("/api/compare", query_string={"q": "法律顾问", "format": "csv"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    text = r.get_data(as_text=True)
    assert "检索词" in text and "发布机关" in text


def test_long_page_query_is_shortened_with_a_note(client):
    r = client.get("/", query_string={"q": "法律顾问" * 200})
    assert r.status_code == 200 and "检索词过长" in r.get_data(as_text=True)


def test_json_depth_counts_brackets_outside_strings():
    assert json_depth(b'{"a": [1, {"b": "[[[["}]}') == 3
    assert json_depth(b'"\\"[["') == 0


def test_a_backend_failing_mid_request_is_503_with_retry_after(client, engine, monkeypatch):
    def gone(*_args, **_kwargs):
        raise ConnectionError("the Milvus server went away")

    for method in ("lexical_top", "lexical_ranked"):  # search fuses scores (lexical_ranked); bm25 mode ranks
        monkeypatch.setattr(engine._state, method, gone)
    r = client.get("/api/search", query_string={"q": "法律顾问"})
    assert r.status_code == 503 and r.headers["Retry-After"] and "backend" in r.get_json()["error"]["message"]
    page = client.get("/", query_string={"q": "法律顾问"})
    assert page.status_code == 503 and "索引暂时不可用" in page.get_data(as_text=True)


def test_ready_only_after_warm(tmp_path):
    from core.settings import Settings
    from indexer.pipeline import index_paths
    from search.engine import SearchEngine
    from tests.conftest import copy_seeds
    from tests.fakes import HashEncoder
    from web import create_app

    enc = HashEncoder()
    index_paths([copy_seeds(tmp_path / "c", "bureau_2022")], tmp_path / "idx", encoder=enc)
    engine = SearchEngine(tmp_path / "idx", encoder=enc)
    assert engine.health()["status"] == "starting" and not engine.ready
    client = create_app(Settings(index=str(tmp_path / "idx")), engine=engine).test_client()
    assert client.get("/api/ready").status_code == 200  # the first request warmed it
    assert engine.ready and client.get("/api/health").get_json()["status"] == "ok"
