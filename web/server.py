"""The HTTP server of `fazhi serve`: waitress, with per-connection deadlines and body limits checked from the headers.

Waitress reads requests asynchronously and hands a request to a worker thread only once it is complete,
so slow clients never hold a thread, only a connection. Alone it lets them hold connections: its limit is
100, and its channel_timeout closes only idle channels, so 101 clients that trickle their headers keep
everyone else waiting. Here every connection must deliver its complete header block within a deadline and
its body within another, the connection limit is larger (with poll(), not select()), and a body larger
than its path allows is refused with 413 from its Content-Length, before any of it is read.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from typing import Callable

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import MultiSocketServer, TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher
from waitress.utilities import Error, RequestEntityTooLarge

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
        if not self.completed and self.chunked and self.body_bytes_received > self.body_limit:
            self.error = BodyTooLarge(self.path or "/", self.body_limit, self.body_bytes_received)
            self.completed = True
        if self.error is not None:
            self.expect_continue = False  # never invite the body of a refused request
            if type(self.error) is RequestEntityTooLarge:  # waitress's own, over max_request_body_size
                self.error = BodyTooLarge(self.path or "/", self.body_limit, self.content_length or self.body_bytes_received)
            if (self.path or "").startswith("/api/") and not isinstance(self.error, ApiError):
                self.error = ApiError(self.error)
            return len(data)  # the rest of this read is the refused body, not a next request
        return consumed


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
    body_limit: BodyLimit | None = None,
):
    """A ready (listening, not yet running) server for `app`; `.run()` serves, `.effective_port` says where.

    `max_body` caps every request (default: from the app's config, see body_limits_from_app); `body_limit`
    may lower it per request from its path and headers.
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
    dispatcher = ThreadedTaskDispatcher()
    dispatcher.set_thread_count(threads)
    servers = [DeadlineServer(app, socket_map, dispatcher=dispatcher, adj=adj, sockinfo=info) for info in adj.listen]
    if len(servers) == 1:
        return servers[0]
    listen = [(s.effective_host, s.effective_port) for s in servers]
    return MultiSocketServer(socket_map, adj, listen, dispatcher, servers[-1].log_info)


def serve(
    app, host: str = "127.0.0.1", port: int = 8000, *, threads: int = THREADS, connection_limit: int = CONNECTION_LIMIT,
    header_timeout: float = HEADER_TIMEOUT, body_timeout: float = BODY_TIMEOUT, max_body: int | None = None,
) -> None:
    """Serve `app` until interrupted, with the deadlines and limits above."""
    server = make_server(app, host, port, threads=threads, connection_limit=connection_limit,
                         header_timeout=header_timeout, body_timeout=body_timeout, max_body=max_body)
    server.run()
