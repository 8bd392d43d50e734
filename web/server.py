"""The HTTP server of `fazhi serve`: waitress, with per-connection deadlines and body limits checked from the headers.

Waitress reads requests asynchronously and hands a request to a worker thread only once it is complete,
so slow clients never hold a thread, only a connection. Alone it lets them hold connections: its limit is
100, and its channel_timeout closes only idle channels, so 101 clients that trickle their headers keep
everyone else waiting. Here every connection must deliver its complete header block within a deadline and
its body within another, the connection limit is larger (with poll(), not select()), and a body larger
than its path allows is refused with 413 from its Content-Length, before any of it is read. Past one core
the server runs in worker processes that share one listening socket (serve_workers): one process is
bound by the GIL.
"""

from __future__ import annotations

import hmac
import json
import os
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher
from waitress.utilities import BadRequest, Error, RequestEntityTooLarge

from .context import SETTINGS

# A client has this long from connecting (or from its previous response) to send its whole header block.
# Browsers and proxies send it in one packet; nginx's client_header_timeout default is 60 s. This also
# closes idle keep-alive connections, so an idle socket holds a slot no longer than this.
HEADER_TIMEOUT = 15
# ... and this long for the whole body once the headers are in: a 50 MB upload at 4 Mbit/s.
BODY_TIMEOUT = 120
# Open connections at once; waitress's default of 100 is what 101 slow clients exhausted. Each costs a
# socket and a few KB; more wait in the listen backlog until the deadlines free a slot.
CONNECTION_LIMIT = 1000
BACKLOG = 2048
# Worker threads: one per core. A request's work is CPU (its query runs on one core, search/ and the int8
# encoder); more threads only queue on the cores and the GIL and stretch the tail. benchmarks/load.py, 16
# clients on 2 cores: p99 cold / warm 290–304 / 305–361 ms with 2 threads, 272 / 405 with 3, 434 / 412 with
# 4, 386 / 533 with 8 (the old default). Slow clients never hold a thread: waitress reads and writes
# sockets in its own loop.
THREADS = max(2, os.cpu_count() or 2)
# Worker processes of `fazhi serve`: see serve_workers. Two on 2 cores lift one process's GIL ceiling;
# each holds its own model and index structures (~600 MB for the demo index), so more cost memory first.
WORKERS = max(1, min(2, os.cpu_count() or 1))
STARTUP_WAIT = 60  # seconds the first ready worker waits for the others before the server listens anyway
DEADLINE_SWEEP = 1  # seconds between deadline checks (waitress's cleanup_interval; its default is 30)
DEFAULT_MAX_BODY = 256 * 1024  # any request, when the app does not say (the JSON API's own limit)

BodyLimit = Callable[[str, dict], int]  # (path, headers as waitress keys them: AUTHORIZATION, …) → bytes


class BodyTooLarge(RequestEntityTooLarge):
    """A 413 answered from the headers, before the body is read."""

    def __init__(self, path: str, limit: int, declared: int) -> None:
        super().__init__(f"request body of {declared:,} bytes is over the limit of {limit:,} bytes for {path}")


class ApiError(Error):
    """An error waitress answers itself (413, 431, 400, 501), in the API's JSON shape, for a path under /api/."""

    def __init__(self, error: Error) -> None:
        super().__init__(error.body)
        self.code, self.reason = error.code, error.reason

    def to_response(self, ident=None):
        body = json.dumps({"error": {"status": self.code, "message": f"{self.reason}: {self.body}"}}).encode("utf-8")
        return f"{self.code} {self.reason}", [("Content-Type", "application/json")], body


