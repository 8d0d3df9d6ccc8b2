"""A worker process: loads the benchmarks, runs the named ones, writes JSON lines to a pipe.

One line per benchmark as soon as it is done, so when a benchmark kills its process (a
segfault, `os._exit`) the parent knows which one did it and keeps the others' results. The
lines go to the file descriptor the parent passed, not to stdout, so a benchmark that prints
cannot corrupt them. Each line carries the reference timings taken after that benchmark.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    spec = json.loads(sys.argv[1])
    from tui_perf.bench.lookup import find
    from tui_perf.bench.reference import sample
    from tui_perf.bench.runner import RunConfig, measure

    config = RunConfig(
        min_time=spec["min_time"],
        values=max(1, spec["values"]),
        warmups=spec["warmups"],
        processes=1,
        gc_enabled=spec["gc"],
    )
    per_bench = 15 if len(spec["names"]) == 1 else 5
    with os.fdopen(int(sys.argv[2]), "w") as out:
        for name in spec["names"]:
            bench = find(spec["targets"], name)
            run = measure(bench, config, loops=spec["loops"][name] or None)
            line = {"name": name, "values": run.values, "error": run.error, "loops": run.loops}
            line["reference"] = sample(per_bench)
            out.write(json.dumps(line) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
