"""Prometheus metrics from the latest snapshot (needs the `prometheus` extra).

Names follow prometheus_client's conventions: a `tui_perf_` prefix, units in the name,
`_total` on counters. Served on 127.0.0.1 unless an address is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tui_perf.engine.core import Engine
from tui_perf.model.errors import ConfigError

TIER_VALUE = {"NORMAL": 0, "ELEVATED": 1, "HIGH": 2, "CRITICAL": 3}


class SnapshotCollector:
    """A prometheus_client collector over an engine's latest snapshot."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snap = self.engine.snapshot()
        if snap is None:
            return
        m = snap.memory

        def gauge(name: str, doc: str, value: float) -> Any:
            return GaugeMetricFamily(f"tui_perf_{name}", doc, value=value)

        yield gauge("resident_memory_bytes", "Resident set size", m.rss)
        yield gauge("virtual_memory_bytes", "Virtual memory size", m.vms)
        yield gauge("cpu_percent", "CPU use over the last interval, % of one core", m.cpu_percent)
        yield gauge("threads", "Threads", m.num_threads)
        if m.budget:
            yield gauge("memory_budget_bytes", "Memory budget the tiers are relative to", m.budget)
        yield gauge(
            "memory_tier", "0 NORMAL, 1 ELEVATED, 2 HIGH, 3 CRITICAL", TIER_VALUE.get(snap.tier, 0)
        )
        if snap.gc is not None:
            g = snap.gc
            collections = CounterMetricFamily(
                "tui_perf_gc_collections", "GC collections", labels=["generation"]
            )
            collected = CounterMetricFamily(
                "tui_perf_gc_collected_objects", "Objects collected", labels=["generation"]
            )
            for gen, (runs, freed) in enumerate(zip(g.collections, g.collected, strict=False)):
                collections.add_metric([str(gen)], runs)
                collected.add_metric([str(gen)], freed)
            yield collections
            yield collected
            pause = GaugeMetricFamily(
                "tui_perf_gc_pause_seconds", "GC pause quantiles", labels=["quantile"]
            )
            for q, ms in (("0.5", g.pause_p50_ms), ("0.99", g.pause_p99_ms), ("1", g.pause_max_ms)):
                pause.add_metric([q], ms / 1000)
            yield pause
            yield gauge("gc_time_ratio", "Share of wall time spent in GC", g.gc_time_fraction)
        hits = CounterMetricFamily("tui_perf_cache_hits", "Cache hits", labels=["cache", "tier"])
        misses = CounterMetricFamily(
            "tui_perf_cache_misses", "Cache misses", labels=["cache", "tier"]
        )
        size = GaugeMetricFamily(
            "tui_perf_cache_entries", "Cache entries", labels=["cache", "tier"]
        )
        for c in snap.caches:
            for t in c.tiers:
                hits.add_metric([c.name, t.level], t.hits)
                misses.add_metric([c.name, t.level], t.misses)
                size.add_metric([c.name, t.level], t.size)
        yield hits
        yield misses
        yield size
        in_use = GaugeMetricFamily(
            "tui_perf_pool_in_use", "Pooled objects checked out", labels=["pool"]
        )
        leaks = CounterMetricFamily(
            "tui_perf_pool_leaks", "Objects lost while checked out", labels=["pool"]
        )
        for p in snap.pools:
            in_use.add_metric([p.name], p.in_use)
            leaks.add_metric([p.name], p.leaks)
        yield in_use
        yield leaks


def serve_metrics(engine: Engine, port: int, addr: str = "127.0.0.1") -> Any:
    """Serve /metrics on `addr:port` from a daemon thread; returns the registry."""
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError as exc:
        raise ConfigError(
            "the Prometheus exporter needs prometheus-client: pip install 'tui-perf[prometheus]'"
        ) from exc
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(engine))
    start_http_server(port, addr=addr, registry=registry)
    return registry
