"""The agent, with real processes and real sockets: modes, tokens, commands, abuse."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT, _free_port
from tests.helpers.scripted import MiB, ScriptedProbe
from tui_perf.agent.client import RemoteSource, list_agents
from tui_perf.agent.protocol import encode
from tui_perf.agent.server import Agent, runtime_dir, socket_path_for
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler
from tui_perf.model.errors import ConfigError
from tui_perf.model.net import is_loopback
from tui_perf.model.snapshot import Snapshot


def engine(interval: float = 0.05) -> Engine:
    sampler = Sampler(ScriptedProbe(rss=100 * MiB), budget=1000 * MiB)
    return Engine(EngineConfig(interval=interval), sampler=sampler, registry=Registry())


@pytest.fixture
def runtime(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = tmp_path_factory.mktemp("run")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    return base


class Target:
    """A child process running the agent and a workload."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.agent_target", "0.05"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        assert line.startswith("ready "), line + self.stderr()
        self.address = line.split(" ", 1)[1].strip()

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode()

    def finish(self) -> tuple[int, str]:
        assert self.proc.stdin is not None
        if self.proc.poll() is None:
            self.proc.stdin.close()
        code = self.proc.wait(15)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read().decode()


@pytest.fixture
def target(runtime: Path) -> Iterator[Target]:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PYTHONPATH": str(ROOT)}
    t = Target(env)
    yield t
    if t.proc.poll() is None:
        t.proc.kill()
        t.proc.wait()


class Session:
    """A RemoteSource consumed by a task, as the dashboard does; commands go beside it."""

    def __init__(self, source: RemoteSource) -> None:
        self.source = source
        self.snaps: list[Snapshot] = []
        self._arrived = asyncio.Event()

    async def __aenter__(self) -> Session:
        self._task = asyncio.create_task(self._consume())
        return self

    async def _consume(self) -> None:
        async for snap in self.source.snapshots():
            self.snaps.append(snap)
            self._arrived.set()

    async def wait_for(self, count: int) -> list[Snapshot]:
        while len(self.snaps) < count:
            self._arrived.clear()
            await asyncio.wait_for(self._arrived.wait(), 15)
        return self.snaps

    async def __aexit__(self, *exc: object) -> None:
        await self.source.close()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


# -- modes and tokens ------------------------------------------------------------------


def test_the_runtime_directory_is_0700_and_the_socket_0600(runtime: Path) -> None:
    agent = Agent(engine()).start()
    try:
        assert stat.S_IMODE(runtime_dir().stat().st_mode) == 0o700
        assert agent.socket_path == socket_path_for(os.getpid())
        assert stat.S_IMODE(agent.socket_path.stat().st_mode) == 0o600
        assert (os.getpid(), agent.socket_path, True) in list_agents()
    finally:
        agent.stop()
    assert not socket_path_for(os.getpid()).exists()  # stop() removes the socket


def _raw_hello(port: int, token: str | None) -> list[dict[str, object]]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        reader = s.makefile("rb")
        hello = json.loads(reader.readline())
        assert hello["auth"] is True
        s.sendall(encode({"type": "hello", "version": 1, "token": token}))
        return [json.loads(reader.readline()) for _ in range(1)]


def test_tcp_refuses_a_missing_or_wrong_token_and_serves_the_right_one() -> None:
    agent = Agent(engine(), tcp=("127.0.0.1", 0), token="s3cret-token").start()
    try:
        port = agent.tcp_address[1]  # type: ignore[index]
        assert _raw_hello(port, None) == [{"type": "error", "error": "wrong or missing token"}]
        assert _raw_hello(port, "guess") == [{"type": "error", "error": "wrong or missing token"}]
        (message,) = _raw_hello(port, "s3cret-token")
        assert message["type"] == "welcome"  # who the target is, only once authenticated
        assert message["pid"] == os.getpid()
    finally:
        agent.stop()


def test_tcp_always_has_a_token_and_other_hosts_need_asking() -> None:
    agent = Agent(engine(), tcp=("127.0.0.1", 0))
    assert agent.token and len(agent.token) >= 24
    agent.stop()
    with pytest.raises(ConfigError, match="not loopback"):
        Agent(engine(), tcp=("0.0.0.0", 0))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback_takes_addresses_and_localhost_never_a_name_to_look_up(
    host: str, loopback: bool
) -> None:
    assert is_loopback(host) is loopback


# -- a real target ---------------------------------------------------------------------


def test_attach_detach_reattach_and_commands_take_effect(target: Target) -> None:
    async def session() -> tuple[list[Snapshot], dict[str, object]]:
        async with Session(RemoteSource(target.address)) as session:
            snaps = list(await session.wait_for(2))
            reply = await session.source.command("emergency_cleanup")
        return snaps, reply

    first, reply = asyncio.run(session())
    assert first[0].pid == target.proc.pid and first[-1].seq > first[0].seq
    assert [r["name"] for r in reply["rungs"]][:2] == ["flush caches", "full collection"]
    again, _ = asyncio.run(session())  # detach and attach again: the agent serves on
    assert again[-1].seq > first[-1].seq
    cache = next(c for c in again[-1].caches if c.name == "target.square")
    assert cache.tiers[0].hits > 0
    code, err = target.finish()
    assert code == 0 and "Exception in thread" not in err


