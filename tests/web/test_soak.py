"""Soak: mixed searches, find-similar and admin uploads against the real server while an indexer is killed
(-9) at random points. Every acknowledged upload must be searchable afterwards, and nothing indexed lost.

Bounded (about 30 s with the fake encoder; the real model would only make each step slower). The seed
is fixed and printed, so a failure can be replayed.
"""

import json
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from indexer.pipeline import index_paths, list_documents
from tests.conftest import ROOT, copy_seeds
from tests.fakes import HashEncoder

pytestmark = pytest.mark.soak

SEED = 15
KILLS = 6  # indexer runs killed at a random moment; one more then runs to the end
TOKEN = "soak-token"
SERVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from core.settings import Settings
    from search.engine import SearchEngine
    from tests.fakes import HashEncoder
    from web import create_app
    from web.server import make_server

    app = create_app(Settings(index={index!r}, admin_token={token!r}),
                     engine=SearchEngine({index!r}, encoder=HashEncoder()))
    server = make_server(app, "127.0.0.1", 0, threads=4)
    print(server.effective_port, flush=True)
    server.run()
""")
INDEXER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from indexer.pipeline import index_paths
    from tests.fakes import HashEncoder

    class SlowEncoder(HashEncoder):
        def encode_passages(self, texts, show_progress=False):
            time.sleep(0.01 * len(texts))  # as slow as a real model, so kills land mid-embedding too
            return super().encode_passages(texts)

    print("started", flush=True)
    while True:
        try:
            summary = index_paths([{corpus!r}], {index!r}, encoder=SlowEncoder(), prune=True)
            break
        except RuntimeError as exc:  # an upload holds the writer lock: wait, as an operator's retry would
            if "another indexer" not in str(exc):
                raise
            time.sleep(0.05)
    print("finished", summary.documents, flush=True)
""")


def report(tag: str, n: int) -> str:
    """A report with a word no other document has."""
    return (f"一、总体情况\n（一）{tag}{n}号举措：聘请法律顾问参与重大行政决策，推进法治政府建设。{tag}{n}q\n"
            f"（二）健全行政执法全过程记录制度，第{n}批试点。")


def call(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, dict]:
    """One request; (status, JSON answer or {})."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.load(exc)
        except ValueError:
            return exc.code, {}


def upload(port: int, name: str, text: str) -> tuple[int, dict]:
    body = (f'--b\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: text/plain\r\n\r\n{text}\r\n--b--\r\n").encode()
    return call(port, "POST", "/api/admin/documents", body,
                {"Authorization": f"Bearer {TOKEN}", "Content-Type": "multipart/form-data; boundary=b"})


def test_soak_with_kill_9_of_the_indexer(tmp_path):
    rng = random.Random(SEED)
    print(f"soak seed {SEED}")
    index = tmp_path / "idx"
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019", "jm_ict_2024")
    index_paths([copy_seeds(tmp_path / "first", "bureau_2022")], index, encoder=HashEncoder())
    before = {d.doc_id for d in list_documents(index)}

    server = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT), index=str(index), token=TOKEN)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    acknowledged: dict[str, str] = {}  # upload name → its unique word
    failures: list[str] = []
    refused: list[str] = []  # uploads answered 409 while the indexer held the lock
    killed_mid_run = 0
    stop = threading.Event()
    try:
        port = int(server.stdout.readline())
        status, found = call(port, "GET", "/api/search?q=%E6%B3%95%E5%BE%8B%E9%A1%BE%E9%97%AE&k=20")
        assert status == 200, found
        passage_ids = [h["passage_id"] for h in found["results"]]

        def searcher(seed: int) -> None:
            local = random.Random(seed)
            for _ in range(2000):  # bounded; stops much earlier, when the indexer cycles are done
                if stop.is_set():
                    return
                if local.random() < 0.6:
                    q = local.choice(["法律顾问", "行政执法", "公平竞争审查", "法治政府建设"])
                    status, answer = call(port, "GET", "/api/search?" + urllib.parse.urlencode({"q": q, "k": 5}))
                else:
                    body = json.dumps({"passage_id": local.choice(passage_ids), "k": 5}).encode()
                    status, answer = call(port, "POST", "/api/similar", body, {"Content-Type": "application/json"})
                if status != 200:
                    failures.append(f"{status} {answer}")

        def uploader() -> None:
            for n in range(200):
                if stop.is_set():
                    return
                name, word = f"upload-{n}.txt", f"soakmark{n}"
                status, answer = upload(port, name, report(word, n))
                if status == 200 and answer.get("added"):
                    acknowledged[name] = f"{word}{n}q"
                elif status == 409:  # the indexer holds the lock: the upload is refused, not acknowledged
                    refused.append(name)
                else:
                    failures.append(f"upload {status} {answer}")
                time.sleep(0.05)

        workers = [threading.Thread(target=searcher, args=(i,)) for i in range(2)] + [threading.Thread(target=uploader)]
        for w in workers:
            w.start()
        script = INDEXER.format(root=str(ROOT), corpus=str(corpus), index=str(index))
        for cycle in range(KILLS + 1):
            (corpus / f"new-{cycle}.txt").write_text(report("indexed", cycle) * 3, encoding="utf-8")
            proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
            assert proc.stdout.readline().strip() == "started"
            if cycle < KILLS:
                time.sleep(rng.uniform(0.0, 1.5))
                proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate(timeout=120)
            killed_mid_run += "finished" not in out
            if cycle == KILLS:
                assert "finished" in out and proc.returncode == 0, out
        time.sleep(0.5)
        stop.set()
        for w in workers:
            w.join(timeout=120)

        print(f"{len(acknowledged)} uploads acknowledged, {len(refused)} refused with 409, "
              f"{killed_mid_run} of {KILLS} indexer runs killed before they finished")
        assert not failures, failures[:5]
        assert killed_mid_run >= 1, "no kill landed inside an indexer run: the soak proved nothing"
        assert acknowledged, "no upload got through: the soak proved nothing"
        final = {d.doc_id: d for d in list_documents(index)}
        assert before <= set(final), "a document indexed before the soak was lost"
        assert {f"new-{c}.txt" for c in range(KILLS + 1)} <= {d.name for d in final.values()}
        for name, word in acknowledged.items():
            doc = next((d for d in final.values() if d.name.endswith(name)), None)
            assert doc is not None, f"acknowledged upload {name} is not in the index"
            status, hits = call(port, "GET", "/api/search?" + urllib.parse.urlencode({"q": word, "k": 10}))
            assert status == 200 and doc.doc_id in {h["doc_id"] for h in hits["results"]}, (name, word)
    finally:
        stop.set()
        server.kill()
        server.wait(timeout=30)
