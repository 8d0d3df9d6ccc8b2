"""Side-by-side timing for the benchmarks: interleaved rounds, medians, ratios.

These machines are shared and noisy, so an absolute time means little. Every benchmark times
its candidates in the same process, interleaved round by round (so a noisy moment hits all
of them), and reports the ratio of medians against the peer a user would pick instead.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: published reference results, tracked in git and updated on purpose (`run.py --publish`)
PUBLISHED = Path(__file__).resolve().parent / "results"
#: where a run writes by default: ignored by git, so a run never dirties the tree
RESULTS = Path(__file__).resolve().parent / "out"


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


def goal_holds(ratio: float, goal: str) -> bool | None:
    """What `goal` ("<= 1.5x", ">= 80%", "≤ 1.0") says of `ratio`; None when it is not a
    plain bound on the ratio (then the row explains itself in its note)."""
    import re

    found = re.match(r"\s*(<=|>=|≤|≥)\s*([0-9.]+)", goal)
    if found is None:
        return None
    bound = float(found.group(2))
    if goal.strip().endswith("%") and ">=" in goal and ratio <= 1:  # a share against a percent
        bound /= 100
    return ratio <= bound if found.group(1) in ("<=", "≤") else ratio >= bound


def check_rows(comparisons: list[Comparison]) -> None:
    """No row may read as a contradiction: when the goal is a bound on the ratio, `met`
    must be what the ratio says (the figure that decides is the figure shown)."""
    for c in comparisons:
        holds = goal_holds(c.ratio, c.goal)
        if holds is not None and c.met is not None and holds != c.met:
            raise ValueError(
                f"report row contradicts itself: {c.benchmark}: ratio {c.ratio!r} against "
                f"goal {c.goal!r} but met={c.met}"
            )


def fmt_ratio(ratio: float, goal: str, met: bool | None) -> str:
    """Two decimals, or more when two would round across the goal's bound (1.1004 is not
    "1.10" beside a missed "<= 1.1x")."""
    for digits in (2, 3, 4, 6):
        text = f"{ratio:.{digits}f}"
        if met is None or goal_holds(float(text), goal) in (None, met):
            return text
    return repr(ratio)


def write_results(
    name: str, comparisons: list[Comparison], extra: dict[str, Any], *, folder: Path = RESULTS
) -> Path:
    """Write `<folder>/<name>.json` and refresh `<folder>/REPORT.md` from every JSON there."""
    check_rows(comparisons)
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.json"
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
    write_report(folder)
    return path


def write_report(folder: Path = RESULTS) -> Path:
    lines = [
        "# Benchmark results",
        "",
        "Ratios measured side by side in one process per benchmark; regenerate with",
        "`python benchmarks/run.py` (add `--quick` for a short run).",
        "",
    ]
    for path in sorted(folder.glob("*.json")):
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
                f"{fmt_ratio(c['ratio'], c['goal'], c['met'])} ({c['ratio_means']}) | "
                f"{c['goal']} | {met} |"
            )
        notes = [c["note"] for c in data["comparisons"] if c["note"]]
        if notes:
            lines += [""] + [f"- {n}" for n in notes]
        lines.append("")
    report = folder / "REPORT.md"
    report.write_text("\n".join(lines))
    return report


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A detached checkout of `rev` in a temporary folder, removed afterwards."""
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="tui-perf-before-") as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(tree), rev], cwd=root, check=True
        )
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=root)
