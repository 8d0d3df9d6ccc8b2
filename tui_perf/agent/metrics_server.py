"""A bounded HTTP server for /metrics: one selector loop on one daemon thread.

prometheus_client's own server starts a thread per connection and never times a peer out, so
idle peers cost the host a thread and an fd each, forever (issue 30). This one holds at most
`max_connections` sockets (at the cap it stops accepting: newcomers wait in the kernel's
listen backlog until a slot frees, so a scraping fleet queues rather than fails), drops
any peer that has not been answered within `read_timeout` (the whole exchange, however
slowly the bytes come), and reads at most `max_request_bytes`.
The response body and content type are prometheus_client's, byte for byte.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """What one /metrics listener may cost the host, whatever its peers do."""

    read_timeout: float = 5.0  # seconds from accept to the last byte of the answer
    # At the cap the listener is not watched: newcomers wait in the backlog, unaccepted and
    # costing no fd here. Closing the oldest instead broke concurrent scrapers mid-answer.
    max_connections: int = 32
    backlog: int = 128  # a scraping fleet's burst waits in the kernel, not refused
    max_request_bytes: int = 8192


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]


class BadRequest(Exception):
    """The bytes are not a request this server answers; the peer gets a 400."""


def parse_request(data: bytes, limit: int) -> Request | None:
    """The request in `data`, or None while its head is incomplete (HTTP/1.0-style GET)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        if len(data) > limit:
            raise BadRequest("request head too large")
        return None
    if end > limit:
        raise BadRequest("request head too large")
    lines = data[:end].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise BadRequest("malformed request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest("malformed header")
        headers[name.strip().lower()] = value.strip()
    return Request(parts[0], parts[1].split("?", 1)[0], headers)


def http_response(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = [f"HTTP/1.0 {status}", *(f"{k}: {v}" for k, v in headers)]
    head += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def metrics_response(registry: Any, request: Request) -> bytes:
    """The answer prometheus_client's own app gives: its encoder for the Accept header, gzip
    when accepted. Paths other than / and /metrics get a 404."""
    from prometheus_client.exposition import choose_encoder, gzip_accepted

    if request.method not in ("GET", "HEAD"):
        return http_response("405 Method Not Allowed", [("Allow", "GET, HEAD")], b"")
    if request.path not in ("/", "/metrics"):
        return http_response("404 Not Found", [("Content-Type", "text/plain")], b"not found\n")
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    body = encoder(registry)
    headers = [("Content-Type", content_type)]
    if gzip_accepted(request.headers.get("accept-encoding", "")):
        body = gzip.compress(body)
        headers.append(("Content-Encoding", "gzip"))
    response = http_response("200 OK", headers, body)
    return response[: len(response) - len(body)] if request.method == "HEAD" else response


@dataclass
class _Conn:
    sock: socket.socket
    deadline: float
    inbox: bytes = b""
    outbox: bytes = b""


class MetricsServer:
    """Serves `answer(request) -> response bytes` on one listener from one daemon thread."""

    def __init__(
        self,
        answer: Callable[[Request], bytes],
        port: int,
        addr: str = "127.0.0.1",
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.answer = answer
        self.limits = limits
        self.clock = clock
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind((addr, port))
            self.listener.listen(limits.backlog)
        except OSError:
            self.listener.close()
            raise
        self.listener.setblocking(False)
        self.port: int = self.listener.getsockname()[1]
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.conns: dict[socket.socket, _Conn] = {}  # insertion order = age
        self.accepting = True  # the listener is watched (below the connection cap)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="tui-perf-metrics", daemon=True)

    def start(self) -> MetricsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)

    def _loop(self) -> None:
        try:
            while not self.stopping.is_set():
                # Wake for the nearest deadline, and at least every 0.25 s to see `stop()`.
                wait = 0.25
                if self.conns:
                    soonest = min(c.deadline for c in self.conns.values())
                    wait = max(0.0, min(wait, soonest - self.clock()))
                for key, events in self.selector.select(wait):
                    if key.fileobj is self.listener:
                        self._accept()
                    elif (conn := self.conns.get(key.fileobj)) is not None:  # type: ignore[call-overload]
                        self._serve(conn, events)
                self._expire()
        except Exception:  # never raise into the host: log and stop serving
            log.exception("tui-perf /metrics server stopped")
        finally:
            for sock in list(self.conns):
                self._close(sock)
            self.selector.close()
            self.listener.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of fds, aborted handshake: the next round tries again
                return
            sock.setblocking(False)
            self.conns[sock] = _Conn(sock, self.clock() + self.limits.read_timeout)
            self.selector.register(sock, selectors.EVENT_READ)
            if len(self.conns) >= self.limits.max_connections:
                self.selector.unregister(self.listener)  # the rest wait in the backlog
                self.accepting = False
                return

    def _serve(self, conn: _Conn, events: int) -> None:
        try:
            if events & selectors.EVENT_READ and not conn.outbox:
                self._read(conn)
            elif events & selectors.EVENT_WRITE:
                self._write(conn)
        except OSError:
            self._close(conn.sock)

    def _read(self, conn: _Conn) -> None:
        chunk = conn.sock.recv(4096)
        if not chunk:
            self._close(conn.sock)
            return
        conn.inbox += chunk
        try:
            request = parse_request(conn.inbox, self.limits.max_request_bytes)
        except BadRequest as exc:
            body = f"{exc}\n".encode()
            response = http_response("400 Bad Request", [("Content-Type", "text/plain")], body)
        else:
            if request is None:
                return
            response = self.answer(request)
        conn.inbox = b""
        conn.outbox = response
        self.selector.modify(conn.sock, selectors.EVENT_WRITE)
        self._write(conn)

    def _write(self, conn: _Conn) -> None:
        sent = conn.sock.send(conn.outbox)
        conn.outbox = conn.outbox[sent:]
        if not conn.outbox:
            self._close(conn.sock)

    def _expire(self) -> None:
        now = self.clock()
        for sock in [s for s, c in self.conns.items() if c.deadline <= now]:
            self._close(sock)

    def _close(self, sock: socket.socket) -> None:
        self.conns.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):  # never registered, or closed already
            self.selector.unregister(sock)
        sock.close()
        if not self.accepting and len(self.conns) < self.limits.max_connections:
            with contextlib.suppress(ValueError, OSError):  # the selector closed on the way out
                self.selector.register(self.listener, selectors.EVENT_READ)
                self.accepting = True