class DeadlineParser(HTTPRequestParser):
    """A request parser that knows when its headers arrived and refuses an oversized body before reading it."""

    def __init__(self, adj: Adjustments) -> None:
        super().__init__(adj)
        self.headers_done_at: float | None = None
        self.body_limit = adj.max_request_body_size

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        self.headers_done_at = time.monotonic()
        limit_for: BodyLimit | None = getattr(self.adj, "body_limit", None)
        if limit_for is not None:
            self.body_limit = min(self.body_limit, limit_for(self.path or "/", self.headers))
        if self.content_length > self.body_limit:
            self.error = BodyTooLarge(self.path or "/", self.body_limit, self.content_length)
            self.completed = True

    def received(self, data: bytes) -> int:
        consumed = super().received(data)
        path = getattr(self, "path", None) or refused_target_path(getattr(self, "first_line", b""))
        if not self.completed and self.chunked and self.body_bytes_received > self.body_limit:
            self.error = BodyTooLarge(path or "/", self.body_limit, self.body_bytes_received)
            self.completed = True
        if self.error is not None:
            self.expect_continue = False  # never invite the body of a refused request
            if type(self.error) is RequestEntityTooLarge:  # waitress's own, over max_request_body_size
                self.error = BodyTooLarge(path or "/", self.body_limit, self.content_length or self.body_bytes_received)
            if not hasattr(self, "path") and isinstance(self.error, BadRequest) and not getattr(self, "first_line", b"").isascii():
                self.error = BadRequest("the request line has bytes outside ASCII: percent-encode the URL "
                                        "(UTF-8), as browsers and urllib.parse.quote do")
            if path.startswith("/api/") and not isinstance(self.error, ApiError):
                self.error = ApiError(self.error)
            return len(data)  # the rest of this read is the refused body, not a next request
        return consumed


def refused_target_path(first_line: bytes) -> str:
    """The path of a request line waitress refused before parsing it ('' when there is none)."""
    parts = first_line.split(b" ")
    return parts[1].split(b"?", 1)[0].decode("latin-1") if len(parts) >= 2 else ""


class DeadlineChannel(HTTPChannel):
    """A connection that remembers since when it has been waiting for a request."""

    parser_class = DeadlineParser

    def __init__(self, server, sock, addr, adj, map=None) -> None:
        super().__init__(server, sock, addr, adj, map)
        self.waiting_since = time.monotonic()

    def service(self) -> None:
        super().service()
        self.waiting_since = time.monotonic()

    def overdue(self, now: float, header_timeout: float, body_timeout: float) -> str:
        """Why this connection is past its deadline ('' when it is not), while no request of it is being served."""
        if self.requests or self.will_close:
            return ""
        request = self.request
        if request is None or request.headers_done_at is None:
            return "headers not complete" if now - self.waiting_since > header_timeout else ""
        return "body not complete" if now - request.headers_done_at > body_timeout else ""


class DeadlineServer(TcpWSGIServer):
    """waitress's TCP server whose regular sweep also closes connections past their header or body deadline."""

    channel_class = DeadlineChannel

    def maintenance(self, now: float) -> None:
        super().maintenance(now)
        mono = time.monotonic()
        for channel in list(self.active_channels.values()):
            why = channel.overdue(mono, self.adj.header_timeout, self.adj.body_timeout) if isinstance(channel, DeadlineChannel) else ""
            if why:
                self.logger.info("closing connection from %s: %s in time", channel.addr, why)
                channel.will_close = True


class CountingDispatcher(ThreadedTaskDispatcher):
    """waitress's thread pool, counting the requests it holds (queued or running) and calling `on_free`
    once one is done, after the count is lowered."""

    def __init__(self) -> None:
        super().__init__()
        self.held = 0
        self.on_free: Callable[[], None] = lambda: None

    def add_task(self, task) -> None:
        with self.lock:
            self.held += 1
        super().add_task(_Counted(task, self))

    def done(self) -> None:
        """One held request has been served."""
        with self.lock:
            self.held -= 1
        self.on_free()


class _Counted:
    """A task (waitress passes the channel itself) that tells its dispatcher when it has been served."""

    def __init__(self, task, dispatcher: CountingDispatcher) -> None:
        self.task, self.dispatcher = task, dispatcher

    def service(self) -> None:
        try:
            self.task.service()
        finally:
            self.dispatcher.done()

    def cancel(self) -> None:
        try:
            self.task.cancel()
        finally:
            self.dispatcher.done()


