"""A worker process: loads the benchmarks, runs the named ones, writes JSON to a pipe.

The result goes to the file descriptor the parent passed, not to stdout, so a benchmark that
prints cannot corrupt it.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    spec = json.loads(sys.argv[1])
    out_fd = int(sys.argv[2])
    import statistics

    from tui_perf.bench.reference import sample
    from tui_perf.bench.registry import find
    from tui_perf.bench.runner import RunConfig, measure

    config = RunConfig(
        min_time=spec["min_time"],
        values=max(1, spec["values"]),
        warmups=spec["warmups"],
        processes=1,
        gc_enabled=spec["gc"],
    )
    results = {}
    timings: list[float] = []
    for name in spec["names"]:
        bench = find(spec["targets"], name)
        run = measure(bench, config, loops=spec["loops"][name])
        results[name] = {"values": run.values, "reference": 0.0, "error": run.error}
        timings += sample(15 if len(spec["names"]) == 1 else 5)
    reference = statistics.median(timings)  # this process's speed: one figure for all
    for result in results.values():
        result["reference"] = reference
    with os.fdopen(out_fd, "w") as out:
        json.dump(results, out)


if __name__ == "__main__":
    main()
