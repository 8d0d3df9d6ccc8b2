"""Verdict reliability on real reruns: `tui-perf bench` against `pyperf compare_to`.

    python benchmarks/run.py verdicts          # 5 seed + 30 unchanged + 10 + 10, and precision
    python benchmarks/run.py verdicts --quick  # 2 + 6 + 3 + 3: a smoke run

A user's benchmark file with two benchmarks (about 100 µs and 1 ms; WORK scales both), run
as a CI job runs it: a fresh `tui-perf bench FILE` each time, against the default baseline
(the last 5 runs pooled), saved to history as CI would. Then the same file through a pyperf
script, each rerun compared with the previous unchanged run by `pyperf compare_to`'s rule (a
t-test, any size of change; and with `--min-speed 5`, the same threshold as ours). The two
tools alternate trial by trial, so the machine's moods land on both.

1. Seed: runs of unchanged code (ours: history for the pooled baseline and the noise floor).
2. A/A: reruns of unchanged code; a "slower" verdict is a false alarm.
3. 15% more work, then 5% more work (`--no-save`, so the baseline stays unchanged code).
4. Precision: the spread of each tool's reported median over reruns, pyperf given the same
   wall time per run as ours (its process count scaled to match).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Comparison

ROOT = Path(__file__).resolve().parent.parent

USER_FILE = """
import os
from tui_perf.bench import benchmark

WORK = float(os.environ.get("WORK", "1"))
N_SMALL, N_BIG = int(1500 * WORK), int(15000 * WORK)


def small_op():
    return sum(i * i for i in range(N_SMALL))


def big_op():
    return sum(i * i for i in range(N_BIG))


@benchmark()
def small(loops):
    for _ in range(loops):
        small_op()


@benchmark()
def big(loops):
    for _ in range(loops):
        big_op()
"""

PYPERF_FILE = """
import importlib.util, os, time
import pyperf

# The file comes in the environment: pyperf starts its workers with its own arguments.
spec = importlib.util.spec_from_file_location("user_bench", os.environ["USER_BENCH_FILE"])
user = importlib.util.module_from_spec(spec)
spec.loader.exec_module(user)


def timed(op):
    def time_func(loops):
        t0 = time.perf_counter()
        for _ in range(loops):
            op()
        return time.perf_counter() - t0
    return time_func


runner = pyperf.Runner()
runner.bench_time_func("small", timed(user.small_op))
runner.bench_time_func("big", timed(user.big_op))
"""

NAMES = ("small", "big")


class Trial:
    """Files and counters for one side-by-side run."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.user = tmp / "user_bench.py"
        self.user.write_text(USER_FILE)
        self.pyperf_script = tmp / "pyperf_bench.py"
        self.pyperf_script.write_text(PYPERF_FILE)
        self.history = tmp / "history.db"
        self.count = 0

    def ours(self, work: float, save: bool) -> dict[str, Any]:
        """One `tui-perf bench` run: {name: {verdict, median, noise}}, its wall time, exit."""
        self.count += 1
        out = self.tmp / f"ours{self.count}.json"
        args = [sys.executable, "-m", "tui_perf", "bench", str(self.user)]
        args += ["--history", str(self.history), "--json", str(out)]
        if not save:
            args.append("--no-save")
        t0 = time.perf_counter()
        done = subprocess.run(
            args, capture_output=True, text=True, env={**os.environ, "WORK": str(work)}
        )
        wall = time.perf_counter() - t0
        if done.returncode not in (0, 1):
            raise SystemExit(f"tui-perf bench failed:\n{done.stderr}")
        data = json.loads(out.read_text())
        per = {
            b["name"]: {
                "verdict": b.get("verdict", {}).get("verdict", "none"),
                "text": b.get("verdict", {}).get("text", ""),
                "median": b["median"],
                "noise": b.get("noise"),
            }
            for b in data["benchmarks"]
        }
        return {"per": per, "wall": wall, "exit": done.returncode}

    def pyperf(self, work: float, processes: int | None = None) -> tuple[Path, float]:
        self.count += 1
        out = self.tmp / f"pyperf{self.count}.json"
        args = [sys.executable, str(self.pyperf_script), "-o", str(out), "-q"]
        args += ["--inherit-environ", "WORK,USER_BENCH_FILE"]  # pyperf clears the rest
        if processes is not None:
            args += ["-p", str(processes)]
        t0 = time.perf_counter()
        env = {**os.environ, "WORK": str(work), "USER_BENCH_FILE": str(self.user)}
        done = subprocess.run(args, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"pyperf failed:\n{done.stderr}")
        return out, time.perf_counter() - t0


