"""The real server (web.server, waitress underneath) on 127.0.0.1: slow clients, huge and trickled bodies."""

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from indexer.pipeline import index_paths
from tests.conftest import ROOT, copy_seeds
from tests.fakes import HashEncoder

TOKEN = "s3cret-token"
SERVER_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from core.settings import Settings
    from search.engine import SearchEngine
    from tests.fakes import HashEncoder
    from web import create_app
    from web.server import make_server

    app = create_app(Settings(index={index!r}, admin_token={token!r}),
                     engine=SearchEngine({index!r}, encoder=HashEncoder()))
    server = make_server(app, "127.0.0.1", 0, threads=4, **{options!r})
    print(server.effective_port, flush=True)
    server.run()
""")


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    index_paths([copy_seeds(folder / "corpus", "gz_ict_2019")], folder / "idx", encoder=HashEncoder())
    return folder / "idx"


@contextmanager
def running_server(index, **options):
    """The server in a process of its own (as `fazhi serve` runs it); yields its port."""
    script = SERVER_SCRIPT.format(root=str(ROOT), index=str(index), token=TOKEN, options=options)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(proc.stdout.readline())
        yield port
    finally:
        proc.kill()
        proc.wait(timeout=30)


def raw_request(port: int, head: str, body: bytes = b"", timeout: float = 20) -> tuple[int, dict, bytes]:
    """Send a request head (and part of a body) on a plain socket; (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head_bytes, _, rest = data.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        length = int(headers.get("Content-Length", 0))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return int(lines[0].split()[1]), headers, rest


def upload(port: int, name: str, report: str) -> tuple[int, bytes]:
    """POST a report to the admin upload endpoint with the token, as a plain socket sends it; (status, body)."""
    body = (f"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            "Content-Type: text/plain\r\n\r\n").encode() + report.encode() + b"\r\n--b--\r\n"
    head = (f"POST /api/admin/documents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {len(body)}")
    status, _, answer = raw_request(port, head, body, timeout=60)
    return status, answer


class Tricklers:
    """N connections that send a request line and then one header byte at a time, reconnecting when cut off."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.socks: list[socket.socket] = []
        self.cut_off = 0
        self.stop = threading.Event()

    def _open(self) -> socket.socket:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", self.port))  # completes into the listen backlog even when not accepted
        return sock

    def _send(self, sock: socket.socket, data: bytes) -> bool:
        """False when the server has closed this connection."""
        try:
            if sock.recv(1024, socket.MSG_DONTWAIT) == b"":
                return False
        except BlockingIOError:
            pass
        except OSError:
            return False
        try:
            sock.send(data)
        except BlockingIOError:
            pass
        except OSError:
            return False
        return True

    def run(self, seconds: float) -> None:
        """Trickle until stopped or `seconds` have passed (a bound, so the test always ends)."""
        self.socks = [self._open() for _ in range(self.count)]
        time.sleep(0.2)
        for sock in self.socks:
            self._send(sock, b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        ends = time.monotonic() + seconds
        while not self.stop.is_set() and time.monotonic() < ends:
            for i, sock in enumerate(self.socks):
                if not self._send(sock, b"X"):
                    self.cut_off += 1
                    sock.close()
                    self.socks[i] = self._open()
            time.sleep(0.1)
        time.sleep(0.2)
        for sock in self.socks:  # a last look: connections closed since the last round count too
            if not self._send(sock, b"X"):
                self.cut_off += 1
            sock.close()


@pytest.mark.parametrize("options", [{"connection_limit": 100, "header_timeout": 2}, {}],
                         ids=["waitress-default-limit-short-deadline", "serve-defaults"])
def test_200_trickling_clients_do_not_starve_a_normal_request(small_index, options):
    with running_server(small_index, **options) as port:
        crowd = Tricklers(port, 200)
        thread = threading.Thread(target=crowd.run, args=(60,))
        thread.start()
        try:
            time.sleep(1.5)  # all 200 connected and trickling
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=%E6%B3%95%E5%BE%8B&k=3", timeout=45) as response:
                status, body = response.status, json.load(response)
        finally:
            crowd.stop.set()
            thread.join(timeout=30)
    assert status == 200 and body["results"]
    if options:  # more slow clients than connections: only the header deadline let the request in
        assert crowd.cut_off >= 100


def test_a_huge_body_without_the_token_is_refused_from_its_headers(small_index):
    with running_server(small_index) as port:
        head = ("POST /api/admin/documents HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                "Content-Length: 104857600")
        status, headers, body = raw_request(port, head, b"x" * 65536)  # 64 KB of the 100 MB sent
        assert status == 413 and headers["Content-Type"] == "application/json"
        assert json.loads(body)["error"]["status"] == 413
        with_token = head + f"\r\nAuthorization: Bearer {TOKEN}"  # over the 50 MB upload limit even with it
        assert raw_request(port, with_token, b"x" * 65536)[0] == 413
        search = "POST /api/similar HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000"
        assert raw_request(port, search, b"{")[0] == 413
        page = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000"
        status, headers, _ = raw_request(port, page, b"q")
        assert status == 413 and headers["Content-Type"].startswith("text/plain")
        expect = head + "\r\nExpect: 100-continue"
        status, _, _ = raw_request(port, expect)  # refused without inviting the body first
        assert status == 413
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=20) as response:
            assert response.status == 200  # and the server is fine


def test_an_upload_within_the_limits_with_the_token_is_accepted(small_index, tmp_path):
    import shutil

    index = tmp_path / "idx"
    shutil.copytree(small_index, index)
    with running_server(index) as port:
        status, answer = upload(port, "r.txt", "一、总体情况\n（一）聘请法律顾问，推进法治政府建设，落实第一责任人职责。")
    assert status == 200 and json.loads(answer)["added"]


def test_a_trickled_body_is_cut_off_at_the_body_deadline(small_index):
    with running_server(small_index, body_timeout=2) as port:
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(b"POST /api/similar HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        sent, closed = 1, False
        ends = time.monotonic() + 30
        sock.settimeout(0.2)
        while time.monotonic() < ends and sent < 1000:
            try:
                if sock.recv(1024) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
            except OSError:
                closed = True
                break
            try:
                sock.send(b" ")
                sent += 1
            except OSError:
                closed = True
                break
        sock.close()
    assert closed and sent < 1000


def test_body_limits_follow_the_app_config():
    from core.settings import Settings
    from web import create_app
    from web.server import body_limits_from_app

    app = create_app(Settings(admin_token=TOKEN), testing=True)
    largest, limit = body_limits_from_app(app)
    upload, api = app.config["MAX_UPLOAD_BYTES"], app.config["MAX_CONTENT_LENGTH"]
    assert largest == upload > api
    assert limit("/api/admin/documents", {"AUTHORIZATION": f"Bearer {TOKEN}"}) == upload
    assert limit("/api/admin/documents", {"AUTHORIZATION": "Bearer wrong"}) == api
    assert limit("/api/admin/documents", {}) == api and limit("/api/search", {"AUTHORIZATION": f"Bearer {TOKEN}"}) == api
    no_admin = create_app(Settings(), testing=True)
    assert body_limits_from_app(no_admin)[0] == api


def test_errors_the_server_answers_itself_are_json_under_api(small_index):
    with running_server(small_index) as port:
        status, headers, body = raw_request(port, "GET /api/search?q=x HTTP/1.1\r\nHost: x\r\nContent-Length: abc")
        assert status == 400 and headers["Content-Type"] == "application/json"
        assert json.loads(body)["error"]["status"] == 400
        chunked = "POST /api/similar HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json"
        status, headers, body = raw_request(port, chunked, (b"40000\r\n" + b" " * 0x40000 + b"\r\n") * 2)
        assert status == 413 and json.loads(body)["error"]["status"] == 413  # no Content-Length: counted as it comes
        raw_utf8 = "法律顾问".encode("utf-8").decode("latin-1")  # curl sends the URL's bytes as typed
        status, headers, body = raw_request(port, f"GET /api/search?q={raw_utf8} HTTP/1.1\r\nHost: x")
        assert status == 400 and "percent-encode" in json.loads(body)["error"]["message"]
        status, headers, body = raw_request(port, f"GET /search?q={raw_utf8} HTTP/1.1\r\nHost: x")
        assert status == 400 and b"percent-encode" in body  # a page path: waitress's plain answer, not a reset


WORKERS_SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {root!r})
    from core.settings import Settings
    from search.engine import SearchEngine
    from tests.fakes import HashEncoder
    from web import create_app
    from web.server import serve_workers

    def make_app():
        if {fail!r}:
            raise RuntimeError("no index here")
        app = create_app(Settings(index={index!r}, admin_token={token!r}),
                         engine=SearchEngine({index!r}, encoder=HashEncoder()))
        inner = app.wsgi_app

        def tagged(environ, start_response):  # which worker answered, for the test only
            return inner(environ, lambda status, headers, *a: start_response(status, headers + [("X-Pid", str(os.getpid()))], *a))

        app.wsgi_app = tagged
        return app

    sys.exit(serve_workers(make_app, "127.0.0.1", 0, workers=2, threads=2,
                           on_ready=lambda port: print(port, flush=True)))
""")


def worker_pids(parent: int) -> set[int]:
    """The live child processes of a process, from /proc."""
    try:
        text = Path(f"/proc/{parent}/task/{parent}/children").read_text()
    except FileNotFoundError:
        return set()
    return {int(p) for p in text.split()}


def wait_for(predicate, seconds: float = 60) -> bool:
    ends = time.monotonic() + seconds
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def answering_pid(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=%E6%B3%95%E5%BE%8B%E9%A1%BE%E9%97%AE", timeout=20) as r:
        assert r.status == 200 and json.load(r)["results"]
        return int(r.headers["X-Pid"])


def test_workers_share_one_port_and_a_dead_one_is_replaced(small_index):
    script = WORKERS_SCRIPT.format(root=str(ROOT), index=str(small_index), fail=False, token=TOKEN)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        assert wait_for(lambda: len(worker_pids(proc.pid)) == 2)
        workers = worker_pids(proc.pid)
        seen: set[int] = set()
        assert wait_for(lambda: seen.update(answering_pid(port) for _ in range(10)) or seen == workers), seen
        victim = next(iter(workers))
        subprocess.run(["kill", "-9", str(victim)], check=True)
        assert wait_for(lambda: len(worker_pids(proc.pid) - {victim}) == 2)  # a new one took its place
        assert answering_pid(port) in worker_pids(proc.pid)
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_workers_die_with_a_killed_parent(small_index):
    script = WORKERS_SCRIPT.format(root=str(ROOT), index=str(small_index), fail=False, token=TOKEN)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    assert wait_for(lambda: len(worker_pids(proc.pid)) == 2)
    workers = worker_pids(proc.pid)
    proc.kill()  # SIGKILL: the parent cannot pass anything on
    proc.wait(timeout=30)
    def alive(pid: int) -> bool:
        status = Path(f"/proc/{pid}/status")
        try:
            return "zombie" not in status.read_text()
        except FileNotFoundError:
            return False

    assert wait_for(lambda: not any(alive(pid) for pid in workers), 30)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5)


def test_a_worker_that_cannot_start_stops_the_server_with_its_error(small_index):
    script = WORKERS_SCRIPT.format(root=str(ROOT), index=str(small_index), fail=True, token=TOKEN)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode != 0
    assert "no index here" in run.stderr and "before it was ready" in run.stderr


def test_an_upload_through_one_worker_is_found_through_every_worker(small_index, tmp_path):
    import shutil

    index = tmp_path / "idx"
    shutil.copytree(small_index, index)
    script = WORKERS_SCRIPT.format(root=str(ROOT), index=str(index), fail=False, token=TOKEN)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        assert wait_for(lambda: len(worker_pids(proc.pid)) == 2)
        status, answer = upload(port, "avocado.txt", "一、总体情况\n（一）推行鳄梨审查制度，每季度通报鳄梨审查结果。")
        assert status == 200 and json.loads(answer)["added"]
        found_by: set[int] = set()

        def ask() -> bool:  # 鳄梨审查, URL-encoded
            url = f"http://127.0.0.1:{port}/api/search?q=%E9%B3%84%E6%A2%A8%E5%AE%A1%E6%9F%A5&min_match=any"
            with urllib.request.urlopen(url, timeout=20) as r:
                hits = json.load(r)["results"]
                if hits and hits[0]["source"].endswith("avocado.txt"):
                    found_by.add(int(r.headers["X-Pid"]))
                else:
                    raise AssertionError(f"worker {r.headers['X-Pid']} does not find the upload: {hits[:1]}")
            return found_by == worker_pids(proc.pid)

        assert wait_for(ask, 30), found_by
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_the_counting_dispatcher_lets_go_of_every_request_it_held():
    from web.server import CountingDispatcher

    added = threading.Event()

    class Task:  # waitress hands the same channel over again for each request of a keep-alive connection
        def __init__(self) -> None:
            self.served = 0

        def service(self) -> None:
            added.wait(10)  # all five are held before the first is done
            self.served += 1

    dispatcher, freed = CountingDispatcher(), []
    dispatcher.on_free = lambda: freed.append(dispatcher.held)
    dispatcher.set_thread_count(1)
    channel = Task()
    try:
        for _ in range(5):
            dispatcher.add_task(channel)
        added.set()
        assert wait_for(lambda: len(freed) == 5, 10)
    finally:
        dispatcher.shutdown()
    assert channel.served == 5 and dispatcher.held == 0 and freed == [4, 3, 2, 1, 0]