def test_a_cleanup_report_comes_back_in_the_next_snapshots(target: Target) -> None:
    async def session() -> list[Snapshot]:
        async with Session(RemoteSource(target.address)) as session:
            await session.wait_for(1)
            await session.source.command("emergency_cleanup")
            for n in range(2, 100):  # the report rides on a snapshot after the command
                if any(s.cleanups for s in await session.wait_for(n)):
                    break
            # a copy: more snapshots may arrive while the session closes
            return list(session.snaps)

    reports = [c for s in asyncio.run(session()) for c in s.cleanups]
    assert [c.trigger for c in reports] == ["manual"]


def test_a_target_killed_with_sigkill_is_reported_as_exited(target: Target) -> None:
    statuses: list[str] = []

    async def session() -> None:
        source = RemoteSource(target.address, child=target.proc)  # type: ignore[arg-type]
        source.on_status = statuses.append
        async for _ in source.snapshots():
            target.proc.send_signal(signal.SIGKILL)

    asyncio.run(asyncio.wait_for(session(), 30))
    assert statuses[-1] == "target exited (code -9)"


def test_run_starts_the_program_with_the_agent_and_keeps_history(
    tmp_path: Path, runtime: Path
) -> None:
    script = tmp_path / "app.py"
    script.write_text(
        "import time\nfrom tui_perf import cached\n"
        "@cached(maxsize=8)\ndef f(x):\n    return [x] * 1000\n"
        "keep = []\nfor i in range(40):\n    keep.append(bytearray(256 * 1024)); f(i % 4)\n"
        "    time.sleep(0.01)\nprint('bye')\nraise SystemExit(4)\n"
    )
    history = tmp_path / "h.db"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "XDG_STATE_HOME": str(tmp_path)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_perf",
            "run",
            "--no-dashboard",
            "--interval",
            "0.05",
            "--history",
            str(history),
            str(script),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert result.returncode == 4, result.stderr
    assert "target exited (code 4)" in result.stderr
    log = next((tmp_path / "tui-perf" / "logs").glob("run-*-app.log"))
    assert log.read_text().strip() == "bye"  # the program's output went to the log
    import sqlite3

    with sqlite3.connect(history) as db:
        assert db.execute("SELECT COUNT(*) FROM samples").fetchone()[0] >= 3


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "--no-dashboard", "missing.py"], "no script at missing.py"),
        (["attach", "/nonexistent/agent.sock"], "no agent socket at"),
        (["attach", "99999999"], "no agent for pid"),
        (["watch", "--pid", str(2**22 + 99)], "no process with pid"),
        (["attach", "localhost:notaport"], "neither a socket path nor HOST:PORT"),
    ],
)
def test_agent_commands_refuse_bad_input_in_one_line(args: list[str], needle: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui_perf", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    assert needle in result.stderr and "Traceback" not in result.stderr


# -- abuse -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def abused(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    base = tmp_path_factory.mktemp("abuse-run")
    env = {**os.environ, "XDG_RUNTIME_DIR": str(base), "PYTHONPATH": str(ROOT)}
    t = Target(env)
    yield t
    if t.proc.poll() is None:
        t.proc.kill()
        t.proc.wait()


FRAMES = st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda n: b"x" * n, st.integers(70_000, 200_000)),  # over the frame limit
    st.builds(lambda d: b"[" * d + b"]" * d, st.integers(1, 5000)),  # deep nesting
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    ).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {
            "type": st.just("command"),
            "id": st.one_of(st.integers(), st.text(), st.none()),
            "name": st.sampled_from(
                ["gc_collect", "census", "explode", "set_gc_strategy", "set_adaptive"]
            ),
            "args": st.one_of(
                st.dictionaries(st.text(max_size=6), st.integers() | st.text()),
                st.lists(st.integers()),
                st.integers(),
            ),
        }
    ).map(lambda d: json.dumps(d).encode()),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(frames=st.lists(FRAMES, min_size=1, max_size=4), say_hello=st.booleans())
def test_hostile_frames_never_reach_the_host(
    abused: Target, frames: list[bytes], say_hello: bool
) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(abused.address)
        s.recv(65536)  # the agent's hello
        if say_hello:
            s.sendall(encode({"type": "hello", "version": 1}))
        try:
            for frame in frames:
                s.sendall(frame + b"\n")
            # A reply, an error or the close if the agent has one; a blank line has none, and
            # waiting out the connect timeout for it cost 5 s a time. A host these frames
            # broke is seen by the next example and by the test after this one.
            s.settimeout(0.5)
            s.recv(65536)
        except OSError:
            pass  # the agent may close a connection that breaks the protocol
    assert abused.proc.poll() is None


