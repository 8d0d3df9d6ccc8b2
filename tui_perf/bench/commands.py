"""The benchmark capability's engine command: `run_benchmarks` runs the built-in suite here.

Results and progress ride on the next snapshots through a section this module adds to the
engine; the verdict for each benchmark compares with its previous run on the same engine.
"""

from __future__ import annotations

import threading
from typing import Any

from tui_perf.engine.commands import COMMANDS, Arg
from tui_perf.engine.core import Engine
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import BenchProgress, BenchResult, to_dict


class BenchState:
    """One engine's benchmark results waiting for a snapshot, and the run under way."""

    def __init__(self, engine: Engine) -> None:
        self.results: list[BenchResult] = []
        self.progress: BenchProgress | None = None
        self.previous: dict[str, list[float]] = {}
        self.running = threading.Lock()
        self._pending = threading.Lock()
        engine.add_section(self.section)

    def section(self) -> dict[str, Any]:
        with self._pending:
            results, self.results = tuple(self.results), []
        return {"bench": results, "bench_progress": self.progress}

    def publish(self, results: list[BenchResult]) -> None:
        with self._pending:
            self.results.extend(results)


@COMMANDS.register(
    "run_benchmarks",
    "Benchmark run",
    Arg("quick", bool, True),
    Arg("filter", str, None, nullable=True),
    timeout=600.0,
)
def run_benchmarks(engine: Engine, quick: bool, filter: str | None) -> dict[str, Any]:
    """Run the built-in suite here; results and verdicts ride on the next snapshot."""
    from tui_perf.bench.compare import compare_values
    from tui_perf.bench.runner import RunConfig
    from tui_perf.bench.runner import run_benchmarks as run
    from tui_perf.bench.suite import builtin

    state = engine.extension("bench", BenchState)
    if not state.running.acquire(blocking=False):
        raise ConfigError("a benchmark run is already under way")
    try:
        benches = [b for b in builtin() if filter is None or filter in b.name]
        if not benches:
            raise ConfigError(f"no built-in benchmark matches {filter!r}")
        config = RunConfig.quick() if quick else RunConfig()
        total = len(benches) * config.values
        finished: dict[str, int] = {}

        def progress(name: str, i: int, n: int) -> None:
            finished[name] = i
            state.progress = BenchProgress(name, sum(finished.values()), total)

        state.progress = BenchProgress(benches[0].name, 0, total)
        runs = run(benches, config, progress=progress)
        results = []
        for r in runs:
            if r.error:
                engine.emit("bench", f"{r.name} failed: {r.error}", "error")
                continue
            s = r.summary
            verdict = ""
            before = state.previous.get(r.name)
            if before is not None:
                v = compare_values(r.name, before, r.values, with_ci=False)
                verdict = f"{v.verdict} {v.change_percent:+.1f}%"
            state.previous[r.name] = r.values
            results.append(
                BenchResult(r.name, r.group, tuple(r.values), r.loops, s.median, s.stdev, verdict)
            )
        slower = [r.name for r in results if r.verdict.startswith("slower")]
        engine.emit(
            "bench",
            f"benchmark run: {len(results)} done"
            + (f", slower: {', '.join(slower)}" if slower else ""),
            "warning" if slower else "info",
        )
        state.publish(results)
        return {"results": [to_dict(r) for r in results]}
    finally:
        state.progress = None
        state.running.release()
