"""Coherence between processes' L1s over Redis, across restarts of a real redis-server.

Each peer is a separate process holding a `MultiLevelCache` whose L1 has no TTL, so a copy
leaves it only through coherence. The rule held here: after an invalidation returns, no
process serves the old value later than the bound (`Coherence.max_stale`).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.helpers.redis_server import RedisServer

OUTAGE_S = 2.0  # the issue saw 6 s; the backoff that lost messages was longer than 2 s


class Server(RedisServer):
    """A redis-server that may keep its data over a restart (RDB on SIGTERM, or an AOF)."""

    def __init__(self, workdir: Path, *, keep: str = "") -> None:
        super().__init__(workdir)
        self.keep = keep

    def start(self) -> Server:
        save = ["--save", "3600 1"] if self.keep == "rdb" else ["--save", ""]
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.keep == "aof" else []
        binary = self.binary
        self.binary = binary
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", *save, *aof]
        self.proc = subprocess.Popen(
            [*args, "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import socket

        assert self.proc is not None
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def stop_with(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(10)
        self.proc = None


class Peer:
    """A process with a coherent cache, asked one line at a time."""

    def __init__(self, url: str, max_stale: float | None) -> None:
        args = [sys.executable, "-m", "tests.helpers.coherence_peer", url]
        if max_stale is not None:
            args.append(str(max_stale))
        self.proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.ask_nothing() == "ready"

    def ask_nothing(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the peer died"
        return json.loads(line)

    def ask(self, line: str) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.ask_nothing()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def _last_stale(peers: list[Peer], key: str, old: str, since: float, watch: float) -> float:
    """Ask every peer for `key` until `watch` s after `since`; the last time one said `old`."""
    last = float("-inf")
    while time.monotonic() < since + watch:
        for peer in peers:
            if peer.ask(f"get {key}") == old:
                last = time.monotonic() - since
        time.sleep(0.02)
    return last


MAX_STALE = 1.0  # the bound in these tests (2 s by default)


@pytest.mark.parametrize(
    ("keep", "sig"),
    [("", signal.SIGKILL), ("rdb", signal.SIGTERM), ("aof", signal.SIGKILL)],
    ids=["sigkill-data-lost", "sigterm-rdb-kept", "sigkill-aof-kept"],
)
def test_a_delete_after_redis_came_back_reaches_every_l1_within_the_bound(
    tmp_path: Path, keep: str, sig: int
) -> None:
    """Defect 2 of #29: Redis down, then back (empty or not); a delete made once it is back
    reached nobody while the listeners were in their backoff, and nothing flushed their L1."""
    server = Server(tmp_path, keep=keep).start()
    peers: list[Peer] = []
    try:
        peers = [Peer(server.url, MAX_STALE) for _ in range(3)]
        writer, others = peers[0], peers[1:]
        writer.ask("set user:1 old")
        assert [p.ask("get user:1") for p in others] == ["old", "old"]
        server.stop_with(sig)
        time.sleep(OUTAGE_S)  # the outage itself: wall time is what is being tested
        server.start()
        writer.ask("del user:1")
        t0 = time.monotonic()
        bound = 2.0 if MAX_STALE is None else MAX_STALE
        last = _last_stale(others, "user:1", "old", t0, bound + 1.0)
        assert last <= bound, f"the deleted value was served {last:.2f} s after the delete"
    finally:
        for peer in peers:
            peer.close()
        server.stop()
