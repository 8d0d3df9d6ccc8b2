"""Replay of a 24-hour history file: how long until the first frame, and how long a jump takes.

The file is generated: a real engine (three caches, a pool, the GC controller, advice and
profile sections) ticked at 1 Hz for 24 hours of a scripted clock, written through
`HistoryStore` as a live run writes it, with no retention applied (the worst case: every
5-second frame of the day kept). Every two hours the process climbs through ELEVATED to
HIGH and back, so the day has events to jump between.

Measured in a real terminal (tmux, 120x40), as a person sees it: from starting
`tui-perf replay FILE` until the timeline's "frame N/M" line is on screen, and from pressing
`[` (previous event) until that line names another frame, for every event of the day.
Beside it, in-process: opening the `Recording` and reading the window at a random cursor
(cold, the frames decoded), without the app.
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Comparison

BIN = Path(sys.executable).parent
MiB = 1 << 20
DAY_S = 24 * 3600
#: 2026-11-23 00:00 UTC
START = 1_795_392_000.0


def day_rss(second: int) -> int:
    """RSS over a two-hour cycle: 100 minutes calm, then up through ELEVATED to HIGH, down."""
    t = second % 7200
    calm = 300 + (second * 7919) % 40  # a little movement, deterministic
    if t < 6000:
        return calm * MiB
    if t < 6600:  # ten minutes climbing to 750 MiB (ELEVATED from 700)
        return int(calm + (750 - calm) * (t - 6000) / 600) * MiB
    if t < 6900:  # five minutes at 900 MiB: HIGH
        return 900 * MiB
    return 320 * MiB


async def generate(path: Path, seconds: int = DAY_S) -> dict[str, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.helpers.scripted import FakeClock, ScriptedProbe
    from tui_perf import capabilities
    from tui_perf.caches.memory_tier import MemoryTier
    from tui_perf.caches.multilevel import MultiLevelCache
    from tui_perf.engine.core import Engine, EngineConfig
    from tui_perf.engine.registry import Registry
    from tui_perf.engine.sampler import Sampler
    from tui_perf.pools.objects import ObjectPool
    from tui_perf.store.history import HistoryStore

    probe = ScriptedProbe(rss=300 * MiB, pid=4242)
    probe.script([day_rss(s) for s in range(seconds)])
    clock = FakeClock(START)
    sampler = Sampler(probe, clock=clock, wall=clock, budget=1000 * MiB)
    engine = Engine(EngineConfig(), sampler=sampler, registry=Registry(), clock=clock, wall=clock)
    caches = [
        MultiLevelCache(name, l1=MemoryTier("lru", 512), registry=engine.registry)
        for name in ("users", "pages", "queries")
    ]
    pool = ObjectPool(dict, name="buffers", registry=engine.registry)
    capabilities.attach(engine)
    rng = random.Random(7)
    t0 = time.perf_counter()
    async with await HistoryStore.open(path, batch_rows=5000) as store:
        for s in range(seconds):
            clock.advance(1.0)
            for cache in caches:
                for _ in range(5):
                    k = int(rng.paretovariate(1.2)) % 2000
                    if cache.get(k) is None:
                        cache.set(k, k)
            pool.put(pool.get())
            await store.add_snapshot(engine.tick())
            if s % 3600 == 0:
                print(f"  generating: hour {s // 3600 + 1} of {seconds // 3600}", flush=True)
    import sqlite3

    with sqlite3.connect(path) as db:
        frames, body = db.execute("SELECT COUNT(*), AVG(LENGTH(body)) FROM frames").fetchone()
        samples = db.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        events = db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    return {
        "generate_s": time.perf_counter() - t0,
        "samples": samples,
        "frames": frames,
        "events": events,
        "frame_bytes_mean": body,
        "file_mib": path.stat().st_size / MiB,
    }


def in_process(path: Path, jumps: int = 30) -> dict[str, float]:
    """Open and random cold reads of the window, without the app."""
    from tui_perf.dashboard.replay import ReplaySource
    from tui_perf.store.recording import Recording
    from tui_perf.views.replay import timeline_cells

    t0 = time.perf_counter()
    rec = Recording.open(path)
    source = ReplaySource(rec)
    first = source._frame()
    open_s = time.perf_counter() - t0
    assert first.window
    rng = random.Random(3)
    reads = []
    for _ in range(jumps):
        source.seek(rng.randrange(len(rec)))
        t = time.perf_counter()
        source._frame()
        reads.append(time.perf_counter() - t)
    t = time.perf_counter()
    timeline_cells(rec.times, rec.tiers, rec.events, 118)
    cells_s = time.perf_counter() - t
    rec.close()
    return {
        "open_and_first_window_s": open_s,
        "cold_window_median_ms": statistics.median(reads) * 1e3,
        "cold_window_max_ms": max(reads) * 1e3,
        "timeline_cells_ms": cells_s * 1e3,
        "window_frames": len(first.window),
    }


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


FRAME = re.compile(r"frame (\d+)/(\d+)")


def _frame_on_screen(session: str) -> str | None:
    m = FRAME.search(_tmux("capture-pane", "-t", session, "-p"))
    return m.group(0) if m else None


def in_terminal(path: Path, events: int) -> dict[str, float | list[float]]:
    session = "tp-bench-replay"
    _tmux("kill-session", "-t", session)
    t0 = time.monotonic()
    _tmux(
        "new-session", "-d", "-s", session, "-x", "120", "-y", "40",
        f"{BIN / 'tui-perf'} replay {path}",
    )  # fmt: skip
    first = float("nan")
    while time.monotonic() - t0 < 30:
        if _frame_on_screen(session):
            first = time.monotonic() - t0
            break
        time.sleep(0.005)
    time.sleep(1.0)  # settled: the jump is what is timed, not start-up
    jumps: list[float] = []
    for _ in range(events):
        before = _frame_on_screen(session)
        t = time.monotonic()
        _tmux("send-keys", "-t", session, "[")
        now = before
        while now == before and time.monotonic() - t < 5:
            time.sleep(0.002)
            now = _frame_on_screen(session)
        if now == before:  # the first event reached: nothing more to jump to
            break
        jumps.append(time.monotonic() - t)
    _tmux("kill-session", "-t", session)
    return {"first_frame_s": first, "jumps_s": jumps}


def run(quick: bool) -> tuple[list[Comparison], dict[str, object]]:
    if shutil.which("tmux") is None:
        raise SystemExit("tmux is needed for this benchmark (apt-get install tmux)")
    with tempfile.TemporaryDirectory(prefix="tp-replay-") as tmp:
        path = Path(tmp) / "day.db"
        made = asyncio.run(generate(path, DAY_S // 6 if quick else DAY_S))
        print(f"  {made['frames']:.0f} frames, {made['file_mib']:.0f} MiB", flush=True)
        inside = in_process(path)
        seen = in_terminal(path, events=int(made["events"]))
        in_order = list(seen["jumps_s"])  # type: ignore[call-overload]
        jumps = sorted(in_order)
    first = float(seen["first_frame_s"])  # type: ignore[arg-type]
    worst = jumps[-1] if jumps else float("nan")
    p95 = jumps[max(0, int(len(jumps) * 0.95) - 1)] if jumps else float("nan")
    hours = (DAY_S // 6 if quick else DAY_S) / 3600
    rows = [
        Comparison(
            benchmark=f"replay: first frame of a {hours:g} h file (tmux, 120x40)",
            ours=f"{first:.2f} s",
            peer="(a goal, no peer)",
            ratio=first,
            ratio_means="seconds, lower is better",
            goal="<= 1.5 s",
            met=first <= 1.5,
            note=f"{made['frames']:.0f} frames, {made['file_mib']:.0f} MiB, no retention",
        ),
        Comparison(
            benchmark=f"replay: a jump to the previous event, worst of {len(jumps)} (key to frame)",
            ours=f"{worst * 1e3:.0f} ms",
            peer="(a goal, no peer)",
            ratio=worst * 1e3,
            ratio_means="milliseconds, lower is better",
            goal="<= 100 ms",
            met=worst <= 0.1,
            note=f"median {statistics.median(jumps) * 1e3:.0f} ms, p95 {p95 * 1e3:.0f} ms"
            if jumps
            else "no jumps",
        ),
    ]
    return rows, {**made, **inside, "first_frame_s": first, "jumps_ms": [j * 1e3 for j in in_order]}
