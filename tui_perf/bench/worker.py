"""A worker process for `--processes N`: loads the benchmarks, runs one, prints JSON."""

from __future__ import annotations

import json
import sys


def main() -> None:
    spec = json.loads(sys.argv[1])
    from tui_perf.bench.registry import load
    from tui_perf.bench.runner import RunConfig, measure
    from tui_perf.bench.suite import builtin

    benches = load(spec["targets"]) if spec["targets"] else builtin()
    bench = next(b for b in benches if b.name == spec["name"])
    config = RunConfig(
        min_time=spec["min_time"],
        values=max(2, spec["values"]),
        warmups=spec["warmups"],
        gc_enabled=spec["gc"],
    )
    run = measure(bench, config, values=spec["values"], loops=spec["loops"])
    print(json.dumps({"values": run.values, "error": run.error}))


if __name__ == "__main__":
    main()
