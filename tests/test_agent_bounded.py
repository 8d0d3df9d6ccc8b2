"""The agent's server costs a constant whatever its peers do (issue 30, item 3).

A real agent in this process over real loopback sockets; every assertion is a count (threads,
fds, frames), waited for with a deadline, never a sleep of a guessed length.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.helpers.scripted import MiB, ScriptedProbe
from tui_perf.agent.protocol import encode
from tui_perf.agent.server import Agent
from tui_perf.engine.commands import COMMANDS
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler

TOKEN = "t" * 24


def _engine(interval: float = 0.02) -> Engine:
    sampler = Sampler(ScriptedProbe(rss=100 * MiB), budget=1000 * MiB)
    return Engine(EngineConfig(interval=interval), sampler=sampler, registry=Registry())


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def serve() -> Iterator[Callable[..., Agent]]:
    agents: list[Agent] = []

    def make(**options: Any) -> Agent:
        agent = Agent(_engine(), tcp=("127.0.0.1", 0), token=TOKEN, **options).start()
        agents.append(agent)
        return agent

    yield make
    for agent in agents:
        agent.stop()


def _connect(agent: Agent) -> socket.socket:
    sock = socket.create_connection(agent.tcp_address, timeout=5)  # type: ignore[arg-type]
    return sock


def _frames(sock: socket.socket) -> Iterator[dict[str, Any]]:
    for line in sock.makefile("rb"):
        yield json.loads(line)


def test_200_idle_connections_add_no_thread_and_hold_few_fds(
    serve: Callable[..., Agent],
) -> None:
    agent = serve(max_unauthenticated=8)
    threads, fds = threading.active_count(), _fds()
    peers = []
    try:
        for _ in range(200):
            peer = socket.socket()
            peer.setblocking(False)
            peer.connect_ex(agent.tcp_address)  # type: ignore[arg-type]
            peers.append(peer)
        # All accepted: 192 evicted (the oldest silent ones) and 8 held.
        assert _until(lambda: agent.refused >= 192), agent.refused
        assert threading.active_count() == threads
        assert _until(lambda: _fds() - fds - len(peers) <= 8)  # the server's side: 8 sockets
        assert len(agent.clients) == 8
    finally:
        for peer in peers:
            peer.close()


def test_a_peer_sending_blank_lines_is_dropped_after_the_hello_timeout(
    serve: Callable[..., Agent],
) -> None:
    agent = serve(hello_timeout=0.3)
    with _connect(agent) as peer:
        peer.settimeout(0.05)
        received = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                peer.sendall(b"\n")  # bytes, but never a hello: not a sign of life
                chunk = peer.recv(4096)
            except TimeoutError:
                continue
            except OSError:  # reset once closed: dropped all the same
                break
            if not chunk:
                break
            received += chunk
        else:
            pytest.fail("a peer sending only blank lines was never dropped")
    assert b"no hello within the time allowed" in received
    assert agent.clients == []


def test_an_evicted_peer_is_closed_and_its_fd_freed_at_once(serve: Callable[..., Agent]) -> None:
    agent = serve(max_unauthenticated=2, hello_timeout=60)
    first = _connect(agent)
    assert json.loads(first.makefile("rb").readline())["type"] == "hello"
    fds = _fds()
    others = [_connect(agent) for _ in range(2)]  # the second newcomer evicts `first`
    try:
        assert first.recv(4096) == b""  # closed by the agent, not left waiting
        # Ours: the two newcomers; the agent's: two sockets, `first`'s server side gone.
        assert _until(lambda: _fds() - fds == 2 + 2 - 1), _fds() - fds
        assert _until(lambda: len(agent.clients) == 2) and agent.refused == 1
    finally:
        first.close()
        for sock in others:
            sock.close()


@pytest.fixture
def slow_command() -> Iterator[threading.Event]:
    release = threading.Event()

    def slow(engine: Engine) -> dict[str, Any]:
        release.wait(30)
        return {"slow": True}

    COMMANDS.register("test_slow", "A slow command", needs_local=False)(slow)
    yield release
    release.set()
    COMMANDS.remove("test_slow")


def _authenticated(agent: Agent) -> tuple[socket.socket, Iterator[dict[str, Any]]]:
    sock = _connect(agent)
    frames = _frames(sock)
    assert next(frames)["type"] == "hello"
    sock.sendall(encode({"type": "hello", "version": 1, "token": TOKEN}))
    assert next(frames)["type"] == "welcome"
    return sock, frames


def test_a_slow_command_does_not_stall_snapshots_to_another_client(
    serve: Callable[..., Agent], slow_command: threading.Event
) -> None:
    agent = serve()
    asker, asker_frames = _authenticated(agent)
    watcher, watcher_frames = _authenticated(agent)
    try:
        asker.sendall(encode({"type": "command", "id": 1, "name": "test_slow", "args": {}}))
        seqs = []
        for frame in watcher_frames:  # the command is still running all this while
            if frame["type"] == "snapshot":
                seqs.append(frame["data"]["seq"])
            if len(seqs) == 20:
                break
        assert not slow_command.is_set() and seqs == sorted(set(seqs))
        slow_command.set()
        reply = next(f for f in asker_frames if f["type"] == "reply")
        assert reply == {"type": "reply", "id": 1, "ok": True, "result": {"slow": True}}
    finally:
        asker.close()
        watcher.close()
