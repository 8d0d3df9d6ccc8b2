"""The cleanup ladder's effect on a fragmented heap, in a fresh process.

Goal: after `emergency_cleanup()`, what remains of RSS above its pre-workload level is at
most 10% of what was above it just before the cleanup.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import Comparison

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def run(quick: bool) -> tuple[list[Comparison], dict[str, object]]:
    total = 100 if quick else 500
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.ladder_worker", str(total)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    data = json.loads(out.stdout)
    above_before = data["before"] - data["baseline"]
    above_after = data["after"] - data["baseline"]
    ratio = above_after / above_before
    rungs = "; ".join(
        f"{r['name']}: {(r['rss_before'] - r['rss_after']) / MiB:+.0f} MiB released"
        + (f" (skipped: {r['skipped']})" if r["skipped"] else "")
        for r in data["report"]["rungs"]
    )
    return [
        Comparison(
            benchmark=f"ladder on {total} MiB of 2 KiB objects, 1 in 64 kept",
            ours=f"{above_after / MiB:.0f} MiB above start after cleanup",
            peer=f"{above_before / MiB:.0f} MiB above start before",
            ratio=ratio,
            ratio_means="share remaining, lower is better",
            goal="<= 0.10",
            met=ratio <= 0.10,
            note=f"per rung: {rungs}",
        )
    ], data
