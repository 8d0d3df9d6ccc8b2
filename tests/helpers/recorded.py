"""A recorded session: a real engine on a scripted probe and clock, crossing tiers, written
to a real history file through `HistoryStore` (frames and events as a live run keeps them)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.scripted import FakeClock, MiB, ScriptedProbe
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler
from tui_perf.store.frames import FramePolicy
from tui_perf.store.history import HistoryStore

#: 2026-11-23 10:00:00 UTC: the session's first second
START = 1_795_428_000.0
#: the script: (seconds, RSS) — NORMAL, ELEVATED from 120 s, HIGH from 180 s, NORMAL again
SCRIPT = ((120, 100 * MiB), (60, 720 * MiB), (30, 900 * MiB), (90, 100 * MiB))


async def record(path: Path, *, pid: int = 4242, every_s: float = 5.0) -> int:
    """Write the session; returns how many snapshots the engine made."""
    probe = ScriptedProbe(rss=100 * MiB, pid=pid)
    for seconds, rss in SCRIPT:
        probe.script([rss] * seconds)
    clock = FakeClock(START)
    sampler = Sampler(probe, clock=clock, wall=clock, budget=1000 * MiB)
    engine = Engine(EngineConfig(), sampler=sampler, registry=Registry(), clock=clock, wall=clock)
    ticks = sum(s for s, _ in SCRIPT)
    async with await HistoryStore.open(path, frames=FramePolicy(every_s=every_s)) as store:
        for _ in range(ticks):
            clock.advance(1.0)
            await store.add_snapshot(engine.tick())
    return ticks
