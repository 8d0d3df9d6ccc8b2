"""Benchmarks as a feature: `@benchmark`, the runner, statistics, verdicts and the built-in suite.

Owns registration of benchmark functions, the pyperf-style runner (calibration, warm-up,
worker processes), the statistics and the regression verdicts, and the built-in suite. It is a
capability: `commands` registers `run_benchmarks` with the engine. It imports the model, the
engine, the caches, the pools and the store, never the agent, the dashboard or the CLI.
"""

from tui_perf.bench.registry import Benchmark, benchmark

__all__ = ["Benchmark", "benchmark"]
