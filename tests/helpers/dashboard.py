"""Scripted snapshots for dashboard tests: fixed timestamps, every pane with something in it."""

from __future__ import annotations

from textual.pilot import Pilot

from tui_perf.dashboard.app import Dashboard
from tui_perf.model.advice import AdviceStats, CurveStat
from tui_perf.model.snapshot import (
    AllocSite,
    AllocStats,
    BenchResult,
    CacheStats,
    CleanupReport,
    Event,
    FunctionStat,
    GCStats,
    MemorySample,
    PoolStats,
    ProfileStats,
    RungReport,
    Snapshot,
    TierStats,
    TimingStat,
)

MiB = 1024 * 1024
T0 = 1_800_000_000.0  # a fixed clock: 2027-01-15 08:00:00 UTC
BUDGET = 512 * MiB
THRESHOLDS = (int(0.70 * BUDGET), int(0.85 * BUDGET), int(0.95 * BUDGET))


def gc_stats(
    i: int, strategy: str = "throughput", census: tuple[tuple[str, int], ...] = ()
) -> GCStats:
    return GCStats(
        enabled=True,
        counts=(120 + i, 3, 1),
        thresholds=(49000, 10, 10),
        collections=(40 + i, 4, 1),
        collected=(900 + 10 * i, 120, 7),
        uncollectable=(0, 0, 0),
        strategy=strategy,
        adaptive=True,
        pauses=45 + i,
        pause_p50_ms=0.08,
        pause_p95_ms=0.9,
        pause_p99_ms=4.2,
        pause_max_ms=11.5,
        gc_time_fraction=0.002 + 0.0004 * (i % 7),
        census=census,
    )


def caches(i: int) -> tuple[CacheStats, ...]:
    return (
        CacheStats(
            "users.profile",
            (
                TierStats(
                    "L1",
                    "lru",
                    hits=800 * i,
                    misses=200 * i + 5,
                    sets=200 * i,
                    size=64,
                    maxsize=64,
                    evictions=150 * i,
                ),
                TierStats(
                    "L2",
                    "sqlite",
                    hits=120 * i,
                    misses=80 * i,
                    sets=200 * i,
                    size=900,
                    promotions=120 * i,
                    bytes=120_000,
                ),
            ),
        ),
        CacheStats(
            "pages.render",
            (
                TierStats(
                    "L1",
                    "ttl",
                    hits=300 * i + (40 * i if i > 15 else 0),
                    misses=300 * i,
                    sets=300 * i,
                    size=200,
                    maxsize=256,
                    expirations=30 * i,
                ),
            ),
        ),
    )


def pools(i: int, leak: bool = False) -> tuple[PoolStats, ...]:
    buffers = PoolStats(
        "buffers",
        "object",
        in_use=3,
        idle=5,
        created=8,
        reused=40 * i,
        requests=40 * i + 8,
        max_size=16,
    )
    if leak:
        buffers = PoolStats(
            "buffers",
            "object",
            in_use=3,
            idle=5,
            created=9,
            reused=40 * i,
            requests=40 * i + 9,
            leaks=1,
            max_size=16,
            healthy=False,
            reason="1 leaked (last acquired at app/jobs.py:42 in fetch)",
        )
    return (
        buffers,
        PoolStats(
            "db",
            "aiosqlite",
            in_use=1,
            idle=2,
            created=3,
            reused=12 * i,
            requests=12 * i + 3,
            waits=2,
            wait_p95_ms=3.5,
            max_size=4,
        ),
    )


def cleanup(at: float) -> CleanupReport:
    rungs = (
        RungReport("flush caches", 380 * MiB, 372 * MiB, 264, "entries", "from 2 caches", 0.0004),
        RungReport("full collection", 372 * MiB, 371 * MiB, 36821, "objects", "", 0.041),
        RungReport("drain pools", 371 * MiB, 371 * MiB, 5, "objects", "", 0.00004),
        RungReport("malloc_trim", 371 * MiB, 290 * MiB, 81 * MiB, "bytes", "", 0.024),
    )
    return CleanupReport(at, "manual", "ELEVATED", "NORMAL", 380 * MiB, 290 * MiB, 0.066, rungs)


