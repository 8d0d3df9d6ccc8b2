"""The Benchmarks pane's view: each benchmark's last median and verdict, the run in
progress, the last run's failures, and one benchmark's medians over the session."""

from __future__ import annotations

from dataclasses import dataclass

from tui_perf.model.snapshot import BenchProgress
from tui_perf.views.history import History


@dataclass(frozen=True, slots=True)
class BenchRow:
    name: str
    median_s: float
    runs: int
    verdict: str  # the whole line: "slower: +14% [+11..+17], beyond noise ±3.0%"

    @property
    def verdict_short(self) -> str:
        """What fits a table cell: the verdict, the change and its interval."""
        return self.verdict.split(", ", 1)[0]


@dataclass(frozen=True, slots=True)
class BenchView:
    rows: tuple[BenchRow, ...]
    progress: BenchProgress | None
    last_verdict: str
    failed: tuple[str, ...] = ()  # "name failed: reason", from the last run


def bench_view(h: History) -> BenchView:
    rows = tuple(
        BenchRow(name, results[-1].median_s, len(results), results[-1].verdict)
        for name, results in sorted(h.bench.items())
    )
    latest = h.latest
    # The summary speaks of this session's target only, not of the history file's past.
    here = [r for r in rows if r.name in h.bench_here]
    slower = [r.name for r in here if r.verdict.startswith("slower")]
    judged = [r for r in here if r.verdict and not r.verdict.startswith("no baseline")]
    if not here:
        last = ""
    elif slower:
        last = f"slower: {', '.join(slower)}"
    elif judged:
        last = "no regression"
    else:
        last = f"{len(here)} measured, no baseline yet"
    # The last run's failures: its error events, after the previous run's summary.
    failed: list[str] = []
    in_last_run = False
    for event in reversed(h.events):
        if event.kind != "bench":
            continue
        if event.message.startswith("benchmark run:"):
            if in_last_run:
                break  # the run before: its failures are not news
            in_last_run = True
        elif event.level == "error" and in_last_run:
            failed.append(event.message)
    return BenchView(rows, latest.bench_progress if latest else None, last, tuple(reversed(failed)))


def bench_trend(h: History, name: str) -> tuple[list[float], list[float]]:
    """Median (µs) per run of one benchmark in this session."""
    results = h.bench.get(name, [])
    return [float(i + 1) for i in range(len(results))], [r.median_s * 1e6 for r in results]
