"""What a benchmark run came to, as data: the runs, their verdicts, the exit status and why.

`workflow.run_and_judge` and `workflow.run_ab` return these; `tui-perf bench` prints them and
the dashboard reads their verdicts. The JSON a `--json` file holds is shaped here too, beside
nothing but the data it shows, because `baseline` reads that file back as a baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tui_perf.bench.baseline import Noise
from tui_perf.bench.compare import SLOWER, Step, Verdict
from tui_perf.bench.runner import BenchRun
from tui_perf.model.snapshot import BenchResult

#: `tui-perf bench`'s exit codes: all well; slower beyond the threshold and the noise; bad
#: input or a benchmark that raised
EXIT_OK, EXIT_REGRESSION, EXIT_BAD = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Notice:
    """A line about what limits the verdicts: a "warning", or a "note" said quietly."""

    level: str
    text: str


def as_results(runs: tuple[BenchRun, ...] | list[BenchRun]) -> list[BenchResult]:
    """The runs that gave values, in the snapshot's form (the engine publishes these)."""
    return [
        BenchResult(
            r.name,
            r.group,
            tuple(r.values),
            r.loops,
            r.summary.median,
            r.summary.stdev,
            sizes=tuple(r.sizes),
            refs=tuple(r.refs),
        )
        for r in runs
        if not r.error and r.values
    ]


@dataclass(frozen=True, slots=True)
class BenchOutcome:
    """One run judged against its baseline. `runs` are the runner's (one per benchmark, in
    the order run); `verdicts` only for those with a baseline to judge against."""

    run_id: str
    runs: tuple[BenchRun, ...]
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    noise: Mapping[str, Noise] = field(default_factory=dict)  # the floors judged with
    baseline: str = ""  # what it was judged against, in words
    metadata: Mapping[str, Any] = field(default_factory=dict)
    saved: bool = False  # written to the history file
    history: Mapping[str, list[float]] = field(default_factory=dict)  # medians, saved runs too
    steps: tuple[Step, ...] = ()  # step changes the history shows, "same" left out
    notices: tuple[Notice, ...] = ()

    @property
    def failed(self) -> list[BenchRun]:
        return [r for r in self.runs if r.error]

    @property
    def slower(self) -> list[str]:
        return [name for name, v in self.verdicts.items() if v.verdict == SLOWER]

    @property
    def results(self) -> list[BenchResult]:
        return as_results(self.runs)

    @property
    def status(self) -> int:
        """A failure outranks a slowdown: a run that could not measure proves nothing."""
        if self.failed:
            return EXIT_BAD
        return EXIT_REGRESSION if self.slower else EXIT_OK

    def summary(self, saving: bool) -> str:
        """The last line: the exit code and why, so a CI log says it without scrolling.
        `saving`: whether saving was asked for (a run with no baseline says where it went)."""
        code = self.status
        if code == EXIT_BAD:
            failed = [r.name for r in self.failed]
            return f"exit {code}: {len(failed)} benchmark(s) failed: {', '.join(failed)}"
        if code == EXIT_REGRESSION:
            slower = [
                f"{v.name} {v.change_percent:+.1f}% {v.interval}"
                for v in self.verdicts.values()
                if v.verdict == SLOWER
            ]
            return f"exit {code}: slower than {self.baseline}: {'; '.join(slower)}"
        if not self.verdicts:
            kept = "saved for next time" if saving else "not saved: --no-save"
            return f"exit {code}: no baseline yet ({len(self.runs)} measured, {kept})"
        counts: dict[str, int] = {}
        for v in self.verdicts.values():
            counts[v.verdict] = counts.get(v.verdict, 0) + 1
        said = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        return f"exit {code}: nothing slower than {self.baseline} ({said})"

    def to_json(self, parallel: Any = None) -> dict[str, Any]:
        return bench_json(
            self.run_id, dict(self.metadata), self.runs, self.verdicts, self.noise, parallel
        )


@dataclass(frozen=True, slots=True)
class ABOutcome:
    """OLD against NEW in alternating processes: one verdict for NEW, or None when a side
    failed."""

    old: str
    new: str
    runs: tuple[BenchRun, ...]
    verdict: Verdict | None

    @property
    def failed(self) -> list[BenchRun]:
        return [r for r in self.runs if r.error]

    @property
    def status(self) -> int:
        if self.failed or self.verdict is None:
            return EXIT_BAD
        return EXIT_REGRESSION if self.verdict.verdict == SLOWER else EXIT_OK

    def to_json(self) -> dict[str, Any]:
        verdicts = {self.new: self.verdict} if self.verdict is not None else {}
        return bench_json("ab", {"ab": [self.old, self.new]}, self.runs, verdicts, {}, None)


def verdict_dict(v: Verdict) -> dict[str, Any]:
    return {
        "verdict": v.verdict,
        "ratio": v.ratio,
        "ci": [v.ci_low, v.ci_high],
        "threshold": v.threshold,
        "noise": v.noise,
        "processes": list(v.processes),
        "text": v.text,
    }


def bench_json(
    run_id: str,
    meta: dict[str, Any],
    runs: tuple[BenchRun, ...],
    verdicts: Mapping[str, Verdict],
    noise: Mapping[str, Noise],
    parallel: Any,
) -> dict[str, Any]:
    """A `--json` file's contents (`baseline` reads `benchmarks` back: name, values, sizes,
    refs, error)."""

    def entry(run: BenchRun) -> dict[str, Any]:
        item: dict[str, Any] = {
            "name": run.name,
            "group": run.group,
            "loops": run.loops,
            "values": run.values,
            "sizes": run.sizes,
            "refs": run.refs,
            "error": run.error,
        }
        if not run.error:
            s = run.summary
            item.update(
                median=s.median,
                mean=s.mean,
                stdev=s.stdev,
                mad=s.mad,
                p95=s.p95,
                p99=s.p99,
                cv=s.cv,
                ops_per_s=s.ops_per_s,
                noise=noise[run.name].shown if run.name in noise else None,
                warnings=run.warnings,
            )
        v = verdicts.get(run.name)
        if v is not None:
            item["verdict"] = verdict_dict(v)
        return item

    return {
        "run_id": run_id,
        "metadata": meta,
        "benchmarks": [entry(r) for r in runs],
        "parallel": parallel,
    }
