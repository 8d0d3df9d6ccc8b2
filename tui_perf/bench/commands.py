"""The benchmark capability's engine command: `run_benchmarks` runs the built-in suite here.

Results and progress ride on the next snapshots through a section this module adds to the
engine. The values are taken in fresh worker processes (the process is the unit of evidence),
and the verdicts are made where the history is: the dashboard judges each result against
the history file with `workflow.judge_results`, the judging and saving `tui-perf bench` does.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
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


def _run_reads(result: Mapping[str, Any]) -> str:
    return f"{len(result.get('results', []))} benchmarks measured (see Benchmarks)"


@COMMANDS.register(
    "run_benchmarks",
    "Benchmarks",
    Arg("quick", bool, True),
    Arg("filter", str, None, nullable=True),
    timeout=600.0,
    describe=_run_reads,
)
def run_benchmarks(engine: Engine, quick: bool, filter: str | None) -> dict[str, Any]:
    """Run the built-in suite in worker processes; results ride on the next snapshot. The
    dashboard, which holds the history file, judges and saves them (`workflow.judge_results`)."""
    from tui_perf.bench.outcome import as_results
    from tui_perf.bench.runner import RunConfig
    from tui_perf.bench.suite import builtin
    from tui_perf.bench.workflow import BenchRequest, matching, measure

    state = engine.extension("bench", BenchState)
    if not state.running.acquire(blocking=False):
        raise ConfigError("a benchmark run is already under way")
    try:
        request = BenchRequest(filter=filter, config=RunConfig.quick() if quick else RunConfig())
        benches = matching(builtin(), filter)
        if not benches:
            raise ConfigError(f"no built-in benchmark matches {filter!r}")

        def progress(name: str, done: int, total: int) -> None:
            state.progress = BenchProgress(name, done, total)

        runs = measure(benches, request, progress)
        for r in runs:
            if r.error:
                engine.emit("bench", f"{r.name} failed: {r.error}", "error")
        results = as_results(runs)
        engine.emit("bench", f"benchmark run: {len(results)} done", "info")
        state.publish(results)
        return {"results": [to_dict(r) for r in results]}
    finally:
        state.progress = None
        state.running.release()
