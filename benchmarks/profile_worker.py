"""A workload for bench_profile: `python -m benchmarks.profile_worker WORKLOAD MODE SECONDS [OUT]`.

WORKLOAD: cpu (three functions in a 5:3:2 split) or alloc (lists, dicts and strings made and
dropped). MODE: off, ours (tui-perf's sampler held at 100 Hz), default (the sampler as
shipped: 100 Hz adapting down to hold its cost at 1%), wake (a thread that only wakes at 100
Hz: the floor of any in-process sampler), pyinstrument (its default interval). Prints one
JSON line: work units a second, and for ours the sampler's own cost. With OUT, ours writes
its folded stacks there (the accuracy run, beside py-spy).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

UNIT = 4_000


def alpha() -> int:
    x = 0
    for i in range(5 * UNIT):
        x += i * i
    return x


def beta() -> int:
    x = 0
    for i in range(3 * UNIT):
        x += i * i
    return x


def gamma() -> int:
    x = 0
    for i in range(2 * UNIT):
        x += i * i
    return x


def cpu_unit() -> None:
    alpha()
    beta()
    gamma()


def alloc_unit() -> None:
    rows = [{"id": i, "name": f"row-{i}", "tags": [i, i + 1, i + 2]} for i in range(400)]
    text = ",".join(r["name"] for r in rows)
    del rows, text


class WakeOnly:
    """The floor of any sampling thread in the process: it wakes at 100 Hz, takes the GIL
    and reads `sys._current_frames()`, and does nothing with them."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def run(self) -> None:
        while not self.done.wait(0.01):
            sys._current_frames()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def main() -> None:
    workload, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    out = sys.argv[4] if len(sys.argv) > 4 else None
    unit = cpu_unit if workload == "cpu" else alloc_unit
    for _ in range(20):
        unit()  # warm
    profiler: Any = None
    if mode in ("ours", "default"):
        from tui_perf.profile.sampler import Profiler, ProfilerConfig

        # ours is held at 100 Hz (no adapting down): the cost asked about is the cost at
        # 100 Hz; default is what a user gets, adapting its rate to hold its cost at 1%
        profiler = Profiler(ProfilerConfig(rate_hz=100, max_cost=1.0 if mode == "ours" else 0.01))
        profiler.start()
    elif mode == "wake":
        profiler = WakeOnly()
        profiler.start()
    elif mode == "pyinstrument":
        import pyinstrument

        profiler = pyinstrument.Profiler()  # its default interval, 1 ms
        profiler.start()
    if mode == "default":  # let it settle on its rate (it adapts once a second) first
        settle = time.perf_counter() + 3.0
        while time.perf_counter() < settle:
            unit()
        profiler.reset()  # its cost and rate figures from here, with the work measured
    done = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        for _ in range(5):
            unit()
        done += 5
    elapsed = time.perf_counter() - t0
    result: dict[str, Any] = {"ops_per_s": done / elapsed}
    if mode in ("ours", "default"):
        profiler.stop()
        status = profiler.status()
        result.update(
            cost=status.cost_fraction,
            samples=status.samples,
            achieved_hz=(status.samples + status.idle_samples) / status.duration_s,
            rate_hz=status.rate_hz or profiler.rate_hz,
        )
        if out:
            from tui_perf.profile.export import folded

            with open(out, "w") as f:
                f.write(folded(profiler.tree_copy()))
    elif mode in ("pyinstrument", "wake"):
        profiler.stop()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
