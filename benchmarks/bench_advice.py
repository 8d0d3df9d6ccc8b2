"""Advice: how true the predicted cache curves are, what sampling costs the hit path, and
whether a healthy program gets warnings.

1. Curve accuracy: three key streams of 1 M requests (Zipf 0.8, Zipf 1.2, Zipf 0.8 mixed
   with a periodic scan of 20,000 cold keys) go through a real `MemoryTier` of 2,000
   entries followed by the product's key-stream sampler (`KeyStreams`, its rate chosen by
   the cache's size). The predicted hit rates at 0.5x, 2x and 4x are compared with the true
   ones from replaying the same stream through `cachetools.LRUCache` of that size, and
   through libCacheSim's LRU when it is installed. Goal: mean absolute error <= 2 points,
   worst <= 4. A second row does the same at the rate a cache doing 1 M lookups a second
   falls to (the sampler's cost bound).
2. Sampling cost: `@cached` hits over 1,000 keys with the sampler on (drained between
   rounds, as the engine's tick does) against the same with it off, in one run. Goal: at
   most 5% slower. And the sampler's memory after 1 M lookups of 100,000 keys
   (tracemalloc).
3. False alarms: the demo with its caches sized to fit, no memory sawtooth and no leak,
   under an engine with the advice capability, for 5 minutes (1 with --quick). Goal: no
   finding at warning or above.
"""

from __future__ import annotations

import itertools
import random
import statistics
import time
import tracemalloc
from typing import Any

import cachetools

from benchmarks.harness import Comparison, time_interleaved
from tui_perf.advice.keystreams import SAMPLED_LOOKUP_S, KeyStreams
from tui_perf.advice.mrc import ShardsSampler
from tui_perf.caches.decorator import cached
from tui_perf.caches.memory_tier import MISSING, MemoryTier
from tui_perf.engine.registry import Registry

SIZE = 2000
FACTORS = (0.5, 2, 4)


def zipf(n: int, keys: int, s: float, rng: random.Random) -> list[int]:
    weights = list(itertools.accumulate(1 / (i + 1) ** s for i in range(keys)))
    return rng.choices(range(keys), cum_weights=weights, k=n)


def streams(n: int) -> dict[str, list[int]]:
    rng = random.Random(7)
    out = {
        "zipf 0.8": zipf(n, 100_000, 0.8, rng),
        "zipf 1.2": zipf(n, 100_000, 1.2, rng),
    }
    mixed = zipf(n, 100_000, 0.8, rng)
    scan = 1_000_000  # cold keys, never seen elsewhere
    for start in range(100_000, n, 200_000):  # every 200,000 requests, a 20,000-key scan
        for j in range(20_000):
            if start + j < n:
                mixed[start + j] = scan
                scan += 1
    out["zipf 0.8 + scan"] = mixed
    return out


def lru_truth(stream: list[int], size: int) -> float:
    cache: cachetools.LRUCache[int, bool] = cachetools.LRUCache(size)
    hits = 0
    for k in stream:
        if cache.get(k) is not None:
            hits += 1
        else:
            cache[k] = True
    return hits / len(stream)


def libcachesim_truth(stream: list[int], size: int) -> float | None:
    try:
        import libcachesim as lcs  # type: ignore[import-not-found]
    except ImportError:
        return None
    cache = lcs.LRU(cache_size=size)
    req = lcs.Request()
    req.obj_size = 1
    hits = 0
    for k in stream:
        req.obj_id = k
        hits += bool(cache.get(req))
    return hits / len(stream)


class _Cache:
    """What `KeyStreams.follow` needs of a cache: a name and a memory tier."""

    def __init__(self, name: str, tier: MemoryTier) -> None:
        self.name, self.l1 = name, tier


def predicted(stream: list[int], rate: float | None) -> dict[int, float]:
    tier = MemoryTier("lru", SIZE)
    streams_ = KeyStreams(max_cost=1.0)  # accuracy here; the cost is measured below
    streams_.follow([_Cache("bench", tier)])
    if rate is not None:
        ((_, sampler, _),) = streams_._followed.values()
        sampler.lower_rate(rate)
    get, put = tier.get, tier.set
    for i, k in enumerate(stream):
        if get(k) is MISSING:
            put(k, True)
        if i % 10_000 == 0:
            streams_.drain()
    streams_.drain()
    curve = streams_.curves(force=True)["bench"]
    return dict(curve.points)


