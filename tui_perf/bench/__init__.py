"""Benchmarks as a feature: registration, runner, statistics, comparison, suite."""

from tui_perf.bench.registry import Benchmark, benchmark

__all__ = ["Benchmark", "benchmark"]
