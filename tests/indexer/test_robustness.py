"""Crash safety, live switching on a real WSGI server, hostile input, prune/delete/list."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.pipeline import build_document, delete_documents, index_paths, list_documents
from indexer.sources import RawDocument, SourceError, read_file
from core.storage.embedded.store import current_version_dir
from indexer.structure import parse_passages
from search.engine import SearchEngine
from tests.conftest import DATA, ROOT, SEEDS, copy_seeds, threaded_server
from tests.fakes import HashEncoder

INDEXER_SCRIPT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from core.storage.embedded import store
    from indexer.pipeline import index_paths
    from tests.fakes import HashEncoder

    class SlowEncoder(HashEncoder):
        def encode_passages(self, texts, show_progress=False):
            time.sleep(0.02 * len(texts))
            return super().encode_passages(texts)

    if {slow_publish!r}:
        real = store._fsync_tree
        def slow_fsync(folder):
            print("publishing", flush=True)
            time.sleep(30)
            real(folder)
        store._fsync_tree = slow_fsync
    print("started", flush=True)
    index_paths([{corpus!r}], {index!r}, encoder=SlowEncoder())
    print("finished", flush=True)
""")


def run_and_kill(corpus, index, when: float | None, slow_publish: bool = False) -> str:
    """Start an indexer process; SIGKILL it after `when` seconds (or once it starts publishing)."""
    script = INDEXER_SCRIPT.format(root=str(ROOT), corpus=str(corpus), index=str(index), slow_publish=slow_publish)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    if slow_publish:
        assert proc.stdout.readline().strip() == "publishing"
    else:
        time.sleep(when)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return proc.stdout.read()


@pytest.mark.parametrize("when,slow_publish", [(0.5, False), (2.0, False), (None, True)],
                         ids=["early", "mid-embedding", "mid-publish"])
def test_kill_9_leaves_the_last_complete_index_searchable(tmp_path, when, slow_publish):
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019")
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    before = current_version_dir(tmp_path / "idx")
    for name in ("jm_ict_2024", "gd_ict_plan_2020", "bureau_2022"):
        shutil.copy(DATA / SEEDS[name], corpus)

    out = run_and_kill(corpus, tmp_path / "idx", when, slow_publish)
    assert "finished" not in out
    assert current_version_dir(tmp_path / "idx") == before
    engine = SearchEngine(tmp_path / "idx", encoder=enc)
    assert len(engine.documents()) == 1 and engine.search("法律顾问", k=3).hits

    summary = index_paths([corpus], tmp_path / "idx", encoder=enc)  # the next run completes and tidies up
    assert summary.documents == 4
    assert not list((tmp_path / "idx" / "versions").glob(".tmp-*"))


def test_server_keeps_answering_while_reindexing_and_switches(tmp_path):
    from web import create_app

    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019")
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    app = create_app(engine=SearchEngine(tmp_path / "idx", encoder=enc), testing=True)
    with threaded_server(app) as port:
        statuses, health = serve_while_reindexing(port, corpus, tmp_path / "idx", enc)
    assert statuses and all(s == 200 for s in statuses), [s for s in statuses if s != 200][:3]
    assert health["documents"] == 3 and health["version"] == current_version_dir(tmp_path / "idx").name


def serve_while_reindexing(port: int, corpus, index, enc) -> tuple[list, dict]:
    """Three clients search while two seeds are added and indexed; (their statuses, health after)."""
    statuses, stop = [], threading.Event()

    def hammer():
        while not stop.is_set() and len(statuses) < 2000:
            url = f"http://127.0.0.1:{port}/api/search?q=%E6%B3%95%E5%BE%8B%E9%A1%BE%E9%97%AE&k=5"
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    statuses.append(response.status)
            except Exception as exc:  # noqa: BLE001 - any failure is a failed request
                statuses.append(repr(exc))

    clients = [threading.Thread(target=hammer) for _ in range(3)]
    for c in clients:
        c.start()
    try:
        for name in ("jm_ict_2024", "gz_gov_2018_trad"):
            shutil.copy(DATA / SEEDS[name], corpus)
            index_paths([corpus], index, encoder=enc)
        time.sleep(0.3)
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=30)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as response:
        return statuses, json.load(response)


CHUNKS = st.sampled_from([
    "一、", "（一）", "(二)", "1.", "（1）", "第一章 总则", "第三条", "第 2 條", "一是", "二是", "三是", "。", "；",
    "\n", "\n\n", " ", "　", "# ", "法律顾问", "公平競爭審查", "2019年", "<script>", "\ufeff", "\u200b", "🙂", "\x00",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(CHUNKS, st.text(max_size=30)), max_size=60).map("".join))
def test_structure_parser_never_fails_and_spans_map_back(text):
    for p in parse_passages(text):
        assert 0 <= p.start < p.end <= len(text)
        body = text[p.start : p.end]
        assert body == body.strip() and body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), suffix=st.sampled_from([".txt", ".md", ".html", ".jsonl", ".docx", ".pdf"]))
