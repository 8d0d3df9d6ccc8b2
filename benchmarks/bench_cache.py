"""Caches and pools against what a user would pick instead, in one process.

1. `@cached` hit path (stats on) vs cachetools.cached(info=True), cachebox.cached and
   functools.lru_cache.
2. MultiLevelCache L1 get vs a bare cachetools.LRUCache get.
3. SQLiteTier get / set vs diskcache.Cache get / set; MultiLevelCache's get that misses L1
   and reads SQLite (the user-facing read path, generation check included) vs diskcache get.
4. ObjectPool get+put (leak tracking on and off) vs queue.Queue get+put, and vs the C
   queue.SimpleQueue for scale; ConnectionPool acquire+query vs opening an aiosqlite
   connection per query.
"""

from __future__ import annotations

import asyncio
import functools
import os
import queue
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import cachebox
import cachetools
import diskcache

from benchmarks.harness import Comparison, Measurement, time_interleaved
from tui_perf.caches.codecs import PickleCodec
from tui_perf.caches.decorator import cached
from tui_perf.caches.memory_tier import MemoryTier
from tui_perf.caches.multilevel import MultiLevelCache
from tui_perf.caches.sqlite_tier import SQLiteTier
from tui_perf.engine.registry import Registry
from tui_perf.pools.connections import ConnectionPool
from tui_perf.pools.objects import ObjectPool


def _ops(m: Measurement) -> str:
    ops = m.ops_per_s
    return f"{ops / 1e6:.2f} M/s" if ops >= 1e6 else f"{ops / 1e3:.1f} K/s"


def _cmp(
    name: str,
    ours: Measurement,
    peer: Measurement,
    peer_name: str,
    goal: float | None,
    note: str = "",
) -> Comparison:
    ratio = ours.ops_per_s / peer.ops_per_s
    return Comparison(
        benchmark=name,
        ours=_ops(ours),
        peer=f"{_ops(peer)} {peer_name}",
        ratio=ratio,
        ratio_means="throughput, higher is better",
        goal="—" if goal is None else f">= {goal:g}x",
        met=None if goal is None else ratio >= goal,
        note=note,
    )


def hit_path(loops: int, rounds: int) -> list[Comparison]:
    def plain(x: int) -> int:
        return x * 2

    ours = cached(registry=Registry())(plain)
    ct = cachetools.cached(cachetools.LRUCache(1024), info=True)(plain)
    cb = cachebox.cached(cachebox.LRUCache(1024))(plain)
    lru = functools.lru_cache(1024)(plain)
    for f in (ours, ct, cb, lru):
        f(7)

    def runner(f: object) -> object:
        def run(n: int) -> None:
            g = f
            for _ in range(n):
                g(7)  # type: ignore[operator]

        return run

    res = time_interleaved(
        {
            "ours": runner(ours),
            "cachetools": runner(ct),
            "cachebox": runner(cb),
            "lru_cache": runner(lru),
        },
        loops=loops,
        rounds=rounds,
    )

    def area(w: int, h: int) -> int:
        return w * h

    ours2 = cached(registry=Registry())(area)
    lru2 = functools.lru_cache(1024)(area)
    ours2(3, 4)
    lru2(3, 4)

    def runner2(f: object) -> object:
        def run(n: int) -> None:
            g = f
            for _ in range(n):
                g(3, 4)  # type: ignore[operator]

        return run

    res2 = time_interleaved(
        {"ours": runner2(ours2), "lru_cache": runner2(lru2)}, loops=loops, rounds=rounds
    )
    return [
        _cmp(
            "@cached hit (stats on)",
            res["ours"],
            res["cachebox"],
            "cachebox.cached",
            1.0,
            "goal: ahead of cachebox",
        ),
        _cmp(
            "@cached hit (stats on)",
            res["ours"],
            res["cachetools"],
            "cachetools.cached(info=True)",
            None,
        ),
        _cmp(
            "@cached hit (stats on)",
            res["ours"],
            res["lru_cache"],
            "functools.lru_cache (C)",
            0.5,
            "one argument: the argument itself is the key, as in lru_cache",
        ),
        _cmp(
            "@cached hit (stats on), two arguments",
            res2["ours"],
            res2["lru_cache"],
            "functools.lru_cache (C)",
            None,
            "two arguments: a tuple is built and hashed per call (lru_cache does it in C)",
        ),
    ]


