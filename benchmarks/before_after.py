"""A change against the code before it, in one run: hit path, L1 get, tick, dashboard.

    python benchmarks/before_after.py main~3          # HEAD's working tree vs that revision
    python benchmarks/before_after.py REV --rounds 20
    python benchmarks/before_after.py REV --no-dashboard   # the micro figures only

Each round starts fresh processes per side, alternating which side goes first, so drift on
a shared machine hits both alike and the spread between processes is in the figures (one
process measures one process's luck): PROBE (the cached hit, `MultiLevelCache` L1 get, its
get that misses L1 and reads SQLite, its set straight to SQLite and with write-behind,
`Engine.tick()`) and `dashboard_probe.py` (the headless dashboard's startup CPU, its CPU
over 20 snapshots and its RSS after them). Only public names are used, so any two
revisions since wave 27 compare; both probes come from this tree and assert they imported
the side they were meant to. Prints a markdown table: the median over rounds of each
side, the ratio after / before, each side's min..max over rounds relative to before's
median, and "no change" when the after median lies inside before's range.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.harness import worktree

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import json, shutil, sys, tempfile, time
from pathlib import Path
import tui_perf
from tui_perf import Engine, EngineConfig, MemoryTier, MultiLevelCache, PickleCodec, Registry
from tui_perf import SQLiteTier, cached
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

# The L2 read path: an L1 of 16 entries and keys cycling over 2000, so every get misses L1,
# reads SQLite (and, since wave 29, the generation record) and decodes a signed pickle.
tmp = Path(tempfile.mkdtemp(prefix="before-after-"))
codec = PickleCodec(b"bench-key-0123456789abcdef")
value = {"id": 1, "name": "x" * 100, "tags": [1, 2, 3]}
def l2_cache(name, **kw):
    return MultiLevelCache(name, l1=MemoryTier(maxsize=16), l2=SQLiteTier(tmp / f"{name}.db"),
                           codec=codec, registry=Registry(), **kw)
reader = l2_cache("reader")
miss_keys = [f"k{i}" for i in range(2000)]
for k in miss_keys:
    reader.set(k, value)
assert reader.get("k0") == value and reader.get("k1") == value  # a hit in L2, not a miss

def l1_miss_get(n):
    g, keys = reader.get, miss_keys
    for i in range(n):
        g(keys[i % 2000])

direct = l2_cache("direct")
behind = l2_cache("behind", write_behind=True, batch_size=256, flush_interval=3600)
counter = iter(range(10**9))

def set_direct(n):
    s = direct.set
    for _ in range(n):
        s(f"d{next(counter)}", value)

def set_behind(n):
    s = behind.set
    for _ in range(n):
        s(f"w{next(counter)}", value)
    behind.flush()  # the batched writes are part of the cost

values = {
    "cached hit": per_op(hit, 200_000) * 1e9,
    "MultiLevelCache L1 get": per_op(l1_get, 200_000) * 1e9,
    "MultiLevelCache get, L1 miss, SQLite": per_op(l1_miss_get, 20_000) * 1e9,
    "MultiLevelCache set, straight to SQLite": per_op(set_direct, 2_000) * 1e9,
    "MultiLevelCache set, write-behind": per_op(set_behind, 10_000) * 1e9,
    "Engine.tick()": per_op(tick, 2_000) * 1e9,
}
for c in (reader, direct, behind):
    c.close()
shutil.rmtree(tmp, ignore_errors=True)
print(json.dumps({"values": values, "units": {name: "ns" for name in values}}))
"""


DASHBOARD_PROBE = ROOT / "benchmarks" / "dashboard_probe.py"


def _run(tree: Path, args: list[str]) -> dict[str, dict[str, Any]]:
    """One probe in a fresh process importing `tree`'s package: its values and units."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, *args, str(tree)], capture_output=True, text=True, env=env, cwd=tree
    )
    if out.returncode:
        sys.exit(f"the probe {args[-1][:40]!r} failed in {tree}:\n{out.stderr}")
    result: dict[str, dict[str, Any]] = json.loads(out.stdout)
    return result


def _measure(tree: Path, dashboard: bool) -> tuple[dict[str, float], dict[str, str]]:
    values: dict[str, float] = {}
    units: dict[str, str] = {}
    probes = [["-c", PROBE]] + ([[str(DASHBOARD_PROBE)]] if dashboard else [])
    for probe in probes:
        result = _run(tree, probe)
        values.update(result["values"])
        units.update(result["units"])
    return values, units


def table(samples: dict[str, list[dict[str, float]]], units: dict[str, str]) -> list[str]:
    """The markdown table: medians, the ratio, each side's range / before's median."""
    lines = [
        "| what | before | after | after/before | before min..max | after min..max | reading |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, unit in units.items():
        b = [s[name] for s in samples["before"]]
        a = [s[name] for s in samples["after"]]
        mb, ma = statistics.median(b), statistics.median(a)
        # inside before's own spread over rounds: the change cannot be told from the noise
        inside = min(b) <= ma <= max(b)
        reading = "no change" if inside else ("lower" if ma < mb else "higher")
        lines.append(
            f"| {name} | {_fmt(mb, unit)} | {_fmt(ma, unit)} | {ma / mb:.3f} "
            f"| {min(b) / mb:.2f}..{max(b) / mb:.2f} | {min(a) / mb:.2f}..{max(a) / mb:.2f} "
            f"| {reading} |"
        )
    return lines


def _fmt(value: float, unit: str) -> str:
    return f"{value:.1f} {unit}" if unit == "MiB" else f"{value:.0f} {unit}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="the git revision to compare against")
    parser.add_argument("--rounds", type=int, default=12, help="processes per side (default 12)")
    parser.add_argument(
        "--no-dashboard", action="store_true", help="skip the dashboard's figures (~7 s a side)"
    )
    args = parser.parse_args()
    units: dict[str, str] = {}
    with worktree(args.before) as before:
        sides = {"before": before, "after": ROOT}
        samples: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for r in range(args.rounds):
            order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
            for side in order:
                values, units = _measure(sides[side], not args.no_dashboard)
                samples[side].append(values)
            print(f"\r  round {r + 1}/{args.rounds}", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    print("\n".join(table(samples, units)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
