"""/metrics under a crowd (issue 30, item 2): idle peers cost neither a host thread nor an fd
each, a slow peer is dropped after the read timeout, and a scraping fleet never times out.

Real sockets against the exporter in this process; the 600 idle peers live in a child process
so that psutil's count of this process's fds holds only the server's side.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from tests.conftest import _free_port
from tests.helpers.scripted import MiB, ScriptedProbe
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler

pytest.importorskip("prometheus_client")

CAP = 32  # the exporter's default connection cap

# Opens N connections without waiting (past the cap and the backlog the kernel keeps them
# retrying), sends half a request on each that is up, says so, then holds them all until
# stdin closes.
IDLE_PEERS = """
import contextlib, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))
    held.append(s)
for s in held:
    with contextlib.suppress(OSError):
        s.send(b"GET /metr")
print("ready", flush=True)
sys.stdin.read()
"""


def _engine() -> Engine:
    eng = Engine(
        EngineConfig(interval=0.1),
        registry=Registry(),
        sampler=Sampler(probe=ScriptedProbe(100 * MiB)),
    )
    eng.tick()
    return eng


def _scrape(port: int, timeout: float = 5.0) -> str:
    url = f"http://127.0.0.1:{port}/metrics"
    return urllib.request.urlopen(url, timeout=timeout).read().decode()


@pytest.fixture
def host() -> Iterator[psutil.Process]:
    yield psutil.Process()


def test_600_idle_peers_cost_no_thread_each_and_at_most_the_cap_in_fds(
    host: psutil.Process,
) -> None:
    from tui_perf.agent.exporter import serve_metrics

    threads0, fds0 = host.num_threads(), host.num_fds()
    port = _free_port()
    server = serve_metrics(_engine(), port, read_timeout=0.5)  # the queue drains quickly
    peers = subprocess.Popen(
        [sys.executable, "-c", IDLE_PEERS, str(port), "600"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert peers.stdout is not None and peers.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        while len(server.conns) < CAP and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not server.accepting  # at the cap: the rest wait in the kernel's backlog
        added_threads = host.num_threads() - threads0
        added_fds = host.num_fds() - fds0
        print(f"600 idle /metrics peers: +{added_threads} threads, +{added_fds} fds")
        assert added_threads <= 2
        assert added_fds <= CAP + 4
        # A real scrape waits its turn in the queue and is answered: nobody was refused.
        assert "tui_perf_resident_memory_bytes" in _scrape(port, timeout=30)
        assert host.num_fds() - fds0 <= CAP + 4
    finally:
        peers.communicate(timeout=10)
        server.stop()


def test_a_slow_peer_is_dropped_after_the_read_timeout() -> None:
    from tui_perf.agent.exporter import serve_metrics

    port = _free_port()
    server = serve_metrics(_engine(), port, read_timeout=0.3)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never the blank line
            started = time.monotonic()
            assert slow.recv(1024) == b""  # the server closed it
            assert time.monotonic() - started < 5
        assert "tui_perf_threads" in _scrape(port)  # and it still serves
    finally:
        server.stop()


def test_50_concurrent_scrapers_never_fail() -> None:
    from tui_perf.agent.exporter import serve_metrics

    port = _free_port()
    serve_metrics(_engine(), port)

    def scraper(_: int) -> int:
        failed = 0
        for _ in range(40):
            try:
                if "tui_perf_memory_tier" not in _scrape(port, timeout=5):
                    failed += 1
            except OSError:
                failed += 1
        return failed

    with ThreadPoolExecutor(50) as pool:
        failures = sum(pool.map(scraper, range(50)))
    print(f"50 scrapers x 40 scrapes: {failures} failed of 2000")
    assert failures == 0


def test_the_body_and_content_type_are_prometheus_clients_own() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from tui_perf.agent.exporter import SnapshotCollector, serve_metrics

    eng = _engine()
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(eng))
    server = serve_metrics(eng, _free_port())
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as r:
            # What prometheus_client's own server sent for a request without Accept.
            assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
            assert r.read() == generate_latest(registry)
    finally:
        server.stop()


def test_a_request_over_the_size_limit_gets_a_400_and_is_closed() -> None:
    from tui_perf.agent.exporter import serve_metrics

    server = serve_metrics(_engine(), _free_port())
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as peer:
            peer.sendall(b"GET /metrics HTTP/1.0\r\nX-Pad: " + b"a" * 10_000)
            answer = b""
            while chunk := peer.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.0 400 ")
    finally:
        server.stop()
