"""tui-perf's runner against pyperf on the same two micro-benchmarks, in one run.

For each: the coefficient of variation of the values and the wall time the tool took.
pyperf runs at its defaults (20 worker processes, a warm-up and 3 values each); ours at its
defaults (one process, 20 values of at least 100 ms) and with 4 worker processes.
Goal: CV no worse than pyperf's, at half its wall time or less.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from benchmarks.harness import Comparison

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "sort_1000": ("import random; data = [random.random() for _ in range(1000)]", "sorted(data)"),
    "json_dumps": (
        "import json; doc = {'a': list(range(50)), 'b': {'c': 'x' * 100}}",
        "json.dumps(doc)",
    ),
}


def _pyperf(name: str, setup: str, stmt: str, work: Path, quick: bool) -> tuple[list[float], float]:
    out = work / f"{name}.json"
    args = [sys.executable, "-m", "pyperf", "timeit", "--quiet", "-o", str(out), "-s", setup, stmt]
    if quick:
        args.insert(4, "--fast")
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, cwd=work)
    wall = time.perf_counter() - t0
    data = json.loads(out.read_text())
    values = [v for run in data["benchmarks"][0]["runs"] for v in run.get("values", [])]
    return values, wall


def _ours(
    name: str, setup: str, stmt: str, work: Path, quick: bool, processes: int
) -> tuple[list[float], float]:
    src = work / f"ours_{name}.py"
    src.write_text(
        textwrap.dedent(f"""
        from tui_perf.bench import benchmark
        {setup}

        @benchmark(name={name!r})
        def bench(loops):
            for _ in range(loops):
                {stmt}
    """)
    )
    out = work / f"ours_{name}.json"
    args = [
        sys.executable,
        "-m",
        "tui_perf",
        "bench",
        str(src),
        "--no-save",
        "--json",
        str(out),
        "--history",
        str(work / "h.db"),
        "--processes",
        str(processes),
    ]
    if quick:
        args.append("--quick")
    t0 = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    (entry,) = json.loads(out.read_text())["benchmarks"]
    return entry["values"], wall


def _cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.fmean(values)


def run(quick: bool) -> tuple[list[Comparison], dict[str, object]]:
    comparisons = []
    extra: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name, (setup, stmt) in CASES.items():
            p_values, p_wall = _pyperf(name, setup, stmt, work, quick)
            for processes in (1, 4):
                o_values, o_wall = _ours(name, setup, stmt, work, quick, processes)
                cv_o, cv_p = _cv(o_values), _cv(p_values)
                met = cv_o <= cv_p and o_wall <= p_wall / 2
                comparisons.append(
                    Comparison(
                        benchmark=f"{name}: runner, {processes} process{'es' * (processes > 1)}",
                        ours=f"CV {cv_o * 100:.2f}% in {o_wall:.1f} s ({len(o_values)} values)",
                        peer=f"pyperf CV {cv_p * 100:.2f}% in {p_wall:.1f} s "
                        f"({len(p_values)} values)",
                        ratio=o_wall / p_wall,
                        ratio_means="wall time, lower is better",
                        goal="CV <= pyperf's, wall <= 0.5x",
                        met=met,
                        note=f"{name}/{processes}p: median {statistics.median(o_values) * 1e6:.2f} "
                        f"µs vs pyperf {statistics.median(p_values) * 1e6:.2f} µs",
                    )
                )
                extra[f"{name}/{processes}"] = {
                    "ours_cv": cv_o,
                    "pyperf_cv": cv_p,
                    "ours_wall": o_wall,
                    "pyperf_wall": p_wall,
                }
    return comparisons, extra
