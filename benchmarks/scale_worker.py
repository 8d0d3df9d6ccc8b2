"""One size of `bench_scale`: N caches or pools in a fresh process, the agent as
`tui_perf.agent.start()` leaves it, ticks timed; prints one JSON line.

python benchmarks/scale_worker.py caches|pools N TICKS MAX_WALL_S
python benchmarks/scale_worker.py cpu N SECONDS 0

The tick phase drives `engine.tick()` from here, with the engine's clock advanced 1 s a tick
(so the advice rules run every 5th tick and curves refresh every 10th, as at 1 Hz), and the
agent's own thread parked on a long interval so that it does not tick beside us. The cpu
phase lets the agent tick on its thread at 1 Hz in real time, waits WARM_S (the rules judge
a window of 30 s or more) and then counts its threads' CPU for SECONDS.
Light traffic: each tick, every 10th cache (a rotating tenth) gets 4 lookups over 80 keys
(64 of them warm), each pool 10% likewise gets a get and a put.
"""

from __future__ import annotations

import gc
import json
import os
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

#: the share of caches or pools a tick's traffic touches: every one within 10 ticks
SLICES = 10
#: the cpu phase's time before counting: the advice rules judge a window of 30 s or more
WARM_S = 40.0


def rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss / 1e6)


def make_caches(n: int) -> list[Callable[[int], int]]:
    from tui_perf.caches.decorator import cached

    funcs: list[Callable[[int], int]] = []
    for i in range(n):

        def f(k: int) -> int:
            return k * 2

        funcs.append(cached(name=f"scale.cache{i:05d}", maxsize=128)(f))
    for g in funcs:
        for k in range(64):
            g(k)
    return funcs


def make_pools(n: int) -> list[Any]:
    from tui_perf.pools.objects import ObjectPool

    pools: list[Any] = [
        ObjectPool(dict, max_idle=4, max_size=8, name=f"scale.pool{i:05d}") for i in range(n)
    ]
    for p in pools:
        p.put(p.get())
    return pools


def traffic(kind: str, members: list[Any], tick: int, rng: random.Random) -> None:
    for i in range(tick % SLICES, len(members), SLICES):
        m = members[i]
        if kind == "pools":
            m.put(m.get())
        else:
            for _ in range(4):
                m(rng.randrange(80))


def other_threads_cpu_s(main_id: int) -> float:
    total = 0.0
    for t in psutil.Process().threads():
        if t.id == main_id:
            continue
        try:
            with open(f"/proc/self/task/{t.id}/schedstat") as f:
                total += int(f.read().split()[0]) / 1e9
        except OSError:
            pass
    return total


def tick_phase(kind: str, n: int, ticks: int, max_wall: float) -> dict[str, Any]:
    import tui_perf.agent
    from tui_perf.advice.commands import state_of
    from tui_perf.agent.protocol import decode, encode
    from tui_perf.engine.core import Engine, EngineConfig
    from tui_perf.model.snapshot import Snapshot

    members = make_caches(n) if kind == "caches" else make_pools(n)
    rss_before = rss_mb()
    now = [time.monotonic()]
    start_mono, start_wall = now[0], time.time()
    engine = Engine(
        EngineConfig(interval=3600.0),
        clock=lambda: now[0],
        wall=lambda: start_wall + now[0] - start_mono,
    )
    agent = tui_perf.agent.start(engine=engine, socket_path=f"/tmp/tui-perf-scale-{n}.sock")
    rng = random.Random(1)
    times: list[float] = []
    cpu: list[float] = []  # the tick's own CPU time: what a shared, loaded machine leaves alone
    start = time.perf_counter()
    for t in range(ticks):
        traffic(kind, members, t, rng)
        now[0] += 1.0
        c0, t0 = time.thread_time(), time.perf_counter()
        engine.tick()
        times.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        if time.perf_counter() - start > max_wall:
            break
    rss_after = rss_mb()
    state = state_of(engine)
    checks = []
    for _ in range(3):
        c0 = time.thread_time()
        state.check()  # the window (new snapshots indexed) and the rules, as a tick runs it
        checks.append(time.thread_time() - c0)
        if checks[-1] > 1.0:
            break  # main's quadratic check: once is enough to see it
    snap = engine.snapshot()
    assert snap is not None
    t0 = time.perf_counter()
    frame = encode({"type": "snapshot", "data": snap.to_dict()})
    t1 = time.perf_counter()
    Snapshot.from_dict(decode(frame, limit=1 << 30)["data"])
    t2 = time.perf_counter()
    advice = snap.advice
    extra: dict[str, Any] = {}
    if advice is not None:
        memory = getattr(advice, "samplers", None)  # reported since issue #32
        if memory is not None:
            extra["samplers"] = {f: getattr(memory, f) for f in memory.__slots__}
        extra["curves"] = len(advice.curves)
    agent.stop()
    return {
        "kind": kind,
        "n": n,
        "ticks": len(times),
        "tick_median_ms": statistics.median(times) * 1e3,
        "tick_p99_ms": sorted(times)[int(0.99 * (len(times) - 1))] * 1e3,
        "tick_max_ms": max(times) * 1e3,
        "tick_cpu_median_ms": statistics.median(cpu) * 1e3,
        "tick_cpu_max_ms": max(cpu) * 1e3,
        "load_average": os.getloadavg()[0],
        "ticks_over_1s": sum(1 for x in times if x > 1.0),
        "rss_before_agent_mb": rss_before,
        "rss_after_mb": rss_after,
        "rules_check_ms": statistics.median(checks) * 1e3,
        "snapshot_json_bytes": len(frame),
        "encode_ms": (t1 - t0) * 1e3,
        "decode_ms": (t2 - t1) * 1e3,
        **extra,
    }


def cpu_phase(n: int, seconds: float) -> dict[str, Any]:
    import tui_perf.agent

    members = make_caches(n)
    main_id = threading.get_native_id()
    agent = tui_perf.agent.start(interval=1.0, socket_path=f"/tmp/tui-perf-scale-cpu-{n}.sock")
    rng = random.Random(2)
    tick = 0
    # the window must be long enough for the rules to judge (30 s) before counting
    warm_until = time.monotonic() + WARM_S
    while time.monotonic() < warm_until:
        traffic("caches", members, tick, rng)
        tick += 1
        time.sleep(1.0)
    cpu0, t0 = other_threads_cpu_s(main_id), time.monotonic()
    while time.monotonic() - t0 < seconds:
        traffic("caches", members, tick, rng)
        tick += 1
        time.sleep(1.0)
    cpu1, t1 = other_threads_cpu_s(main_id), time.monotonic()
    agent.stop()
    return {"kind": "cpu", "n": n, "seconds": t1 - t0, "cpu_share": (cpu1 - cpu0) / (t1 - t0)}


def main() -> None:
    kind, n, a, b = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    out = cpu_phase(n, a) if kind == "cpu" else tick_phase(kind, n, int(a), b)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
