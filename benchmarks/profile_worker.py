"""A workload for bench_profile: `python -m benchmarks.profile_worker WORKLOAD MODE SECONDS [OUT]`.

WORKLOAD: cpu (three functions in a 5:3:2 split) or alloc (lists, dicts and strings made and
dropped). MODE: off, ours (tui-perf's sampler at 100 Hz), pyinstrument (its default
interval). Prints one JSON line: work units a second, and for ours the sampler's own cost.
With OUT, ours writes its folded stacks there (the accuracy run, beside py-spy).
"""

from __future__ import annotations

import json
import sys
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


def main() -> None:
    workload, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    out = sys.argv[4] if len(sys.argv) > 4 else None
    unit = cpu_unit if workload == "cpu" else alloc_unit
    for _ in range(20):
        unit()  # warm
    profiler: Any = None
    if mode == "ours":
        from tui_perf.profile.sampler import Profiler, ProfilerConfig

        # held at 100 Hz (no adapting down): the cost asked about is the cost at 100 Hz
        profiler = Profiler(ProfilerConfig(rate_hz=100, max_cost=1.0))
        profiler.start()
    elif mode == "pyinstrument":
        import pyinstrument

        profiler = pyinstrument.Profiler()  # its default interval, 1 ms
        profiler.start()
    done = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        for _ in range(5):
            unit()
        done += 5
    elapsed = time.perf_counter() - t0
    result: dict[str, Any] = {"ops_per_s": done / elapsed}
    if mode == "ours":
        profiler.stop()
        status = profiler.status()
        result.update(
            cost=status.cost_fraction,
            samples=status.samples,
            achieved_hz=(status.samples + status.idle_samples) / status.duration_s,
        )
        if out:
            from tui_perf.profile.export import folded

            with open(out, "w") as f:
                f.write(folded(profiler.tree_copy()))
    elif mode == "pyinstrument":
        profiler.stop()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
