"""Nearest-rank quantiles of live measurements (pause times, wait times).

Nearest rank reports a value that was actually observed: a p99 pause is a pause that
happened. (Benchmark statistics interpolate instead, in `tui_perf.bench.stats`.)
"""

from __future__ import annotations

from collections.abc import Sequence


def nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile of an already sorted sequence; 0.0 for an empty one."""
    n = len(sorted_values)
    if not n:
        return 0.0
    rank = -(-n * p // 100)  # ceil(n * p / 100), the 1-based nearest rank
    return float(sorted_values[int(min(max(rank, 1), n)) - 1])
