"""The agent under hostile peers and strict scrapers, against a live agent in a child process."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, _free_port
from tests.helpers.scripted import MiB, ScriptedProbe
from tui_perf import capabilities
from tui_perf.agent.client import RemoteSource
from tui_perf.agent.protocol import encode
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.engine.commands import COMMANDS
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler
from tui_perf.model.errors import ConfigError

TOKEN = "a-token-for-tests-only"


class TcpTarget:
    """The agent test host, serving TCP on loopback with a token."""

    def __init__(self, tmp: Path) -> None:
        self.progress = tmp / "progress"
        env = {
            **os.environ,
            "XDG_RUNTIME_DIR": str(tmp),
            "PYTHONPATH": str(ROOT),
            "TARGET_TCP_TOKEN": TOKEN,
            "TARGET_PROGRESS_FILE": str(self.progress),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.agent_target", "0.05", "--secret=hunter2"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        assert line.startswith("ready "), line
        self.url = line.split(" ", 1)[1].strip()
        host, port = self.url.rsplit(":", 1)
        self.address = (host, int(port))

    def threads(self) -> int:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(next(x for x in status.splitlines() if x.startswith("Threads:")).split()[1])

    def rounds(self) -> int:
        try:
            return int(self.progress.read_text() or 0)
        except (OSError, ValueError):
            return 0

    def finish(self) -> str:
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        self.proc.wait(15)
        return self.proc.stderr.read().decode()


@pytest.fixture
def tcp_target(tmp_path: Path) -> Iterator[TcpTarget]:
    t = TcpTarget(tmp_path)
    yield t
    if t.proc.poll() is None:
        t.proc.kill()
        t.proc.wait()


def _first_frame(address: tuple[str, int]) -> dict[str, object]:
    with socket.create_connection(address, timeout=5) as s:
        data = b""
        while not data.endswith(b"\n"):
            data += s.recv(4096)
    frame: dict[str, object] = json.loads(data)
    return frame


def test_before_authentication_the_agent_reveals_only_its_protocol(tcp_target: TcpTarget) -> None:
    """Reproduced: the hello carried the pid and the full argv (secrets included)."""
    hello = _first_frame(tcp_target.address)
    assert hello == {"type": "hello", "version": 1, "auth": True}

    async def welcome() -> int | None:
        source = RemoteSource(tcp_target.url, token=TOKEN, reconnect=False)
        async for _ in source.snapshots():
            break
        await source.close()
        return source.peer_pid

    assert asyncio.run(welcome()) == tcp_target.proc.pid  # after the token, it says who it is


def test_500_silent_connections_cost_the_host_a_bounded_number_of_threads(
    tcp_target: TcpTarget,
) -> None:
    rounds_before = tcp_target.rounds()
    socks = []
    try:
        for _ in range(500):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(tcp_target.address)
            socks.append(s)
        deadline = time.monotonic() + 10
        worst = 0
        while time.monotonic() < deadline:  # watch the host while the flood is accepted
            worst = max(worst, tcp_target.threads())
            if tcp_target.rounds() > rounds_before + 200:
                break
            time.sleep(0.02)
        # main, stdin reader, engine, accept, and two per connection for at most 8 silent ones
        assert worst <= 4 + 2 * 8 + 4, worst

        async def legit() -> int:
            source = RemoteSource(tcp_target.url, token=TOKEN, reconnect=False)
            seqs = []
            async for snap in source.snapshots():
                seqs.append(snap.seq)
                if len(seqs) == 2:
                    break
            await source.close()
            return len(seqs)

        assert asyncio.run(asyncio.wait_for(legit(), 15)) == 2  # still served, promptly
        assert tcp_target.rounds() > rounds_before  # and the workload kept going
    finally:
        for s in socks:
            s.close()
    assert "Traceback" not in tcp_target.finish()


def test_bad_arguments_to_every_command_get_an_error_reply_and_nothing_on_stderr(
    tcp_target: TcpTarget,
) -> None:
    bad = {"generation": True, "limit": None, "name": 7, "on": "yes", "quick": 1, "filter": 3}
    with socket.create_connection(tcp_target.address, timeout=10) as s:
        f = s.makefile("rwb")
        f.readline()  # hello
        f.write(encode({"type": "hello", "version": 1, "token": TOKEN}))
        f.flush()
        replies = {}
        for i, name in enumerate(COMMANDS.names()):
            command = COMMANDS.lookup(name)
            args = {a.name: bad.get(a.name, [1]) for a in command.args} or {"bogus": 1}
            f.write(encode({"type": "command", "id": i, "name": name, "args": args}))
            f.flush()
            while True:
                msg = json.loads(f.readline())
                if msg.get("type") == "reply" and msg.get("id") == i:
                    replies[name] = msg
                    break
    assert replies and all(not r["ok"] for r in replies.values()), replies
    assert all("argument" in r["error"] for r in replies.values()), replies
    assert tcp_target.finish() == ""  # the host's stderr stayed empty


def _threads() -> set[int]:
    return {t.ident or 0 for t in threading.enumerate()}


def test_a_busy_prometheus_port_is_refused_and_nothing_is_left_running() -> None:
    pytest.importorskip("prometheus_client")
    import tui_perf.agent

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        before = _threads()
        with pytest.raises(ConfigError, match=f"prometheus_port {port}"):
            tui_perf.agent.start(prometheus_port=port, socket_path=f"/tmp/tp-{port}.sock")
        assert _threads() == before
        assert not Path(f"/tmp/tp-{port}.sock").exists()


def _engine_with_caches() -> Engine:
    sampler = Sampler(ScriptedProbe(rss=100 * MiB), budget=1000 * MiB)
    eng = Engine(EngineConfig(), sampler=sampler, registry=Registry())
    for _ in range(2):  # two caches with one name: their series must not collide
        cache = MultiLevelCache("pages", registry=eng.registry)
        cache.set("k", 1)
        cache.get("k")
        eng.__dict__.setdefault("keep", []).append(cache)
    capabilities.attach(eng)  # the advice section too: one gauge per rule
    eng.tick()
    return eng


def _scrape(eng: Engine) -> str:
    from tui_perf.agent.exporter import serve_metrics

    port = _free_port()
    serve_metrics(eng, port)
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def test_the_scrape_parses_and_every_series_is_unique() -> None:
    pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    text = _scrape(_engine_with_caches())
    seen = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in seen, key
            seen.add(key)
    assert ("tui_perf_memory_tier", (("tier", "NORMAL"),)) in seen  # a state set
    assert ("tui_perf_advice_severity", (("rule", "gc-time-share"),)) in seen
    assert not any(dict(labels).get("quantile") for _, labels in seen)


def test_promtool_check_metrics_finds_nothing() -> None:
    pytest.importorskip("prometheus_client")
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (.ci/run installs Debian's prometheus)")
    text = _scrape(_engine_with_caches())
    out = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0 and out.stdout.strip() == "" and out.stderr.strip() == "", (
        out.stdout + out.stderr
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_the_project_creates_are_private(tmp_path: Path) -> None:
    """History (and its -wal/-shm), cache files, run logs and their folders."""
    state, data = tmp_path / "state", tmp_path / "data"
    env = {
        **os.environ,
        "XDG_STATE_HOME": str(state),
        "XDG_DATA_HOME": str(data),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "PYTHONPATH": str(ROOT),
    }
    script = tmp_path / "app.py"
    script.write_text(
        "from tui_perf import MultiLevelCache, SQLiteTier\n"
        f"c = MultiLevelCache('x', l2=SQLiteTier({str(tmp_path / 'cache.db')!r}))\n"
        "c.set('k', 1)\nprint('ok')\n"
    )
    old = os.umask(0o022)  # a usual umask: files would be 0644 without care
    try:
        out = subprocess.run(
            [sys.executable, "-m", "tui_perf", "run", "--no-dashboard", str(script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    finally:
        os.umask(old)
    assert out.returncode == 0, out.stderr
    history = data / "tui-perf" / "history.db"
    logs = list((state / "tui-perf" / "logs").glob("run-*.log"))
    assert history.exists() and logs
    assert _mode(data / "tui-perf") == 0o700 and _mode(state / "tui-perf" / "logs") == 0o700
    for f in [history, *history.parent.glob("history.db-*"), *logs, tmp_path / "cache.db"]:
        assert _mode(f) == 0o600, f