def pyperf_verdicts(ref: Path, new: Path, min_speed: float | None) -> dict[str, str]:
    """compare_to's call for each benchmark: slower / faster / same (not significant)."""
    import pyperf
    from pyperf._compare import CompareData, CompareResult  # what compare_to itself runs

    a = pyperf.BenchmarkSuite.load(str(ref))
    b = pyperf.BenchmarkSuite.load(str(new))
    out = {}
    for name in NAMES:
        result = CompareResult(
            CompareData("ref", a.get_benchmark(name)),
            CompareData("new", b.get_benchmark(name)),
            min_speed,
        )
        if not result.significant:
            out[name] = "same"
        else:
            out[name] = "slower" if result.norm_mean > 1 else "faster"
    return out


def pyperf_medians(path: Path) -> dict[str, float]:
    import pyperf

    suite = pyperf.BenchmarkSuite.load(str(path))
    return {name: suite.get_benchmark(name).median() for name in NAMES}


def _spread(medians: list[float]) -> tuple[float, float]:
    """(max/min - 1, CV) of a benchmark's reported medians over reruns."""
    return max(medians) / min(medians) - 1, statistics.stdev(medians) / statistics.fmean(medians)


def run(quick: bool) -> tuple[list[Comparison], dict[str, Any]]:
    seeds, aa, slow, precision = (2, 6, 3, 4) if quick else (5, 30, 10, 10)
    extra: dict[str, Any] = {"seeds": seeds, "aa_reruns": aa, "slow_reruns": slow}
    with tempfile.TemporaryDirectory(prefix="tui-perf-verdicts-") as tmp:
        t = Trial(Path(tmp))
        print(f"  seeding: {seeds} runs", file=sys.stderr)
        for _ in range(seeds):
            t.ours(1.0, save=True)
        ref, _ = t.pyperf(1.0)

        ours_false = {n: 0 for n in NAMES}
        pyperf_false = {n: 0 for n in NAMES}
        pyperf5_false = {n: 0 for n in NAMES}
        ours_runs_false = 0
        ours_walls, pyperf_walls = [], []
        aa_medians: dict[str, list[float]] = {n: [] for n in NAMES}
        pyperf_aa_medians: dict[str, list[float]] = {n: [] for n in NAMES}
        noise_seen: dict[str, list[float]] = {n: [] for n in NAMES}
        for i in range(aa):
            print(f"\r  unchanged: {i + 1}/{aa}", end="", file=sys.stderr, flush=True)
            ours = t.ours(1.0, save=True)
            new, wall = t.pyperf(1.0)
            ours_walls.append(ours["wall"])
            pyperf_walls.append(wall)
            ours_runs_false += ours["exit"] == 1
            calls, calls5 = pyperf_verdicts(ref, new, None), pyperf_verdicts(ref, new, 5.0)
            for n in NAMES:
                ours_false[n] += ours["per"][n]["verdict"] == "slower"
                pyperf_false[n] += calls[n] == "slower"
                pyperf5_false[n] += calls5[n] == "slower"
                aa_medians[n].append(ours["per"][n]["median"])
                pyperf_aa_medians[n].append(pyperf_medians(new)[n])
                if ours["per"][n]["noise"] is not None:
                    noise_seen[n].append(ours["per"][n]["noise"])
            ref = new  # pyperf's baseline is the previous unchanged run
        print(file=sys.stderr)

        caught: dict[float, dict[str, Any]] = {}
        for work in (1.15, 1.05):
            ours_caught = {n: 0 for n in NAMES}
            py_caught = {n: 0 for n in NAMES}
            py5_caught = {n: 0 for n in NAMES}
            noise: dict[str, list[float]] = {n: [] for n in NAMES}
            texts: dict[str, list[str]] = {n: [] for n in NAMES}
            for i in range(slow):
                print(f"\r  {work:.2f}x work: {i + 1}/{slow}", end="", file=sys.stderr, flush=True)
                ours = t.ours(work, save=False)
                new, _ = t.pyperf(work)
                calls, calls5 = pyperf_verdicts(ref, new, None), pyperf_verdicts(ref, new, 5.0)
                for n in NAMES:
                    ours_caught[n] += ours["per"][n]["verdict"] == "slower"
                    py_caught[n] += calls[n] == "slower"
                    py5_caught[n] += calls5[n] == "slower"
                    texts[n].append(ours["per"][n]["text"])
                    if ours["per"][n]["noise"] is not None:
                        noise[n].append(ours["per"][n]["noise"])
            print(file=sys.stderr)
            caught[work] = {
                "ours": ours_caught,
                "pyperf": py_caught,
                "pyperf_min_speed_5": py5_caught,
                "noise_reported": {
                    n: statistics.median(v) if v else None for n, v in noise.items()
                },
                "ours_texts": texts,
            }

        # Precision at the same wall time: pyperf's processes scaled to our wall time.
        # pyperf's wall time is a fixed part (calibration) plus a part per process: fit the
        # line through its default (20 processes) and a probe with 4, then solve for ours.
        _, probe = t.pyperf(1.0, processes=4)
        per_process = max(1e-3, (statistics.median(pyperf_walls) - probe) / 16)
        fixed = probe - 4 * per_process
        matched = max(2, round((statistics.median(ours_walls) - fixed) / per_process))
        prec_ours: dict[str, list[float]] = {n: [] for n in NAMES}
        prec_py: dict[str, list[float]] = {n: [] for n in NAMES}
        prec_walls: list[float] = []
        for i in range(precision):
            print(f"\r  precision: {i + 1}/{precision}", end="", file=sys.stderr, flush=True)
            ours = t.ours(1.0, save=False)
            new, wall = t.pyperf(1.0, processes=matched)
            prec_walls.append(wall)
            for n in NAMES:
                prec_ours[n].append(ours["per"][n]["median"])
                prec_py[n].append(pyperf_medians(new)[n])
        print(file=sys.stderr)

    ours_wall, py_wall = statistics.median(ours_walls), statistics.median(pyperf_walls)
    extra.update(
        aa={
            "ours_false_slower": ours_false,
            "ours_runs_exit_1": ours_runs_false,
            "pyperf_false_slower": pyperf_false,
            "pyperf_min_speed_5_false_slower": pyperf5_false,
            "noise_reported": {
                n: statistics.median(v) if v else None for n, v in noise_seen.items()
            },
        },
        slowdowns={str(k): v for k, v in caught.items()},
        wall_s={
            "ours": ours_wall,
            "pyperf_default": py_wall,
            "pyperf_matched": statistics.median(prec_walls),
        },
        pyperf_matched_processes=matched,
        precision={
            "ours": {n: _spread(v) for n, v in prec_ours.items()},
            "pyperf_matched": {n: _spread(v) for n, v in prec_py.items()},
            "ours_over_aa_reruns": {n: _spread(v) for n, v in aa_medians.items()},
            "pyperf_default_over_aa_reruns": {n: _spread(v) for n, v in pyperf_aa_medians.items()},
        },
    )

    def counts(d: dict[str, int], of: int) -> str:
        return ", ".join(f"{n} {d[n]}/{of}" for n in NAMES)

    total_aa = aa * len(NAMES)
    false_ours = sum(ours_false.values())
    rows = [
        Comparison(
            f"false 'slower' on {aa} reruns of unchanged code (per benchmark)",
            counts(ours_false, aa),
            f"pyperf compare_to {counts(pyperf_false, aa)}; "
            f"with --min-speed 5: {counts(pyperf5_false, aa)}",
            false_ours / total_aa,
            "share of our verdicts that were false alarms",
            "0 of 30",
            false_ours == 0,
        )
    ]
    for work, goal in ((1.15, f"{slow} of {slow}"), (1.05, "report")):
        c = caught[work]
        got = sum(c["ours"].values())
        noise = ", ".join(
            f"{n} ±{v * 100:.1f}%" if v is not None else f"{n} not learned"
            for n, v in c["noise_reported"].items()
        )
        rows.append(
            Comparison(
                f"{round((work - 1) * 100)}% more work caught as 'slower' ({slow} runs)",
                counts(c["ours"], slow),
                f"pyperf compare_to {counts(c['pyperf'], slow)}; "
                f"with --min-speed 5: {counts(c['pyperf_min_speed_5'], slow)}",
                got / (slow * len(NAMES)),
                "share of our verdicts that caught it",
                goal,
                got == slow * len(NAMES) if goal != "report" else None,
                note=f"{round((work - 1) * 100)}% more work: noise floor reported {noise}",
            )
        )
    for n in NAMES:
        ours_range, ours_cv = extra["precision"]["ours"][n]
        py_range, py_cv = extra["precision"]["pyperf_matched"][n]
        rows.append(
            Comparison(
                f"{n}: spread of the reported median over {precision} reruns",
                f"max/min {ours_range * 100:.1f}%, CV {ours_cv * 100:.1f}%",
                f"pyperf -p {matched}: max/min {py_range * 100:.1f}%, CV {py_cv * 100:.1f}%",
                ours_cv / py_cv if py_cv else float("inf"),
                "CV of medians, ours / pyperf's, same wall time",
                "≤ 1.0",
                ours_cv <= py_cv,
            )
        )
    rows.append(
        Comparison(
            "wall time of one run of the two-benchmark file",
            f"{ours_wall:.1f} s (6 processes x 3 values)",
            f"pyperf default {py_wall:.1f} s (20 processes); -p {matched}: "
            f"{extra['wall_s']['pyperf_matched']:.1f} s",
            ours_wall / py_wall,
            "wall time, ours / pyperf default",
            "report",
            None,
        )
    )
    return rows, extra