class SharedSocketServer(DeadlineServer):
    """A worker's server on the socket its siblings share: it accepts only while one of its threads is free.

    waitress accepts every connection it can and queues the requests for its threads, so a worker whose
    threads are all busy would still take connections while a sibling sits idle. Leaving them in the shared
    listen queue lets an idle one have them (as gunicorn's sync workers do). A finished request pulls the
    loop's trigger, so a freed thread is seen at once.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.task_dispatcher.on_free = self.pull_trigger

    def readable(self) -> bool:
        open_ = super().readable()  # also runs the deadline sweep
        dispatcher = self.task_dispatcher
        return open_ and dispatcher.held < len(dispatcher.threads)


def body_limits_from_app(app) -> tuple[int, BodyLimit]:
    """(largest body any request may send, limit per request) from the app's config and settings.

    Admin paths with the right token may send MAX_UPLOAD_BYTES; everything else, an admin request without
    the token included, gets MAX_CONTENT_LENGTH, so a large body without a token is refused unread.
    """
    config = getattr(app, "config", {})
    small = int(config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_BODY)
    settings = getattr(app, "extensions", {}).get(SETTINGS)
    token = getattr(settings, "admin_token", "") or config.get("ADMIN_TOKEN")
    if not token:
        return small, lambda _path, _headers: small
    large = max(small, int(config.get("MAX_UPLOAD_BYTES") or small))
    expected = ("Bearer " + token).encode()

    def limit(path: str, headers: dict) -> int:
        if path.startswith("/api/admin/") and hmac.compare_digest(headers.get("AUTHORIZATION", "").encode(), expected):
            return large
        return small

    return large, limit


def make_server(
    app, host: str = "127.0.0.1", port: int = 8000, *, threads: int = THREADS, connection_limit: int = CONNECTION_LIMIT,
    header_timeout: float = HEADER_TIMEOUT, body_timeout: float = BODY_TIMEOUT, max_body: int | None = None,
    body_limit: BodyLimit | None = None, sock: socket.socket | None = None,
):
    """A ready (listening, not yet running) server for `app`; `.run()` serves, `.effective_port` says where.

    `max_body` caps every request (default: from the app's config, see body_limits_from_app); `body_limit`
    may lower it per request from its path and headers. `sock`: a bound socket to listen on (a worker of
    serve_workers) instead of binding host:port.
    """
    app_max, app_limit = body_limits_from_app(app)
    adj = Adjustments(
        host=host, port=port, threads=threads, connection_limit=connection_limit, backlog=BACKLOG,
        cleanup_interval=DEADLINE_SWEEP, channel_timeout=int(max(header_timeout, body_timeout)) + 1,
        max_request_body_size=(max_body if max_body is not None else app_max) + 1, asyncore_use_poll=True,
    )
    adj.header_timeout, adj.body_timeout = header_timeout, body_timeout
    adj.body_limit = body_limit or (app_limit if max_body is None else (lambda _p, _h: max_body))
    socket_map: dict = {}
    dispatcher = CountingDispatcher() if sock is not None else ThreadedTaskDispatcher()
    dispatcher.set_thread_count(threads)
    if sock is not None:
        return SharedSocketServer(app, socket_map, _sock=sock, dispatcher=dispatcher, adj=adj, bind_socket=False)
    servers = [DeadlineServer(app, socket_map, dispatcher=dispatcher, adj=adj, sockinfo=info) for info in adj.listen]
    if len(servers) == 1:
        return servers[0]
    listen = [(s.effective_host, s.effective_port) for s in servers]
    return MultiSocketServer(socket_map, adj, listen, dispatcher, servers[-1].log_info)


def bound_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port and not yet listening: connections are refused until a worker is
    ready and listens on it (port 0: a free port, shared by every worker)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _die_with_parent(parent: int) -> None:
    """Have the kernel send this process SIGTERM when its parent dies, even by kill -9 (Linux prctl)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: workers outlive a killed parent, as gunicorn's do
        return
    if os.getppid() != parent:  # the parent died before the signal was asked for
        os._exit(1)


@dataclass
class Worker:
    """A forked worker process: the pipe it reports on (r: ready, l: listening), and the one it waits on to
    start listening."""

    pid: int
    pipe: int
    go: int
    ready: bool = False
    started: bool = False
    listening: bool = False

    def poll(self) -> bool:
        """Whether the worker has said it is ready (reads its pipe without waiting)."""
        try:
            said = os.read(self.pipe, 2)
        except BlockingIOError:
            said = b""
        self.ready = self.ready or b"r" in said
        self.listening = self.listening or b"l" in said
        return self.ready

    def start(self) -> None:
        """Let a ready worker listen."""
        if not self.started:
            self.started = True
            os.write(self.go, b"1")

    def close(self) -> None:
        for fd in (self.pipe, self.go):
            os.close(fd)


def serve_workers(make_app: Callable[[], Any], host: str = "127.0.0.1", port: int = 8000, *, workers: int = 1,
                  on_ready: Callable[[int], None] | None = None, **options) -> int:
    """Serve the app that `make_app` builds from `workers` processes listening on one socket; the exit code.

    One process is bound by the GIL: a request's Python (ranking, match levels, the page) runs on one core
    at a time however many threads wait, so on 2 cores one process tops out at ~75 requests/s with a core
    to spare (benchmarks/load.py, docs/benchmarks.md). Each worker is forked before anything is loaded and
    builds and warms its own app (no ONNX Runtime thread pool crosses a fork). They start listening together
    once all are ready (or STARTUP_WAIT after the first is), so the first burst of clients never meets a
    worker that is still loading; each connection then goes to whichever worker accepts it first (pre-fork,
    as gunicorn). Workers die with the parent, even when it is killed with SIGKILL. A worker that dies
    before it is ready stops the whole server with its exit code; one that dies later is replaced and
    listens once it is ready. `on_ready(port)` is called once they listen. `workers` 1 serves here.
    """
    options = {k: v for k, v in options.items() if v is not None}
    if workers <= 1:
        server = make_server(make_app(), host, port, **options)
        if on_ready:
            on_ready(server.effective_port)
        server.run()
        return 0
    sock = bound_socket(host, port)
    children: dict[int, Worker] = {}

    def spawn() -> None:
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker: never returns
            code = 1
            try:
                os.close(ready_r)
                os.close(go_w)
                for other in children.values():  # a replacement holds no pipes of its siblings
                    other.close()
                _die_with_parent(parent)
                for s in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(s, signal.SIG_DFL)
                app = make_app()
                os.write(ready_w, b"r")
                if os.read(go_r, 1):  # b"": the parent is gone
                    server = make_server(app, sock=sock, **options)
                    os.write(ready_w, b"l")
                    server.run()
                code = 0
            except SystemExit as exc:  # the app factory has said why already
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:  # noqa: BLE001 - a worker reports what stopped it, then exits
                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(ready_w)
        os.close(go_r)
        os.set_blocking(ready_r, False)
        children[pid] = Worker(pid, ready_r, go_w)

    stopping = False

    def stop(_signum=None, _frame=None) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for _ in range(workers):
            spawn()
        first_ready: float | None = None
        released = announced = False
        while children:
            for w in children.values():
                if w.poll() and first_ready is None:
                    first_ready = time.monotonic()
            waiting = [w for w in children.values() if w.ready and not w.started]
            if waiting and (released or len(waiting) == len(children) or time.monotonic() - first_ready > STARTUP_WAIT):
                released = True
                for w in waiting:
                    w.start()
            if not announced and any(w.listening for w in children.values()):
                announced = True
                if on_ready:
                    on_ready(sock.getsockname()[1])
            busy = not announced or any(not w.listening for w in children.values())
            pid, status = os.waitpid(-1, os.WNOHANG if busy else 0)
            if pid == 0:
                time.sleep(0.05)
                continue
            worker = children.pop(pid)
            ready = worker.poll()
            worker.close()
            if stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            if not ready:
                print(f"fazhi: a worker exited with code {code} before it was ready; stopping", file=sys.stderr)
                stop()
                for other in list(children):
                    os.waitpid(other, 0)
                return code or 1
            print(f"fazhi: worker {pid} exited with code {code}; starting another", file=sys.stderr)
            spawn()
        return 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()
