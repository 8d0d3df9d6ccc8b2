"""Prometheus metrics from the latest snapshot (needs the `prometheus` extra).

Names follow prometheus_client's conventions: a `tui_perf_` prefix, units in the name,
`_total` on counters. Served on 127.0.0.1 unless an address is given.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from tui_perf.agent.metrics_server import Limits, MetricsServer, metrics_response
from tui_perf.engine.core import Engine
from tui_perf.model.advice import AdviceStats, severity_rank
from tui_perf.model.errors import ConfigError

TIERS = ("NORMAL", "ELEVATED", "HIGH", "CRITICAL")


def unique_names(names: list[str]) -> list[str]:
    """Label values that never repeat: a second cache named "pages" is "pages#2"."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return out


class SnapshotCollector:
    """A prometheus_client collector over an engine's latest snapshot.

    Clean for `promtool check metrics`: units in names, `_total` on counters, no `quantile`
    label outside a summary (pause percentiles are gauges of their own), the memory tier as a
    state set (one series per tier, 1 for the current one), and unique series even when two
    caches or pools share a name.
    """

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

        yield gauge("resident_memory_bytes", "Resident set size.", m.rss)
        yield gauge("virtual_memory_bytes", "Virtual memory size.", m.vms)
        yield gauge(
            "cpu_usage_ratio",
            "CPU use over the last interval, in cores (1 = one core).",
            m.cpu_percent / 100,
        )
        yield gauge("threads", "Threads in the process.", m.num_threads)
        if m.budget:
            yield gauge("memory_budget_bytes", "Memory budget the tiers are relative to.", m.budget)
        tier = GaugeMetricFamily(
            "tui_perf_memory_tier", "Memory pressure tier: 1 for the current one.", labels=["tier"]
        )
        for name in TIERS:
            tier.add_metric([name], 1.0 if snap.tier == name else 0.0)
        yield tier
        if snap.gc is not None:
            g = snap.gc
            collections = CounterMetricFamily(
                "tui_perf_gc_collections", "GC collections.", labels=["generation"]
            )
            collected = CounterMetricFamily(
                "tui_perf_gc_collected_objects", "Objects the GC collected.", labels=["generation"]
            )
            for gen, (runs, freed) in enumerate(zip(g.collections, g.collected, strict=False)):
                collections.add_metric([str(gen)], runs)
                collected.add_metric([str(gen)], freed)
            yield collections
            yield collected
            for label, ms in (
                ("p50", g.pause_p50_ms),
                ("p99", g.pause_p99_ms),
                ("max", g.pause_max_ms),
            ):
                yield gauge(
                    f"gc_pause_{label}_seconds",
                    f"GC pause, {label} over the controller's window.",
                    ms / 1000,
                )
            yield gauge("gc_time_ratio", "Share of wall time spent in GC.", g.gc_time_fraction)
        labels = ["cache", "tier"]
        hits = CounterMetricFamily("tui_perf_cache_hits", "Cache hits.", labels=labels)
        misses = CounterMetricFamily("tui_perf_cache_misses", "Cache misses.", labels=labels)
        size = GaugeMetricFamily("tui_perf_cache_entries", "Cache entries.", labels=labels)
        errors = CounterMetricFamily(
            "tui_perf_cache_errors", "Failed calls into an L2 tier.", labels=labels
        )
        up = GaugeMetricFamily(
            "tui_perf_cache_tier_up",
            "1 while the tier answers, 0 while it is down.",
            labels=labels,
        )
        for name, c in zip(unique_names([c.name for c in snap.caches]), snap.caches, strict=True):
            for t in c.tiers:
                hits.add_metric([name, t.level], t.hits)
                misses.add_metric([name, t.level], t.misses)
                size.add_metric([name, t.level], t.size)
                errors.add_metric([name, t.level], t.errors)
                up.add_metric([name, t.level], 0.0 if t.state == "down" else 1.0)
        yield from (hits, misses, size, errors, up)
        in_use = GaugeMetricFamily(
            "tui_perf_pool_in_use", "Pooled objects checked out.", labels=["pool"]
        )
        leaks = CounterMetricFamily(
            "tui_perf_pool_leaks", "Objects lost while checked out.", labels=["pool"]
        )
        healthy = GaugeMetricFamily(
            "tui_perf_pool_healthy", "1 while the pool is healthy.", labels=["pool"]
        )
        for name, pool in zip(unique_names([p.name for p in snap.pools]), snap.pools, strict=True):
            in_use.add_metric([name], pool.in_use)
            leaks.add_metric([name], pool.leaks)
            healthy.add_metric([name], 1.0 if pool.healthy else 0.0)
        yield from (in_use, leaks, healthy)
        if snap.advice is not None:
            yield advice_family(snap.advice)


def advice_family(advice: AdviceStats) -> Any:
    """One series per rule: its worst finding now, 0 none, 1 info, 2 warning, 3 critical
    (alert on >= 2 in Prometheus, as on `tui-perf advise`'s exit code)."""
    from prometheus_client.core import GaugeMetricFamily

    from tui_perf.advice.rules import BUILTIN

    worst: dict[str, int] = {cls.id: 0 for cls in BUILTIN}
    for f in advice.findings:
        worst[f.rule] = max(worst.get(f.rule, 0), severity_rank(f.severity) + 1)
    family = GaugeMetricFamily(
        "tui_perf_advice_severity",
        "Worst finding of each advice rule: 0 none, 1 info, 2 warning, 3 critical.",
        labels=["rule"],
    )
    for rule in sorted(worst):
        family.add_metric([rule], float(worst[rule]))
    return family


def check_port_free(port: int, addr: str = "127.0.0.1") -> None:
    """Raise `ConfigError` naming the port when it cannot be bound (before anything starts)."""
    import socket

    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((addr, port))
        except OSError as exc:
            raise ConfigError(
                f"prometheus_port {port} on {addr} cannot be used: {exc.strerror or exc}"
            ) from None


def serve_metrics(
    engine: Engine, port: int, addr: str = "127.0.0.1", read_timeout: float = 5.0
) -> MetricsServer:
    """Serve /metrics on `addr:port` from one daemon thread; returns the running server.

    Bounded (`metrics_server.Limits`): one thread and at most 32 connections whatever the
    peers do (more wait in the listen backlog of 128, unaccepted), each dropped
    `read_timeout` seconds after it was accepted.
    """
    try:
        from prometheus_client import CollectorRegistry
    except ImportError as exc:
        raise ConfigError(
            "the Prometheus exporter needs prometheus-client: pip install 'tui-perf[prometheus]'"
        ) from exc
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(engine))
    try:
        server = MetricsServer(
            functools.partial(metrics_response, registry),
            port,
            addr=addr,
            limits=Limits(read_timeout=read_timeout),
        )
    except OSError as exc:
        raise ConfigError(
            f"prometheus_port {port} on {addr} cannot be used: {exc.strerror or exc}"
        ) from None
    return server.start()
