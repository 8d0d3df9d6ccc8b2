"""Side-by-side timing for the benchmarks: interleaved rounds, medians, ratios.

These machines are shared and noisy, so an absolute time means little. Every benchmark times
its candidates in the same process, interleaved round by round (so a noisy moment hits all
of them), and reports the ratio of medians against the peer a user would pick instead.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Measurement:
    name: str
    per_op_s: float
    ops_per_s: float
    rounds: list[float] = field(default_factory=list)


@dataclass
class Comparison:
    """One line of the report: ours against a peer, with the goal and whether it was met."""

    benchmark: str
    ours: str
    peer: str
    ratio: float  # ours / peer in the unit named by `ratio_means`
    ratio_means: str
    goal: str
    met: bool | None
    note: str = ""


def time_interleaved(
    candidates: dict[str, Callable[[int], None]], *, loops: int, rounds: int
) -> dict[str, Measurement]:
    """Each candidate is `f(loops)` running its operation `loops` times.

    Rounds alternate between candidates; the median round decides the per-op time.
    """
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values():  # warm-up: caches, imports, branch predictors
        fn(max(1, loops // 10))
    for r in range(rounds):
        order = list(candidates.items())
        if r % 2:
            order.reverse()
        for name, fn in order:
            t0 = time.perf_counter()
            fn(loops)
            samples[name].append((time.perf_counter() - t0) / loops)
    return {
        name: Measurement(name, statistics.median(v), 1 / statistics.median(v), v)
        for name, v in samples.items()
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def write_results(name: str, comparisons: list[Comparison], extra: dict[str, Any]) -> Path:
    """Write `results/<name>.json` and refresh `results/REPORT.md` from every JSON there."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(
        json.dumps(
            {
                "benchmark": name,
                "machine": machine(),
                "comparisons": [asdict(c) for c in comparisons],
                "extra": extra,
            },
            indent=2,
        )
        + "\n"
    )
    write_report()
    return path


def write_report() -> Path:
    lines = [
        "# Benchmark results",
        "",
        "Ratios measured side by side in one process per benchmark; regenerate with",
        "`python benchmarks/run.py` (add `--quick` for a short run).",
        "",
    ]
    for path in sorted(RESULTS.glob("*.json")):
        data = json.loads(path.read_text())
        m = data["machine"]
        lines += [
            f"## {data['benchmark']}",
            "",
            f"{m['date']} · Python {m['python']} · {m['cpu']} x {m['cpus']}",
            "",
            "| what | ours | peer | ratio | goal | met |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for c in data["comparisons"]:
            met = {True: "yes", False: "**no**", None: "—"}[c["met"]]
            lines.append(
                f"| {c['benchmark']} | {c['ours']} | {c['peer']} | "
                f"{c['ratio']:.2f} ({c['ratio_means']}) | {c['goal']} | {met} |"
            )
        notes = [c["note"] for c in data["comparisons"] if c["note"]]
        if notes:
            lines += [""] + [f"- {n}" for n in notes]
        lines.append("")
    report = RESULTS / "REPORT.md"
    report.write_text("\n".join(lines))
    return report
