"""Allocate ~500 MiB of 2 KiB objects, keep every 64th, free the rest, run the ladder.

Prints one JSON line: RSS at start, before and after the cleanup, and the per-rung report.
"""

from __future__ import annotations

import json
import sys

from tui_perf.engine.memory import MemoryGuard
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import default_probe
from tui_perf.model.snapshot import to_dict


def main(total_mib: int) -> None:
    probe = default_probe()

    def rss() -> int:
        return probe.read().rss

    baseline = rss()
    objects = [bytearray(2048) for _ in range(total_mib * 1024 * 1024 // 2048)]
    peak = rss()
    kept = objects[::64]  # one in 64 survives: the heap is riddled with holes
    del objects
    before = rss()
    guard = MemoryGuard(8 * 1024**3, rss=rss, registry=Registry())
    report = guard.emergency_cleanup()
    after = rss()
    print(
        json.dumps(
            {
                "baseline": baseline,
                "peak": peak,
                "before": before,
                "after": after,
                "kept": len(kept),
                "report": to_dict(report),
            }
        )
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
