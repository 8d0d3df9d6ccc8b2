"""Wall time of the default `tui-perf bench` run of the built-in suite, before and after.

    python benchmarks/suite_walltime.py REV [--rounds 3]

The default run (no flags, so the parallel-speedup table too) of REV's tree and of this
tree, alternating which goes first, each into a scratch history. Prints each side's times
and the median ratio after / before.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.harness import worktree

ROOT = Path(__file__).resolve().parent.parent


def _one(tree: Path, history: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tui_perf", "bench", "--history", str(history)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
    )
    if done.returncode not in (0, 1):
        sys.exit(f"the run in {tree} failed:\n{done.stderr}")
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="the git revision to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with worktree(args.before) as before, tempfile.TemporaryDirectory() as tmp:
        times: dict[str, list[float]] = {"before": [], "after": []}
        trees = {"before": before, "after": ROOT}
        for r in range(args.rounds):
            for side in ("before", "after") if r % 2 == 0 else ("after", "before"):
                times[side].append(_one(trees[side], Path(tmp) / f"{side}{r}.db"))
                print(f"  {side}: {times[side][-1]:.1f} s", file=sys.stderr, flush=True)
    b, a = statistics.median(times["before"]), statistics.median(times["after"])
    print(f"before {args.before}: {b:.1f} s  {' '.join(f'{x:.1f}' for x in times['before'])}")
    print(f"after (this tree): {a:.1f} s  {' '.join(f'{x:.1f}' for x in times['after'])}")
    print(f"after / before: {a / b:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