def test_ingester_turns_any_bytes_into_documents_or_clear_errors(tmp_path, data, suffix):
    path = tmp_path / f"input{suffix}"
    path.write_bytes(data)
    for item in read_file(path):
        if isinstance(item, SourceError):
            assert str(path) in str(item)
            continue
        doc, passages = build_document(item)
        for p in passages:
            assert doc.text[p.start : p.end] == p.text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(CHUNKS, st.text(max_size=40)), max_size=40).map("".join))
def test_build_document_keeps_every_passage_inside_its_text(text):
    doc, passages = build_document(RawDocument("d", "/x", "x.txt", text))
    for p in passages:
        assert doc.text[p.start : p.end] == p.text and p.match_text


def test_huge_single_line_file_is_skipped_and_the_run_goes_on(tmp_path):
    corpus = copy_seeds(tmp_path / "corpus", "bureau_2022")
    (corpus / "huge.txt").write_bytes(("法治政府建设" * 3_000_000).encode("utf-8"))  # ~54 MB, one line
    summary = index_paths([corpus], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 1
    assert any("huge.txt" in s and "too large" in s for s in summary.skipped)


def test_heading_only_and_deeply_nested_documents(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "headings.txt").write_text("一、总体情况\n（一）组织领导\n1.机制\n（1）制度\n", encoding="utf-8")
    nested = "".join(f"{'#' * (i % 6 + 1)} 第{i}层标题\n（{i}）第{i}层内容，推进法治政府建设工作落实。\n" for i in range(200))
    (corpus / "nested.md").write_text(nested, encoding="utf-8")
    summary = index_paths([corpus], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 2 and not summary.skipped  # a short heading-only text stays findable, whole
    passages = {d.name: d.n_passages for d in list_documents(tmp_path / "idx")}
    assert passages["headings.txt"] == 1 and passages["nested.md"] > 0
    engine = SearchEngine(tmp_path / "idx", encoder=HashEncoder())
    assert all(len(h.heading_path) <= 7 for h in engine.search("第199层内容", k=20).hits)


def test_prune_delete_and_list(tmp_path):
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019", "jm_ict_2024", "bureau_2022")
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    (corpus / SEEDS["bureau_2022"]).unlink()
    kept = index_paths([corpus], tmp_path / "idx", encoder=enc)
    assert kept.documents == 3 and not kept.removed  # without --prune nothing is removed
    pruned = index_paths([corpus], tmp_path / "idx", encoder=enc, prune=True)
    assert pruned.documents == 2 and pruned.removed[0].endswith(SEEDS["bureau_2022"])
    docs = list_documents(tmp_path / "idx")
    target = next(d for d in docs if d.name == SEEDS["jm_ict_2024"])
    assert delete_documents(tmp_path / "idx", [target.doc_id]) == [target.source]
    assert [d.name for d in list_documents(tmp_path / "idx")] == [SEEDS["gz_ict_2019"]]
    with pytest.raises(KeyError, match="nope"):
        delete_documents(tmp_path / "idx", ["nope"])
    engine = SearchEngine(tmp_path / "idx", encoder=enc)
    assert {h.source for h in engine.search("法律顾问", k=10).hits} == {SEEDS["gz_ict_2019"]}


def test_prune_removes_lines_gone_from_a_jsonl_file(tmp_path):
    path = tmp_path / "docs.jsonl"
    line = '{{"id": "{0}", "title": "{0}", "text": "一、总体情况\\n（一）加强领导，推进法治政府建设工作，落实第一责任人职责。{0}"}}'
    path.write_text("\n".join(line.format(k) for k in "abc"), encoding="utf-8")
    enc = HashEncoder()
    index_paths([path], tmp_path / "idx", encoder=enc)
    path.write_text("\n".join(line.format(k) for k in "ab"), encoding="utf-8")
    summary = index_paths([path], tmp_path / "idx", encoder=enc, prune=True)
    assert [r.rsplit("#", 1)[1] for r in summary.removed] == ["c"] and summary.documents == 2


def test_cli_list_delete_and_quiet_progress(tmp_path):
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019")
    index_paths([corpus], tmp_path / "idx", encoder=HashEncoder("intfloat/multilingual-e5-small"))
    env = {**os.environ, "FAZHI_INDEX": str(tmp_path / "idx")}
    listed = subprocess.run([sys.executable, "-m", "cli.main", "list", "--json"], capture_output=True, text=True,
                            env=env, cwd=ROOT, timeout=120)
    assert listed.returncode == 0, listed.stderr
    (doc,) = json.loads(listed.stdout)
    assert doc["name"] == SEEDS["gz_ict_2019"] and "text" not in doc
    bad = subprocess.run([sys.executable, "-m", "cli.main", "delete", "nope"], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and "no document nope" in bad.stderr
    ok = subprocess.run([sys.executable, "-m", "cli.main", "delete", doc["doc_id"]], capture_output=True, text=True,
                        env=env, cwd=ROOT, timeout=120)
    assert ok.returncode == 0 and "removed:" in ok.stdout
    assert list_documents(tmp_path / "idx") == []
