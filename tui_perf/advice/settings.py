"""The built-in rules' thresholds, as data: one frozen dataclass, overridable per field."""

from __future__ import annotations

from dataclasses import dataclass

from tui_perf.model.errors import ConfigError


@dataclass(frozen=True, slots=True)
class AdviceSettings:
    #: a rule judges only a window at least this long, with at least this many snapshots
    min_window_s: float = 30.0
    min_snapshots: int = 10
    #: caches: lookups in the window before a cache is judged at all
    min_lookups: int = 1000
    #: the predicted hit-rate gain (a fraction: 0.05 is 5 points) worth a change
    min_gain: float = 0.05
    #: the recommended size reaches this share of the best gain the curve shows
    gain_share: float = 0.9
    #: the share of the memory budget one cache's recommended size may take
    max_cache_share: float = 0.25
    #: below this hit rate, with no size that helps, a cache does not pay
    low_hit_rate: float = 0.10
    #: what a hit costs: the `@cached` hit path, 165 ns in benchmarks/results/cache.json
    #: (6.06 M hits/s); a hit saves the function's measured time minus this
    hit_cost_s: float = 165e-9
    #: TTL: expirations over lookups above which a longer TTL is tried in simulation
    expiring_share: float = 0.02
    #: GC: share of wall time in collections for a warning and for critical
    gc_share_warning: float = 0.05
    gc_share_critical: float = 0.15
    #: the throughput strategy's pause time over the default's, as measured by
    #: benchmarks/bench_gc.py (benchmarks/results/gc.json: 0.23x ast, 0.35x churn; the
    #: worse is taken)
    throughput_pause_ratio: float = 0.35
    #: GC: a full collection this long, with nothing frozen, suggests freezing
    long_pause_ms: float = 100.0
    #: memory: RSS growth (bytes a second) and the share of rising steps of a leak suspect
    rss_growth_per_s: float = 64 * 1024
    rss_rising_share: float = 0.75
    #: a leak is judged over a longer window than the rest, and a climb that gave back more
    #: than this share of its growth at once (a sawtooth, a batch) is not one
    leak_min_window_s: float = 90.0
    leak_max_drawdown: float = 0.25
    #: pools: waiting time at p95 that asks for a larger pool, and idle share to shrink
    pool_wait_p95_ms: float = 50.0
    pool_idle_share: float = 0.9
    pool_min_idle: int = 4
    #: a rule that reads a member's whole window (not just its first and last readings)
    #: visits at most this many members a check, the worst first: a check's cost stays
    #: bounded however many pools a process has
    max_series_per_check: int = 200
    #: benchmarks: parameter names that count workers, the counts a fit needs, the fit's
    #: largest rms error (over the mean time) still trusted, and the saving per doubling
    #: below which more workers are not worth it
    bench_worker_params: tuple[str, ...] = ("workers", "threads", "processes", "jobs")
    bench_min_counts: int = 3
    bench_max_fit_error: float = 0.10
    bench_min_doubling_gain: float = 0.10

    def __post_init__(self) -> None:
        for name in (
            "min_gain",
            "gain_share",
            "max_cache_share",
            "low_hit_rate",
            "bench_max_fit_error",
        ):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ConfigError(f"advice setting {name} must be in (0, 1], got {value}")
        if self.max_series_per_check < 1:
            raise ConfigError(
                "advice setting max_series_per_check must be 1 or more, got "
                f"{self.max_series_per_check}"
            )
        if self.min_snapshots < 2:
            raise ConfigError(
                f"advice setting min_snapshots must be 2 or more, got {self.min_snapshots}"
            )
        if not 0 < self.bench_min_doubling_gain < 0.5:
            raise ConfigError(
                "advice setting bench_min_doubling_gain must be in (0, 0.5): a doubling "
                f"saves at most half, got {self.bench_min_doubling_gain}"
            )
        if self.gc_share_critical < self.gc_share_warning:
            raise ConfigError("advice setting gc_share_critical must be >= gc_share_warning")
