"""The profiling commands and snapshot section: on a local engine, and through a real agent."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers.scripted import MiB, ScriptedProbe
from tests.test_profile_tree import parse_folded, validate_speedscope
from tui_perf import capabilities
from tui_perf.agent.client import RemoteSource
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import Snapshot
from tui_perf.profile.commands import ProfileState
from tui_perf.profile.timings import Timings, profile


def local_engine() -> tuple[Engine, Timings]:
    sampler = Sampler(ScriptedProbe(rss=100 * MiB), budget=1000 * MiB)
    engine = Engine(EngineConfig(), sampler=sampler, registry=Registry())
    timings = Timings()
    engine.extension("profile", lambda e: ProfileState(e, timings=timings, alloc_every=0))
    capabilities.attach(engine)
    return engine, timings


@pytest.fixture
def untraced() -> Iterator[None]:
    was = tracemalloc.is_tracing()
    yield
    if tracemalloc.is_tracing() and not was:
        tracemalloc.stop()


def test_the_section_appears_with_timings_and_round_trips() -> None:
    engine, timings = local_engine()
    assert engine.tick().profile is None  # nothing to show yet: no empty section

    @profile("step", timings=timings)
    def step() -> None:
        return None

    step()
    snap = engine.tick()
    assert snap.profile is not None and [t.name for t in snap.profile.timings] == ["step"]
    assert Snapshot.from_dict(json.loads(json.dumps(snap.to_dict()))) == snap


def test_a_version_1_snapshot_still_reads() -> None:
    engine, _ = local_engine()
    data = engine.tick().to_dict()
    data.pop("profile")
    data["format_version"] = 1
    assert Snapshot.from_dict(data).profile is None


def test_allocation_growth_since_a_mark_names_the_line(untraced: None) -> None:
    engine, _ = local_engine()
    assert engine.command("alloc_start", frames=5)["tracing"]
    engine.command("alloc_mark")
    grown = [bytearray(100_000) for _ in range(20)]  # the line that grows
    line = sys._getframe().f_lineno - 1
    snap = engine.tick()
    assert snap.profile is not None and snap.profile.alloc is not None
    growth = snap.profile.alloc.growth
    site = next(g for g in growth if g.file == __file__ and g.line == line)
    assert site.size_diff >= 2_000_000 and site.count_diff >= 20
    assert snap.profile.alloc.traceback  # the biggest site's traceback
    assert len(grown) == 20
    assert engine.command("alloc_stop")["stopped"] is True
    assert not tracemalloc.is_tracing()


def test_alloc_stop_leaves_someone_elses_tracing_on(untraced: None) -> None:
    engine, _ = local_engine()
    tracemalloc.start()
    try:
        assert engine.command("alloc_start")["started"] is False
        assert engine.command("alloc_stop")["stopped"] is False
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


def test_export_writes_private_files_and_refuses_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    engine, _ = local_engine()
    engine.command("profile_start", rate=200)
    state = engine.extension("profile", ProfileState)
    while state.profiler.tree.samples < 5:
        sum(range(10_000))  # something to sample in this thread
    engine.command("profile_stop")
    default = engine.command("profile_export", format="speedscope")
    path = Path(default["path"])
    assert path.parent == tmp_path / "data" / "tui-perf" / "profiles"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    validate_speedscope(json.loads(path.read_text()))
    folded = engine.command("profile_export", format="folded")
    assert parse_folded(Path(folded["path"]).read_text())
    with pytest.raises(ConfigError, match="'format' must be one of folded, speedscope"):
        engine.command("profile_export", format="svg")
    with pytest.raises(ConfigError, match="takes no path"):  # tests/test_profile_export_confined
        engine.command("profile_export", path=str(tmp_path))
    with pytest.raises(ConfigError, match="'rate' must be at most 1000"):
        engine.command("profile_start", rate=5000)


# -- through the agent, in a real child process ----------------------------------------------


@pytest.fixture
def target(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.profile_target"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    assert line.startswith("ready "), line
    yield proc, line.split(" ", 1)[1].strip()
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_agent_commands_profile_a_real_child(
    target: tuple[subprocess.Popen[bytes], str], untraced: None
) -> None:
    proc, address = target

    async def session() -> tuple[Snapshot, dict[str, object], Snapshot]:
        source = RemoteSource(address, reconnect=False)
        snaps = source.snapshots()
        await asyncio.wait_for(snaps.__anext__(), 15)
        started = await source.command("profile_start", rate=200)
        assert started["running"] is True
        await source.command("alloc_start", frames=3)
        await source.command("alloc_mark")
        while True:  # snapshots arrive every 50 ms; the sampler fills the table
            snap = await asyncio.wait_for(snaps.__anext__(), 15)
            p = snap.profile
            if p and p.samples >= 40 and p.alloc is not None and p.alloc.marked_at:
                break
        exported = await source.command("profile_export", format="folded", inline=True)
        stopped = await source.command("profile_stop")
        assert stopped["running"] is False
        await source.command("alloc_stop")
        while True:  # snapshots queued before the stop still say running
            after = await asyncio.wait_for(snaps.__anext__(), 15)
            if after.profile is not None and not after.profile.running:
                break
        with pytest.raises(Exception, match="'frames' must be at most 100"):
            await source.command("alloc_start", frames=1000)
        await source.close()
        return snap, exported, after

    snap, exported, after = asyncio.run(session())
    p = snap.profile
    assert p is not None and p.running and p.clock == "cpu"
    assert 0 < p.cost_fraction < 0.2
    top = {f.function for f in p.functions[:5]}
    assert "hot_loop" in top, p.functions[:5]
    (timing,) = [t for t in p.timings if t.name == "target.handle"]
    assert timing.calls > 0 and timing.errors == 0
    assert p.alloc is not None and p.alloc.traced > 0
    stacks = parse_folded(str(exported["text"]))
    assert any(s[0] == "MainThread" and s[-1].startswith("hot_loop (") for s in stacks)
    assert after.profile is not None and not after.profile.running
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(15) == 0
    assert proc.stderr is not None and proc.stderr.read() == b""  # nothing written unasked


def test_tui_perf_profile_pid_records_through_the_agent(
    target: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    proc, address = target
    out = tmp_path / "remote.folded"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(Path(address).parent.parent)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tui_perf",
            "profile",
            "--pid",
            str(proc.pid),
            "--duration",
            "0.5",
            "--rate",
            "200",
            "-o",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"folded written to {out}" in done.stderr
    stacks = parse_folded(out.read_text())
    assert any(s[-1].startswith("hot_loop (") for s in stacks)
