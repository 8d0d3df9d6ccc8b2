"""One tuner run in a fresh process; prints a JSON line.

    python -m benchmarks.tune_worker caches SECONDS      # two caches at a tenth of their size
    python -m benchmarks.tune_worker uniform SECONDS     # no change can help
    python -m benchmarks.tune_worker gc MODE SECONDS     # MODE: a GC strategy, or tune

The engine runs on its own thread at 1 Hz, as in a program under `tui-perf run --tune`;
the workload runs in the main thread until SECONDS have passed.
"""

from __future__ import annotations

import ast
import contextlib
import json
import random
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

from benchmarks.gc_worker import stdlib_sources
from tui_perf import capabilities
from tui_perf.caches.decorator import cached
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.gc_control import GCConfig
from tui_perf.model.snapshot import Snapshot

#: the GC benchmark starts where a program starts (the interpreter's thresholds, nothing
#: adaptive) under the throughput profile's guardrails: its target is work done per second
GC_PROFILE = """
description = "the throughput profile's guardrails over the interpreter's own GC"
[gc]
strategy = "default"
adaptive = false
[tuner]
interval_s = 30.0
min_effect = 0.03
cooldown_s = 300.0
max_rss_growth = 0.15
max_pause_growth = 50.0
"""


def zipf_keys(n_keys: int, alpha: float, count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    weights = [1 / (k + 1) ** alpha for k in range(n_keys)]
    keys = list(range(n_keys))
    rng.shuffle(keys)  # popularity is not key order
    return rng.choices(keys, weights, k=count)


def _engine(profile: str, tune: bool = True, gc_strategy: str = "default") -> Engine:
    engine = Engine(
        EngineConfig(
            interval=1.0,
            tune=tune,
            profile=profile,
            budget_mib=2048,
            discover_caches_s=None,
            gc=GCConfig(strategy=gc_strategy),
        )
    )
    capabilities.attach(engine)
    return engine


def run_caches(seconds: float) -> dict[str, Any]:
    # useful sizes: 4,000 and 8,000 keys; each cache starts at a tenth of it
    streams = {
        "users": (zipf_keys(4000, 0.9, 400_000, 1), 400),
        "pages": (zipf_keys(8000, 1.0, 400_000, 2), 800),
    }
    funcs = {}
    for name, (_, size) in streams.items():

        @cached(maxsize=size, name=name)
        def work(key: int) -> int:
            return sum(range(key % 64 + 200))  # a few microseconds: worth caching

        funcs[name] = work
    engine = _engine("throughput")
    series: list[dict[str, Any]] = []
    engine.subscribe(lambda s: series.append(_cache_point(s)))
    engine.start()
    t0 = time.monotonic()
    i = 0
    n = len(streams["users"][0])
    while time.monotonic() - t0 < seconds:
        for name, (keys, _) in streams.items():
            funcs[name](keys[i % n])
        i += 1
        if i % 2000 == 0:
            time.sleep(0.002)  # a program that also waits: the engine thread gets its turn
    last = engine.snapshot()
    engine.stop()
    return {
        "series": series,
        "trials": _trials(last),
        "sizes": {name: funcs[name].cache.l1.cache.maxsize for name in funcs},  # type: ignore[attr-defined]
        "profile": last.tuning.profile if last and last.tuning else None,
    }


def _cache_point(snap: Snapshot) -> dict[str, Any]:
    return {
        "t": snap.timestamp,
        "caches": {c.name: [c.hits, c.lookups, c.tiers[0].maxsize] for c in snap.caches},
    }


def _trials(snap: Snapshot | None) -> list[dict[str, Any]]:
    if snap is None or snap.tuning is None:
        return []
    return [
        {"command": t.command, "verdict": t.verdict, "reason": t.reason, "started": t.started}
        for t in snap.tuning.trials
    ]


def run_uniform(seconds: float) -> dict[str, Any]:
    @cached(maxsize=1000, name="lookup")
    def work(key: int) -> int:
        return sum(range(key % 64 + 200))

    engine = _engine("balanced")
    engine.start()
    rng = random.Random(5)
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < seconds:
        work(rng.randrange(10**12))
        i += 1
        if i % 2000 == 0:
            time.sleep(0.002)
    last = engine.snapshot()
    engine.stop()
    findings = [f.key for f in last.advice.findings] if last and last.advice else []
    return {"trials": _trials(last), "findings": findings}


def run_gc(mode: str, seconds: float) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="tui-perf-tune-bench-"))
    profile = folder / "start-default.toml"
    profile.write_text(GC_PROFILE)
    tune = mode == "tune"
    engine = _engine(str(profile), tune=tune, gc_strategy="default" if tune else mode)
    engine.start()
    # the ast workload of bench_gc, as a steady stream: parse standard-library files and
    # keep the last pass's trees, a large live graph that keeps turning over (the one-shot
    # version grows without end; a run of minutes would not fit in memory)
    sources = stdlib_sources(3_000_000)
    ring: deque[ast.AST] = deque(maxlen=len(sources))
    done: list[tuple[float, int]] = []
    t0 = time.monotonic()
    n = 0
    while True:
        for text in sources[n % len(sources) : n % len(sources) + 20]:
            with contextlib.suppress(SyntaxError):
                ring.append(ast.parse(text))
        n += 20
        now = time.monotonic() - t0
        done.append((now, n))
        if now >= seconds:
            break
    last = engine.snapshot()
    strategy = engine.gc_controller.strategy if engine.gc_controller else "?"
    engine.stop()
    return {"progress": done, "trials": _trials(last), "strategy": strategy}


def main() -> None:
    kind = sys.argv[1]
    if kind == "caches":
        out = run_caches(float(sys.argv[2]))
    elif kind == "uniform":
        out = run_uniform(float(sys.argv[2]))
    else:
        out = run_gc(sys.argv[2], float(sys.argv[3]))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
