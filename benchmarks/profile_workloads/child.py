"""One workload in a fresh process: `python -m benchmarks.profile_workloads.child WORKLOAD
SECONDS MODE OUT.json`.

MODE: `none` (sampled from outside, or not at all), `cpu-timer` or `thread` (our in-process
sampler at 100 Hz fixed, started before the workload and stopped after it). Writes the truth
(thread CPU seconds per function), the calls made, the wall time, and for our sampler its
per-function weights over the stacks under the workload's roots, its samples there and its
status.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.profile_workloads.workloads import WORKLOADS, Truth


def stack_shares(
    stacks: list[tuple[list[str], float, int]], functions: tuple[str, ...], roots: tuple[str, ...]
) -> dict[str, Any]:
    """Per function, the weight of the stacks under a root that hold it (inclusive), the
    weight and samples under the roots. `stacks`: (function names outermost first, weight,
    samples), for our tree (weights in CPU seconds) and py-spy's raw lines (counts) alike."""
    weights = dict.fromkeys(functions, 0.0)
    total, samples = 0.0, 0
    for names, weight, count in stacks:
        if not any(n in roots for n in names):
            continue
        total += weight
        samples += count
        present = set(names)
        for f in functions:
            if f in present:
                weights[f] += weight
    return {"weights": weights, "total": total, "samples": samples}


def main() -> None:
    name, seconds, mode, out = sys.argv[1], float(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    run, functions, roots = WORKLOADS[name]
    truth = Truth()
    profiler = None
    if mode != "none":
        from tui_perf.profile.sampler import Profiler, ProfilerConfig

        sampler = "auto" if mode == "cpu-timer" else "thread"
        profiler = Profiler(ProfilerConfig(rate_hz=100, adaptive=False, sampler=sampler))
        profiler.start()
        if profiler.sampler != ("cpu-timer" if mode == "cpu-timer" else "thread"):
            raise SystemExit(f"asked for {mode}, got {profiler.sampler}: {profiler.note}")
    t0, cpu0 = time.monotonic(), time.process_time()
    if name == "threads":
        run(seconds, truth)  # its workers time themselves under their roots
    else:
        truth.timed(roots[0], lambda: run(seconds, truth))
    wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
    result: dict[str, Any] = {
        "workload": name,
        "mode": mode,
        "wall_s": wall,
        "process_cpu_s": cpu,
        "truth": dict(truth.seconds),
        "calls": dict(truth.calls),
        "truth_total": sum(truth.seconds[r] for r in roots),
    }
    if profiler is not None:
        profiler.stop()
        tree = profiler.tree_copy()
        stacks = [
            ([getattr(f, "function", str(f)) for f in path[1:]], row[0], int(row[1]))
            for path, row in tree.stacks.items()
        ]
        result["sampled"] = stack_shares(stacks, functions, roots)
        result["status"] = dataclasses.asdict(profiler.status())
    out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
