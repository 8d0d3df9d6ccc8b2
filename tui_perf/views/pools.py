"""The Pools pane's view: unhealthy pools first, and the pools' health in one line."""

from __future__ import annotations

from tui_perf.model.snapshot import PoolStats


def pool_rows(pools: tuple[PoolStats, ...]) -> list[PoolStats]:
    """Unhealthy pools first, then by name."""
    return sorted(pools, key=lambda p: (p.healthy, p.name))


def pool_health(pools: tuple[PoolStats, ...]) -> tuple[int, int, str]:
    """(healthy, total, the first reason a pool is not)."""
    sick = [p for p in pools if not p.healthy]
    return len(pools) - len(sick), len(pools), (f"{sick[0].name}: {sick[0].reason}" if sick else "")