def snapshot(
    i: int,
    *,
    rss_mib: float | None = None,
    tier: str | None = None,
    events: tuple[Event, ...] = (),
    cleanups: tuple[CleanupReport, ...] = (),
    leak: bool = False,
    empty: bool = False,
    bench: tuple[BenchResult, ...] = (),
    gc_visible: bool = True,
    census: tuple[tuple[str, int], ...] = (),
) -> Snapshot:
    ts = T0 + i
    rss = int((rss_mib if rss_mib is not None else 200 + 5 * i + 30 * (i % 4)) * MiB)
    if tier is None:
        tier = ("NORMAL", "ELEVATED", "HIGH", "CRITICAL")[sum(rss >= t for t in THRESHOLDS)]
    memory = MemorySample(
        timestamp=ts,
        rss=rss,
        vms=rss * 3,
        cpu_percent=12.5,
        num_threads=7,
        open_fds=23,
        uss=int(rss * 0.8),
        budget=BUDGET,
    )
    return Snapshot(
        timestamp=ts,
        pid=4242,
        seq=i + 1,
        memory=memory,
        gc=gc_stats(i, census=census) if gc_visible else None,
        tier=tier,
        caches=() if empty else caches(i),
        pools=() if empty else pools(i, leak),
        events=events,
        cleanups=cleanups,
        bench=bench,
        thresholds=THRESHOLDS,
    )


def history(n: int = 40, **kw: object) -> list[Snapshot]:
    out = []
    for i in range(n):
        events: tuple[Event, ...] = ()
        if i == 5:
            events = (Event(T0 + i, "gc", "GC strategy default -> throughput (tier NORMAL)"),)
        if i == 20:
            events = (Event(T0 + i, "tier", "NORMAL -> ELEVATED at RSS 360.0 MiB", "warning"),)
        out.append(snapshot(i, events=events, **kw))  # type: ignore[arg-type]
    return out


async def settle(pilot: Pilot[None], count: int) -> None:
    """Wait until the app has taken `count` snapshots and drawn them."""
    app = pilot.app
    assert isinstance(app, Dashboard)
    for _ in range(500):
        if len(app.history.snapshots) >= count:
            break
        await pilot.pause(0.01)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def profile_stats(now: float, alloc: bool = True) -> ProfileStats:
    """A profiler that ran 40 s at 100 Hz over a web handler, with timings and allocations."""
    functions = (
        FunctionStat("render_template", "/srv/app/views.py", 88, 9.6, 14.1, 960, 1410),
        FunctionStat("json_dumps", "/usr/lib/python3.11/json/encoder.py", 183, 5.2, 5.2, 520, 520),
        FunctionStat("Query.fetch", "/srv/app/db.py", 41, 3.9, 8.8, 390, 880),
        FunctionStat("parse_row", "/srv/app/db.py", 120, 3.1, 4.9, 310, 490),
        FunctionStat("handle_request", "/srv/app/server.py", 15, 0.4, 31.0, 40, 3100),
        FunctionStat("<module>", "/srv/app/main.py", 1, 0.0, 32.0, 0, 3200),
    )
    timings = (
        TimingStat(
            "app.handle_request", "sync", 1840, 3, 0, 30.1, 0.0164, 0.012, 0.041, 0.090, 0.21
        ),
        TimingStat("db.query", "async", 5520, 0, 2, 11.0, 0.0020, 0.0016, 0.0051, 0.0093, 0.03),
    )
    sites = (
        AllocSite("/srv/app/cache.py", 57, 48_000_000, 120_000, 12_500_000, 31_000),
        AllocSite("/srv/app/db.py", 133, 9_600_000, 40_000, 2_100_000, 9_000),
        AllocSite("/usr/lib/python3.11/json/decoder.py", 353, 3_200_000, 52_000, 400_000, 6_000),
    )
    return ProfileStats(
        running=True,
        target_hz=100.0,
        rate_hz=100.0,
        cost_fraction=0.004,
        samples=3200,
        idle_samples=7900,
        active_s=32.0,
        duration_s=40.0,
        threads=5,
        functions=functions,
        timings=timings,
        alloc=AllocStats(
            traced=72_000_000,
            peak=80_000_000,
            frames=10,
            top=sites,
            growth=sites,
            marked_at=now - 30,
            traceback=("/srv/app/cache.py:57", "/srv/app/server.py:40"),
            snapshot_s=0.05,
        )
        if alloc
        else None,
    )


def advice_stats(snaps: list[Snapshot]) -> AdviceStats:
    """The real rules over the scripted minute, with a scripted curve for users.profile (a
    64-entry cache whose predicted hit rate climbs to 94% by 512 entries)."""
    from types import MappingProxyType

    from tui_perf.advice import BUILTIN, Advisor, Window

    curve = CurveStat(
        "users.profile",
        64,
        points=((16, 0.55), (32, 0.68), (64, 0.8), (128, 0.88), (256, 0.93), (512, 0.94)),
        policies=(("lru", 0.8), ("lfu", 0.83), ("fifo", 0.74), ("rr", 0.75)),
        references=39_005,
        sampled=9_750,
        rate=0.25,
        bytes_per_entry=520,
    )
    window = Window(tuple(snaps), MappingProxyType({"users.profile": curve}))
    advice = Advisor().check(window)
    return AdviceStats(
        findings=advice.findings,
        curves=(curve,),
        window_s=window.duration_s,
        snapshots=len(snaps),
        rules=len(BUILTIN),
    )