def accuracy(n: int) -> tuple[list[Comparison], dict[str, Any]]:
    extra: dict[str, Any] = {}
    rows: list[Comparison] = []
    data = streams(n)
    truths = {
        name: {int(SIZE * f): lru_truth(s, int(SIZE * f)) for f in FACTORS}
        for name, s in data.items()
    }
    second = {
        name: {int(SIZE * f): libcachesim_truth(s, int(SIZE * f)) for f in FACTORS}
        for name, s in data.items()
    }
    extra["truth_cachetools"] = truths
    extra["truth_libcachesim"] = second
    busy = KeyStreams().max_cost / (1e6 * SAMPLED_LOOKUP_S)  # the rate at 1 M lookups/s
    for label, rate in (
        ("rate chosen by size", None),
        (f"rate {100 * busy:g}% (a cache doing 1 M lookups a second)", busy),
    ):
        errors: list[float] = []
        table = {}
        for name, s in data.items():
            pred = predicted(s, rate)
            table[name] = {size: pred[size] for size in truths[name]}
            errors += [100 * abs(pred[size] - t) for size, t in truths[name].items()]
        mae, worst = statistics.mean(errors), max(errors)
        agree = [
            100 * abs(v - truths[name][size])
            for name, row in second.items()
            for size, v in row.items()
            if v is not None
        ]
        extra[f"predicted ({label})"] = table
        rows.append(
            Comparison(
                f"curve accuracy, {label} (3 streams x {n:,}, sizes 0.5x 2x 4x of {SIZE:,}; "
                f"worst {worst:.2f} points"
                + (
                    f"; libCacheSim agrees with cachetools within {max(agree):.2f} points"
                    if agree
                    else "; libCacheSim not installed"
                )
                + ")",
                "SHARDS prediction",
                "cachetools LRU replay",
                mae,
                "mean absolute error, points: this decides (worst <= 4 too)",
                "<= 2 (worst <= 4)",
                mae <= 2 and worst <= 4,
            )
        )
    return rows, extra


def sampling_cost(loops: int, rounds: int) -> tuple[list[Comparison], dict[str, Any]]:
    def make() -> Any:
        @cached(maxsize=2048, registry=Registry())
        def f(x: int) -> int:
            return x * 2

        for k in range(1000):
            f(k)
        return f

    off, on = make(), make()
    keystreams = KeyStreams()  # the product's settings: its rate and its cost bound
    keystreams.follow([on.cache])
    keys = list(range(1000))

    def runner(f: Any, drain: bool) -> Any:
        def run(n: int) -> None:
            g = f
            for _ in range(n // 1000):
                for k in keys:
                    g(k)
            if drain:
                keystreams.drain()  # what the engine's tick does between rounds

        return run

    for _ in range(5):  # let the controller settle the rate, as a running program would
        runner(on, True)(loops)
    res = time_interleaved(
        {"on": runner(on, True), "off": runner(off, False)}, loops=loops, rounds=rounds
    )
    ratio = res["on"].per_op_s / res["off"].per_op_s
    ((_, sampler, _),) = keystreams._followed.values()
    # the sampler's memory, fed as a busy program would feed it
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    big = ShardsSampler(0.05, max_stream=KeyStreams().max_stream)
    rng = random.Random(3)
    for i, k in enumerate(zipf(1_000_000, 100_000, 0.9, rng)):
        big.offer(k)
        if i % 10_000 == 0:
            big.drain()
    big.drain()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    note = (
        f"{res['on'].per_op_s * 1e9:.0f} ns vs {res['off'].per_op_s * 1e9:.0f} ns a hit; the "
        f"rate settled at {sampler.rate:.4f}; a sampler after 1 M lookups of 100,000 keys "
        f"holds {held / 1024 / 1024:.1f} MiB"
    )
    return [
        Comparison(
            f"@cached hit, curve sampling on vs off ({note})",
            "sampling on",
            "sampling off",
            ratio,
            "time a hit, on / off: this decides",
            "<= 1.05",
            ratio <= 1.05,
        )
    ], {"hit_ns": {k: v.per_op_s * 1e9 for k, v in res.items()}, "sampler_bytes": held}


def false_alarms(seconds: float) -> tuple[list[Comparison], dict[str, Any]]:
    from tui_perf import capabilities
    from tui_perf.dashboard.demo import Demo
    from tui_perf.engine.core import Engine, EngineConfig

    demo = Demo(sawtooth=False, leak_once=False)
    Demo.fit_caches()
    engine = Engine(EngineConfig(interval=1.0))
    capabilities.attach(engine)
    seen: dict[str, str] = {}
    demo.start()
    engine.start()
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(5)
            snap = engine.snapshot()
            if snap is not None and snap.advice is not None:
                for f in snap.advice.findings:
                    seen.setdefault(f"{f.severity}: {f.title}", f.rule)
    finally:
        engine.stop()
        demo.stop()
    loud = [k for k in seen if not k.startswith("info")]
    return [
        Comparison(
            f"false alarms: the demo, caches sized to fit, no pressure, {seconds / 60:.0f} min "
            f"({len(seen)} distinct findings, {len(loud)} at warning or above"
            + (f": {'; '.join(loud)}" if loud else "")
            + ")",
            "advice",
            "a healthy program",
            float(len(loud)),
            "findings at warning or above: this decides",
            "0",
            not loud,
        )
    ], {"findings": seen}


def run(quick: bool) -> tuple[list[Comparison], dict[str, Any]]:
    comparisons: list[Comparison] = []
    extra: dict[str, Any] = {}
    rows, more = accuracy(200_000 if quick else 1_000_000)
    comparisons += rows
    extra.update(more)
    rows, more = sampling_cost(100_000 if quick else 1_000_000, 5 if quick else 15)
    comparisons += rows
    extra.update(more)
    rows, more = false_alarms(60.0 if quick else 300.0)
    comparisons += rows
    extra.update(more)
    return comparisons, extra
