"""The profilers against the truth (#31): five workloads, each sampler's largest share error.

    python -m benchmarks.bench_profile_accuracy [--seconds 10] [--reps 1] [--cost-reps 8]

Each workload (`profile_workloads/workloads.py`) runs in a fresh process and measures its own
truth: the CPU time inside each function, per thread, with `time.thread_time` around every
call, in the same run the sampler samples. For each sampler the share of each function
(inclusive, over the samples under the workload's roots) is set against the truth's share
(over the CPU time inside the roots), and the largest difference in points is reported, with
the samples against CPU time x rate.

Samplers, each at 100 Hz:
- `in-process (CPU timer)`: ours as `tui-perf profile` runs it, `--rate 100` fixed;
- `in-process (thread)`: ours where the timer is refused (off the main thread; the agent);
- `py-spy`: `py-spy record --format raw -r 100 -- python child ...`;
- `outside (ours)`: the hook below, when `tui_perf.profile.outside.profile_pid` exists.

Then the in-process sampler's cost at 100 Hz fixed: the a/b/c workload's time per unit of
work in fresh processes, off against each driver, interleaved; the change is the
Hodges-Lehmann estimate with its 95% interval (`tui_perf.bench.compare.judge`).

Goals (#31): in-process <= 3 points on every workload, burst included; samples within 10%
of CPU time x rate; cost <= 1% at 100 Hz.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.harness import PUBLISHED, machine
from benchmarks.profile_workloads.child import stack_shares
from benchmarks.profile_workloads.workloads import WORKLOADS
from tui_perf.bench.compare import judge

ROOT = Path(__file__).resolve().parent.parent
CHILD = [sys.executable, "-m", "benchmarks.profile_workloads.child"]
RATE = 100.0
#: the burst workload uses a fifth of a core: it runs longer for as many samples
LONGER = {"burst": 4.0, "threads": 1.0}
GOAL_POINTS = 3.0


# -- the outside sampler's slot ---------------------------------------------------------------

#: `profile_pid(pid, rate_hz, duration_s)` -> a `CallTree` (or folded text, `thread;frame
#: (file:line);... N`), sampling the process `pid` from outside for `duration_s`. Provided
#: by `tui_perf.profile.outside` (w31-outside); None while it does not exist.
OutsideSampler = Callable[[int, float, float], Any]


def outside_sampler() -> OutsideSampler | None:
    try:
        module = importlib.import_module("tui_perf.profile.outside")
    except ImportError:
        return None
    fn = getattr(module, "profile_pid", None)
    return fn if callable(fn) else None


def _stacks_of(result: Any, skip_thread: bool) -> list[tuple[list[str], float, int]]:
    """Stacks as (function names outermost first, weight, samples), from a `CallTree` or
    from folded/raw text (py-spy's raw lines have no thread; ours start with it)."""
    if hasattr(result, "stacks"):
        return [
            ([getattr(f, "function", str(f)) for f in path[1:]], row[0], int(row[1]))
            for path, row in result.stacks.items()
        ]
    out = []
    for line in str(result).splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")[1 if skip_thread else 0 :]
        names = [f.split(" (")[0] for f in frames]
        out.append((names, float(count), int(float(count))))
    return out


# -- one run ---------------------------------------------------------------------------------


def _child(workload: str, seconds: float, mode: str, out: Path) -> list[str]:
    return [*CHILD, workload, f"{seconds:g}", mode, str(out)]


def run_ours(workload: str, seconds: float, mode: str, tmp: Path) -> dict[str, Any]:
    out = tmp / f"{workload}-{mode}.json"
    subprocess.run(_child(workload, seconds, mode, out), cwd=ROOT, check=True)
    return dict(json.loads(out.read_text()))


def run_pyspy(workload: str, seconds: float, tmp: Path) -> dict[str, Any] | None:
    pyspy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if pyspy is None:
        return None
    out, raw = tmp / f"{workload}-pyspy.json", tmp / f"{workload}-pyspy.txt"
    cmd = [pyspy, "record", "--format", "raw", "-r", f"{RATE:g}", "-o", str(raw), "--"]
    subprocess.run(
        cmd + _child(workload, seconds, "none", out), cwd=ROOT, check=True, capture_output=True
    )
    result = dict(json.loads(out.read_text()))
    _, functions, roots = WORKLOADS[workload]
    result["sampled"] = stack_shares(_stacks_of(raw.read_text(), False), functions, roots)
    return result


def run_outside(
    workload: str, seconds: float, tmp: Path, sampler: OutsideSampler
) -> dict[str, Any]:
    out = tmp / f"{workload}-outside.json"
    child = subprocess.Popen(_child(workload, seconds, "none", out), cwd=ROOT)
    got: dict[str, Any] = {}

    def sample() -> None:
        try:
            got["tree"] = sampler(child.pid, RATE, seconds * 0.9)
        except Exception as exc:  # the report says why rather than losing the others
            got["error"] = f"{type(exc).__name__}: {exc}"

    t = threading.Thread(target=sample)
    t.start()
    child.wait()
    t.join()
    result = dict(json.loads(out.read_text()))
    if "error" in got:
        result["error"] = got["error"]
        return result
    _, functions, roots = WORKLOADS[workload]
    tree = got["tree"]
    result["sampled"] = stack_shares(
        _stacks_of(tree, skip_thread=not hasattr(tree, "stacks")), functions, roots
    )
    return result


# -- scoring ---------------------------------------------------------------------------------


def pooled(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of one workload and sampler as one: truths and weights summed."""
    truth: dict[str, float] = defaultdict(float)
    weights: dict[str, float] = defaultdict(float)
    first = results[0]
    out: dict[str, Any] = {"truth_total": 0.0, "process_cpu_s": 0.0, "rounds": 0}
    total, samples = 0.0, 0
    for r in results:
        for k, v in r["truth"].items():
            truth[k] += v
        out["truth_total"] += r["truth_total"]
        out["process_cpu_s"] += r["process_cpu_s"]
        s = r["sampled"]
        for k, v in s["weights"].items():
            weights[k] += v
        total += s["total"]
        samples += s["samples"]
        out["rounds"] += r.get("status", {}).get("rounds", 0)
    out.update(truth=truth, sampled={"weights": weights, "total": total, "samples": samples})
    out["status"] = first.get("status", {})
    return out


def score(workload: str, result: dict[str, Any], sampler: str) -> dict[str, Any]:
    _, functions, _ = WORKLOADS[workload]
    truth, total = result["truth"], result["truth_total"]
    sampled = result["sampled"]
    shares = {}
    for f in functions:
        true_share = 100 * truth.get(f, 0.0) / total if total else 0.0
        share = 100 * sampled["weights"][f] / sampled["total"] if sampled["total"] else 0.0
        shares[f] = {"truth": round(true_share, 1), "sampled": round(share, 1)}
    worst = max(abs(v["truth"] - v["sampled"]) for v in shares.values())
    expected = result["truth_total"] * RATE
    row: dict[str, Any] = {
        "workload": workload,
        "sampler": sampler,
        "largest_error_points": round(worst, 1),
        "shares": shares,
        "samples": sampled["samples"],
        "cpu_s": round(result["truth_total"], 2),
        "samples_over_cpu_x_rate": round(sampled["samples"] / expected, 2) if expected else None,
    }
    if sampler.startswith("in-process"):
        # ours takes a round per tick of the process's CPU, and in a round every thread
        # that ran is a sample: rounds are what "samples vs CPU x rate" is about
        rounds, cpu = result["rounds"], result["process_cpu_s"]
        row["rounds"] = rounds
        row["rounds_over_cpu_x_rate"] = round(rounds / (cpu * RATE), 2) if cpu else None
        row["achieved_hz"] = round(result["status"].get("achieved_hz", 0.0), 1)
        row["cost_percent"] = round(100 * result["status"].get("cost_fraction", 0.0), 2)
    return row


def accuracy(seconds: float, reps: int) -> list[dict[str, Any]]:
    rows = []
    outside = outside_sampler()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for workload in WORKLOADS:
            s = seconds * LONGER.get(workload, 1.0)
            runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for _ in range(reps):
                runs["in-process (CPU timer)"].append(run_ours(workload, s, "cpu-timer", tmp))
                runs["in-process (thread)"].append(run_ours(workload, s, "thread", tmp))
                spy = run_pyspy(workload, s, tmp)
                if spy is not None:
                    runs["py-spy"].append(spy)
                if outside is not None:
                    got = run_outside(workload, s, tmp, outside)
                    if "error" in got:
                        rows.append({"workload": workload, "sampler": "outside (ours)", **got})
                    else:
                        runs["outside (ours)"].append(got)
            for sampler, results in runs.items():
                row = score(workload, pooled(results), sampler)
                rows.append(row)
                print(
                    f"{workload:8} {sampler:24} {row['largest_error_points']:5.1f} points, "
                    f"{row['samples']} samples, {row['samples_over_cpu_x_rate']} of CPU x rate",
                    file=sys.stderr,
                )
        if outside is None:
            rows.append({"sampler": "outside (ours)", "note": "tui_perf.profile.outside absent"})
    return rows


# -- cost ------------------------------------------------------------------------------------


def cost(seconds: float, reps: int) -> dict[str, Any]:
    """Time per a/b/c round, off vs each driver at 100 Hz fixed, in fresh processes."""
    modes = ("none", "cpu-timer", "thread")
    per_unit: dict[str, list[float]] = {m: [] for m in modes}
    own: dict[str, list[float]] = {m: [] for m in modes[1:]}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for r in range(reps):
            order = list(modes) if r % 2 == 0 else list(reversed(modes))
            for mode in order:
                result = run_ours("abc", seconds, mode, tmp)
                per_unit[mode].append(result["wall_s"] / result["calls"]["func_a"])
                if mode != "none":
                    own[mode].append(100 * result["status"]["cost_fraction"])
    off = [[v] for v in per_unit["none"]]
    out: dict[str, Any] = {"reps": reps, "seconds": seconds}
    for mode in modes[1:]:
        v = judge(mode, off, [[x] for x in per_unit[mode]], interleaved=True)
        out[mode] = {
            "change_percent": round(100 * (v.ratio - 1), 2),
            "ci95_percent": [round(100 * (v.ci_low - 1), 2), round(100 * (v.ci_high - 1), 2)],
            "own_cpu_percent_median": round(sorted(own[mode])[len(own[mode]) // 2], 2),
        }
        print(f"cost {mode}: {out[mode]}", file=sys.stderr)
    return out


# -- report ----------------------------------------------------------------------------------


def markdown(rows: list[dict[str, Any]], costs: dict[str, Any], args: argparse.Namespace) -> str:
    lines = [
        "# Profiler accuracy against the truth (#31)",
        "",
        f"`python -m benchmarks.bench_profile_accuracy --seconds {args.seconds:g} "
        f"--reps {args.reps} --cost-reps {args.cost_reps}`; 100 Hz; truth: `time.thread_time` "
        "around every call, in the same run. Error: the largest |sampled share - true share| "
        "over the workload's functions, in points (goal: in-process <= 3).",
        "",
        "| workload | sampler | largest error (points) | samples | samples / (CPU s x rate) "
        "| rounds / (process CPU s x rate) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        if "largest_error_points" not in r:
            why = r.get("note") or r.get("error", "")
            lines.append(f"| {r.get('workload', 'all')} | {r['sampler']} | {why} | | | |")
            continue
        lines.append(
            f"| {r['workload']} | {r['sampler']} | {r['largest_error_points']} | {r['samples']} "
            f"| {r['samples_over_cpu_x_rate']} | {r.get('rounds_over_cpu_x_rate', '')} |"
        )
    lines += [
        "",
        "Shares (true / sampled, percent):",
        "",
    ]
    for r in rows:
        if "shares" in r:
            parts = ", ".join(f"{f} {v['truth']}/{v['sampled']}" for f, v in r["shares"].items())
            lines.append(f"- {r['workload']}, {r['sampler']}: {parts}")
    lines += [
        "",
        f"## Cost at 100 Hz fixed (a/b/c workload, {costs['reps']} fresh processes a side, "
        f"{costs['seconds']:g} s each, interleaved; goal <= 1%)",
        "",
        "| driver | time per unit of work | 95% interval | the rounds' own CPU |",
        "| --- | --- | --- | --- |",
    ]
    for mode in ("cpu-timer", "thread"):
        c = costs[mode]
        lo, hi = c["ci95_percent"]
        lines.append(
            f"| {mode} | {c['change_percent']:+.2f}% | {lo:+.2f}% .. {hi:+.2f}% "
            f"| {c['own_cpu_percent_median']:.2f}% of a core |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--cost-seconds", type=float, default=3.0)
    parser.add_argument("--cost-reps", type=int, default=8)
    parser.add_argument("--out", type=Path, default=PUBLISHED)
    args = parser.parse_args()
    rows = accuracy(args.seconds, args.reps)
    costs = cost(args.cost_seconds, args.cost_reps)
    args.out.mkdir(parents=True, exist_ok=True)
    doc = {"machine": machine(), "rate_hz": RATE, "accuracy": rows, "cost": costs}
    (args.out / "profile_accuracy.json").write_text(json.dumps(doc, indent=2) + "\n")
    (args.out / "profile_accuracy.md").write_text(markdown(rows, costs, args))
    print(f"written to {args.out}/profile_accuracy.{{json,md}}", file=sys.stderr)


if __name__ == "__main__":
    main()