def test_after_the_abuse_the_host_still_works_and_saw_no_exception(abused: Target) -> None:
    async def check() -> tuple[list[Snapshot], dict[str, object]]:
        async with Session(RemoteSource(abused.address)) as session:
            snaps = list(await session.wait_for(3))
            reply = await session.source.command("gc_collect")
        return snaps, reply

    snaps, reply = asyncio.run(check())
    hits = [next(c for c in s.caches if c.name == "target.square").tiers[0].hits for s in snaps]
    assert hits[-1] > hits[0]  # the host's workload kept running
    assert reply["collected"] >= 0
    code, err = abused.finish()
    assert code == 0 and "Exception in thread" not in err and "Traceback" not in err


def test_a_client_that_never_reads_holds_one_frame_and_blocks_nobody() -> None:
    eng = engine(interval=0.005)
    agent = Agent(eng, tcp=("127.0.0.1", 0), token="t" * 24, send_timeout=0.5).start()
    ticks = threading.Event()
    count = [0]

    def tick(_: Snapshot) -> None:
        count[0] += 1
        if count[0] >= 400:
            ticks.set()

    eng.subscribe(tick)
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(agent.tcp_address)  # type: ignore[arg-type]
    stuck.recv(4096)
    stuck.sendall(encode({"type": "hello", "version": 1, "token": "t" * 24}))
    try:
        assert ticks.wait(30)
        # Latest wins: whatever the stuck client has not taken is at most one frame.
        assert all(client.pending <= 1 for client in agent.clients)

        async def fresh() -> list[Snapshot]:
            async with Session(
                RemoteSource(
                    f"127.0.0.1:{agent.tcp_address[1]}",  # type: ignore[index]
                    token="t" * 24,
                )
            ) as session:
                return list(await session.wait_for(5))

        snaps = asyncio.run(fresh())  # another client is served, and promptly
        assert snaps[-1].seq > count[0] - 50
    finally:
        stuck.close()
        agent.stop()


def test_prometheus_metrics_from_the_latest_snapshot() -> None:
    pytest.importorskip("prometheus_client")
    from tui_perf.agent.exporter import serve_metrics
    from tui_perf.caches.multilevel import MultiLevelCache

    eng = engine()
    cache = MultiLevelCache("metrics.cache", registry=eng.registry)
    cache.set("k", 1)
    cache.get("k")
    eng.tick()
    port = _free_port()
    serve_metrics(eng, port)
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "tui_perf_resident_memory_bytes 1.048576e+08" in text
    assert 'tui_perf_cache_hits_total{cache="metrics.cache",tier="L1"} 1.0' in text
    assert 'tui_perf_memory_tier{tier="NORMAL"} 1.0' in text


def test_run_takes_a_module_like_python_m(tmp_path: Path, runtime: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "job.py").write_text(
        "import sys, time\nfor _ in range(20):\n    time.sleep(0.01)\n"
        "print('args', sys.argv[1:])\nraise SystemExit(0)\n"
    )
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_STATE_HOME": str(tmp_path),
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_perf",
            "run",
            "--no-dashboard",
            "--interval",
            "0.05",
            "--history",
            str(tmp_path / "h.db"),
            "-m",
            "pkg.job",
            "--flag",
            "x",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    log = next((tmp_path / "tui-perf" / "logs").glob("run-*-job.log"))
    assert log.read_text().strip() == "args ['--flag', 'x']"


@pytest.mark.parametrize(
    ("argv", "own", "program"),
    [
        (["app.py", "--interval", "5"], [], ["app.py", "--interval", "5"]),
        (["--interval", "0.5", "app.py", "-v"], ["--interval", "0.5"], ["app.py", "-v"]),
        (
            ["--no-dashboard", "--history=h.db", "-m", "pkg", "--no-dashboard"],
            ["--no-dashboard", "--history=h.db"],
            ["-m", "pkg", "--no-dashboard"],
        ),
        (["--", "--weird-name.py"], [], ["--weird-name.py"]),
    ],
)
def test_run_options_end_where_the_program_begins(
    argv: list[str], own: list[str], program: list[str]
) -> None:
    from tui_perf.cli.agent import split_run_argv

    assert split_run_argv(argv) == (own, program)


def test_a_slow_client_gets_every_snapshot_that_carries_a_report() -> None:
    # Latest wins for plain snapshots, but one carrying events or cleanups is never
    # overwritten unsent (seen lost: a cleanup report never reached a busy dashboard).
    from tui_perf.agent.connection import Connection

    ours, theirs = socket.socketpair()
    theirs.settimeout(5)
    client = Connection(ours, needs_token=False, now=0.0)
    client.ready = True
    for frame, notable in [(b"a\n", False), (b"report\n", True), (b"b\n", False), (b"c\n", False)]:
        client.offer(frame, notable)
    assert client.flush(now=0.0) is False  # all of it fitted in the socket's buffer
    lines = theirs.makefile("rb")
    assert json.loads(lines.readline())["type"] == "hello"
    assert [lines.readline(), lines.readline()] == [b"report\n", b"c\n"]
    client.close()
    theirs.close()
