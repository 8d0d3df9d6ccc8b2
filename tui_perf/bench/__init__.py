"""Benchmarks as a feature: `@benchmark`, the runner, statistics, verdicts and the built-in suite.

Owns registration of benchmark functions, the pyperf-style runner (calibration, then values
spread over fresh processes), the statistics and the regression verdicts (the process is the
unit of evidence), A/B comparison of two implementations, and the built-in suite. It is a
capability: `commands` registers `run_benchmarks` with the engine. It imports the model, the
engine, the caches, the pools and the store, never the agent, the dashboard or the CLI.
"""

from typing import Any

from tui_perf.bench.registry import Benchmark, benchmark

__all__ = ["Benchmark", "benchmark", "compare_functions"]


def __getattr__(name: str) -> Any:
    # Lazy: `compare_functions` pulls in multiprocessing and the runner.
    if name == "compare_functions":
        from tui_perf.bench.ab import compare_functions

        return compare_functions
    raise AttributeError(f"module 'tui_perf.bench' has no attribute {name!r}")
