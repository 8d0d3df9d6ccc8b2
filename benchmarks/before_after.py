"""A change against the code before it, in one run: the hit path, the L1 get and the tick.

    python benchmarks/before_after.py main~3          # HEAD's working tree vs that revision
    python benchmarks/before_after.py REV --rounds 20

Each round starts one fresh process per side, alternating which goes first, so drift on a
shared machine hits both alike and the spread between processes is in the figures (one
process measures one process's luck). Only public names are used (`tui_perf.cached`,
`MultiLevelCache`, `Engine`), so any two revisions compare. The figure is the median over
rounds of each side's per-operation time, and the ratio after / before.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.harness import worktree

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, sys, time
import tui_perf
from tui_perf import Engine, EngineConfig, MemoryTier, MultiLevelCache, Registry, cached
assert tui_perf.__file__.startswith(sys.argv[1]), tui_perf.__file__

def per_op(fn, loops, repeat=5):
    fn(loops // 10)
    best = []
    for _ in range(repeat):
        t0 = time.perf_counter(); fn(loops); best.append((time.perf_counter() - t0) / loops)
    best.sort()
    return best[len(best) // 2]

@cached(maxsize=1024, registry=Registry())
def square(x):
    return x * x

def hit(n):
    f = square
    for _ in range(n):
        f(7)

cache = MultiLevelCache("bench", l1=MemoryTier(maxsize=1024), registry=Registry())
cache.set("k", 1)

def l1_get(n):
    g = cache.get
    for _ in range(n):
        g("k")

engine = Engine(EngineConfig(), registry=Registry())

def tick(n):
    t = engine.tick
    for _ in range(n):
        t()

print(json.dumps({
    "cached hit": per_op(hit, 200_000),
    "MultiLevelCache L1 get": per_op(l1_get, 200_000),
    "Engine.tick()": per_op(tick, 2_000),
}))
"""


def _measure(tree: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(tree)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
    )
    if out.returncode:
        sys.exit(f"the probe failed in {tree}:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="the git revision to compare against")
    parser.add_argument("--rounds", type=int, default=12, help="processes per side (default 12)")
    args = parser.parse_args()
    with worktree(args.before) as before:
        sides = {"before": before, "after": ROOT}
        samples: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for r in range(args.rounds):
            order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
            for side in order:
                samples[side].append(_measure(sides[side]))
            print(f"\r  round {r + 1}/{args.rounds}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    print(
        f"{'what':<26} {'before':>10} {'after':>10} {'after/before':>13}"
        "  each side's min..max over rounds, / before's median"
    )
    for name in samples["after"][0]:
        b = [s[name] for s in samples["before"]]
        a = [s[name] for s in samples["after"]]
        mb, ma = statistics.median(b), statistics.median(a)
        spread = f"before {min(b) / mb:.2f}..{max(b) / mb:.2f}, "
        spread += f"after {min(a) / mb:.2f}..{max(a) / mb:.2f}"
        print(f"{name:<26} {mb * 1e9:>8.0f}ns {ma * 1e9:>8.0f}ns {ma / mb:>13.3f}  {spread}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