def l1_get(loops: int, rounds: int) -> list[Comparison]:
    cache = MultiLevelCache("bench", l1=MemoryTier("lru", 1024), registry=Registry())
    bare: cachetools.LRUCache[int, int] = cachetools.LRUCache(1024)
    for i in range(512):
        cache.set(i, i)
        bare[i] = i
    keys = [random.randrange(512) for _ in range(1000)]

    def ours(n: int) -> None:
        get = cache.get
        for i in range(n):
            get(keys[i % 1000])

    def peer(n: int) -> None:
        for i in range(n):
            bare[keys[i % 1000]]

    res = time_interleaved({"ours": ours, "peer": peer}, loops=loops, rounds=rounds)
    return [_cmp("MultiLevelCache L1 get", res["ours"], res["peer"], "cachetools.LRUCache[k]", 1.0)]


def sqlite_tier(loops: int, rounds: int, workdir: Path) -> list[Comparison]:
    codec = PickleCodec(b"bench-key-0123456789abcdef")
    tier = SQLiteTier(workdir / "ours.db")
    dc = diskcache.Cache(str(workdir / "diskcache"))
    value = {"id": 1, "name": "x" * 100, "tags": [1, 2, 3]}
    n_keys = 2000
    tier.set_many((f"k{i}", codec.encode(value), None, ()) for i in range(n_keys))
    for i in range(n_keys):
        dc.set(f"k{i}", value)
    keys = [f"k{random.randrange(n_keys)}" for _ in range(1000)]

    def ours_get(n: int) -> None:
        get, decode = tier.get, codec.decode
        for i in range(n):
            decode(get(keys[i % 1000]))

    def dc_get(n: int) -> None:
        get = dc.get
        for i in range(n):
            get(keys[i % 1000])

    # 16 entries of L1 against 1000 keys drawn from 2000: (almost) every get misses L1 and
    # pays the whole L2 path: generation check, SQLite read, signed-pickle decode, L1 fill.
    # Its own file, filled through the cache: its L2 keys and the place its values are signed
    # for are the cache's, not the raw ones above.
    reader = MultiLevelCache(
        "reader",
        l1=MemoryTier("lru", 16),
        l2=SQLiteTier(workdir / "reader.db"),
        codec=codec,
        registry=Registry(),
    )
    for i in range(n_keys):
        reader.set(f"k{i}", value)
    assert reader.get(keys[0]) == value

    def ours_miss_get(n: int) -> None:
        get = reader.get
        for i in range(n):
            get(keys[i % 1000])

    behind = MultiLevelCache(
        "wb",
        l1=MemoryTier("lru", 64),
        l2=SQLiteTier(workdir / "wb.db"),
        codec=codec,
        write_behind=True,
        batch_size=256,
        flush_interval=3600,
        registry=Registry(),
    )
    direct = MultiLevelCache(
        "direct",
        l1=MemoryTier("lru", 64),
        l2=SQLiteTier(workdir / "direct.db"),
        codec=codec,
        registry=Registry(),
    )
    counter = iter(range(10**9))

    def ours_set_behind(n: int) -> None:
        for _ in range(n):
            behind.set(f"w{next(counter)}", value)
        behind.flush()  # the batched writes are part of the cost

    def ours_set_direct(n: int) -> None:
        for _ in range(n):
            direct.set(f"d{next(counter)}", value)

    def dc_set(n: int) -> None:
        for _ in range(n):
            dc.set(f"s{next(counter)}", value)

    gets = time_interleaved(
        {"ours": ours_get, "miss": ours_miss_get, "dc": dc_get}, loops=loops, rounds=rounds
    )
    set_loops = max(200, loops // 20)
    sets = time_interleaved(
        {"behind": ours_set_behind, "direct": ours_set_direct, "dc": dc_set},
        loops=set_loops,
        rounds=rounds,
    )
    dc.close()
    return [
        _cmp(
            "SQLiteTier get + signed-pickle decode", gets["ours"], gets["dc"], "diskcache get", 0.5
        ),
        _cmp(
            "MultiLevelCache get, L1 miss, from SQLite",
            gets["miss"],
            gets["dc"],
            "diskcache get",
            None,
            "informational: no goal was set for this path; L1 of 16 entries, 2000 keys",
        ),
        _cmp(
            "MultiLevelCache set, write-behind to SQLite",
            sets["behind"],
            sets["dc"],
            "diskcache set",
            2.0,
            "write-behind: batches of 256, flush included in the time",
        ),
        _cmp(
            "MultiLevelCache set, straight to SQLite",
            sets["direct"],
            sets["dc"],
            "diskcache set",
            None,
        ),
    ]


def _disk_bytes(folder_or_file: Path) -> int:
    paths = [folder_or_file] if folder_or_file.is_file() else list(folder_or_file.rglob("*"))
    here = [folder_or_file.with_name(folder_or_file.name + s) for s in ("-wal", "-shm")]
    return sum(p.stat().st_size for p in [*paths, *here] if p.is_file())


def sqlite_size(writes: int, workdir: Path) -> list[Comparison]:
    """File size after many writes of expiring keys, both held to one size limit.

    Keys expire in an hour, so the size limit (16 MiB on disk for both: diskcache's
    `size_limit` and our `max_bytes` both bound the file's pages in use) is what culls; the
    purge of expired rows is shown by the tests, not here (diskcache has no injectable clock,
    and the two run at different speeds, so a short real-time expiry would compare unequal
    amounts of live data). Values are ~260 bytes of incompressible text. Ours writes in
    batches of 500 (as write-behind does); diskcache one `set` at a time (its API). The
    figure is every file on disk (database, WAL, shared memory) and the entries kept.
    """
    limit = 16 * 1024 * 1024
    value = {"blob": os.urandom(100).hex()}
    codec = PickleCodec(b"bench-key-0123456789abcdef")
    encoded = codec.encode(value)
    tier = SQLiteTier(workdir / "size.db", max_bytes=limit)
    t0 = time.perf_counter()
    batch: list[Any] = []
    for i in range(writes):
        batch.append((f"e{i}", encoded, 3600.0, ()))
        if len(batch) == 500:
            tier.set_many(batch)
            batch = []
    tier.set_many(batch)
    ours_s = time.perf_counter() - t0
    ours_bytes = _disk_bytes(workdir / "size.db")
    dc = diskcache.Cache(str(workdir / "dc-size"), size_limit=limit)
    t0 = time.perf_counter()
    for i in range(writes):
        dc.set(f"e{i}", value, expire=3600.0)
    dc_s = time.perf_counter() - t0
    dc_rows = len(dc)
    dc.close()
    dc_bytes = _disk_bytes(workdir / "dc-size")
    mib = 1024 * 1024
    return [
        Comparison(
            benchmark=f"SQLite file after {writes:,} writes of expiring keys, 16 MiB limit",
            ours=f"{ours_bytes / mib:.1f} MiB ({tier.stats().size:,} rows, {ours_s:.0f} s)",
            peer=f"{dc_bytes / mib:.1f} MiB diskcache ({dc_rows:,} rows, {dc_s:.0f} s)",
            ratio=ours_bytes / dc_bytes,
            ratio_means="size on disk, lower is better",
            goal="<= 1.1x",
            met=ours_bytes <= 1.1 * dc_bytes,
            note="both culled to one 16 MiB limit on disk; keys expire in 1 h",
        )
    ]


class Buffer:
    """A pooled object that can be weakly referenced, so a leak is seen the moment it dies
    (a bytearray cannot be: its leaks show by age only)."""

    def __init__(self) -> None:
        self.data = bytearray(1024)


def pools(loops: int, rounds: int, workdir: Path) -> list[Comparison]:
    tracked: ObjectPool[bytearray] = ObjectPool(lambda: bytearray(1024), registry=Registry())
    tracked_weak: ObjectPool[Buffer] = ObjectPool(Buffer, registry=Registry())
    untracked: ObjectPool[bytearray] = ObjectPool(
        lambda: bytearray(1024), track_leaks=False, registry=Registry()
    )
    q: queue.Queue[bytearray] = queue.Queue()
    q.put(bytearray(1024))
    sq: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    sq.put(bytearray(1024))

    def cycle(get: Any, put: Any) -> Any:
        def run(n: int) -> None:
            for _ in range(n):
                put(get())

        return run

    res = time_interleaved(
        {
            "tracked": cycle(tracked.get, tracked.put),
            "tracked_weak": cycle(tracked_weak.get, tracked_weak.put),
            "untracked": cycle(untracked.get, untracked.put),
            "Queue": cycle(q.get, q.put),
            "SimpleQueue": cycle(sq.get, sq.put),
        },
        loops=loops // 4,
        rounds=rounds,
    )

    db_path = workdir / "pool.db"

    async def measure() -> tuple[float, float]:
        import aiosqlite

        cpool = await ConnectionPool(db_path, max_size=2, registry=Registry()).open()
        n = 300 if loops < 10_000 else 2000
        pooled, fresh = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(n):
                async with cpool.connection() as db, db.execute("SELECT 1") as cur:
                    await cur.fetchone()
            pooled.append((time.perf_counter() - t0) / n)
            t0 = time.perf_counter()
            for _ in range(n // 10):
                async with aiosqlite.connect(db_path) as db, db.execute("SELECT 1") as cur:
                    await cur.fetchone()
            fresh.append((time.perf_counter() - t0) / (n // 10))
        await cpool.close()
        return sorted(pooled)[len(pooled) // 2], sorted(fresh)[len(fresh) // 2]

    pooled, fresh = asyncio.run(measure())
    return [
        _cmp(
            "ObjectPool get+put, leak tracking on (bytearray: by age)",
            res["tracked"],
            res["Queue"],
            "queue.Queue get+put",
            1.0,
        ),
        _cmp(
            "ObjectPool get+put, leak tracking on (weakref-able object: at its death)",
            res["tracked_weak"],
            res["Queue"],
            "queue.Queue get+put",
            1.0,
            "the weakref that sees a leak is made once per object, not per checkout",
        ),
        _cmp(
            "ObjectPool get+put (leak tracking off)",
            res["untracked"],
            res["Queue"],
            "queue.Queue get+put",
            None,
        ),
        _cmp(
            "ObjectPool get+put, leak tracking on (bytearray)",
            res["tracked"],
            res["SimpleQueue"],
            "queue.SimpleQueue get+put (C, no locks of its own)",
            None,
        ),
        _cmp(
            "ConnectionPool acquire+query",
            Measurement("p", pooled, 1 / pooled),
            Measurement("f", fresh, 1 / fresh),
            "aiosqlite connect per query",
            None,
        ),
    ]


def run(quick: bool) -> tuple[list[Comparison], dict[str, object]]:
    loops, rounds = (20_000, 5) if quick else (200_000, 11)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        comparisons = (
            hit_path(loops, rounds)
            + l1_get(loops, rounds)
            + sqlite_tier(loops // 10, rounds, work)
            + sqlite_size(100_000 if quick else 1_000_000, work)
            + pools(loops, rounds, work)
        )
    return comparisons, {"loops": loops, "rounds": rounds}
