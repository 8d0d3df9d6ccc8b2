"""Pool rules: waits, idle objects, leaked objects."""

from __future__ import annotations

from itertools import pairwise

from tui_perf.advice.rules.base import Result, Rule
from tui_perf.advice.window import Window
from tui_perf.model.advice import Action, Finding


class PoolWaits(Rule):
    id = "pool-waits"
    description = "requests wait for a free object: the pool is too small"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        out = []
        for pool in window.last.pools:
            series = window.pool_ends(pool.name)
            waits = pool.waits - series[0].waits
            if waits <= 0 or pool.wait_p95_ms < self.settings.pool_wait_p95_ms:
                continue
            if pool.max_size is None:
                continue
            size = pool.max_size * 2
            out.append(
                Finding(
                    self.id,
                    "warning",
                    f"pool {pool.name}: requests wait {pool.wait_p95_ms:.0f} ms at p95 "
                    f"for one of {pool.max_size}",
                    (
                        ("wait p95", f"{pool.wait_p95_ms:.1f} ms"),
                        ("waits", f"{waits:,} of {pool.requests - series[0].requests:,} requests"),
                        ("in use (last)", f"{pool.in_use} of {pool.max_size}"),
                        ("timeouts", f"{pool.timeouts - series[0].timeouts:,}"),
                    ),
                    window.describe(),
                    Action.of("resize_pool", name=pool.name, max_size=size),
                    f"max_size {pool.max_size} -> {size}: waits end if demand stays under "
                    f"{size} at once",
                    "waits and their p95 counted by the pool; the effect is not predicted "
                    "beyond that (the tuner measures it)",
                    "low",
                    pool.name,
                )
            )
        return out


class PoolIdle(Rule):
    id = "pool-idle"
    description = "a pool keeps idle objects while nobody asks for one"

    def check(self, window: Window) -> Result:
        """Idle most of the time means no requests in most intervals: a pool's in-use count
        read once a second misses checkouts shorter than that, so it cannot say how many
        objects a busy pool needs at once.

        It reads each pool's whole window, so it visits at most `max_series_per_check`
        pools a check, those holding the most idle objects first."""
        if not self.judgeable(window):
            return None
        s = self.settings
        out = []
        holding = [p for p in window.last.pools if p.idle >= s.pool_min_idle]
        if len(holding) > s.max_series_per_check:
            holding.sort(key=lambda p: -p.idle)
            del holding[s.max_series_per_check :]
        for pool in holding:
            series = window.pools(pool.name)
            if len(series) < s.min_snapshots:
                continue
            steps = list(pairwise(series))
            quiet = sum(1 for a, b in steps if b.requests == a.requests)
            if quiet < s.pool_idle_share * len(steps):
                continue
            peak = max(p.in_use for p in series)
            keep = max(1, peak)
            if keep >= pool.idle:
                continue
            requests = series[-1].requests - series[0].requests
            out.append(
                Finding(
                    self.id,
                    "info",
                    f"pool {pool.name} keeps {pool.idle} idle and is asked for one in "
                    f"{len(steps) - quiet} of {len(steps)} seconds",
                    (
                        ("idle (last)", str(pool.idle)),
                        ("requests in the window", f"{requests:,}"),
                        ("intervals with no request", f"{quiet} of {len(steps)}"),
                        ("in use, peak seen", str(peak)),
                    ),
                    window.describe(),
                    Action.of("set_pool_idle", name=pool.name, max_idle=keep),
                    f"{pool.idle - keep} fewer idle objects held; a burst past {keep} makes "
                    "new ones",
                    "requests counted by the pool between snapshots",
                    "medium",
                    pool.name,
                )
            )
        return out


class PoolLeaks(Rule):
    id = "pool-leaks"
    description = "objects taken from a pool and never given back"

    def check(self, window: Window) -> Result:
        out = []
        for pool in window.last.pools:
            series = window.pool_ends(pool.name)
            new_leaks = pool.leaks - series[0].leaks if len(series) > 1 else pool.leaks
            if new_leaks <= 0 and pool.overdue <= 0:
                continue
            out.append(
                Finding(
                    self.id,
                    "warning",
                    f"pool {pool.name}: {pool.leaks} leaked, {pool.overdue} overdue",
                    (
                        ("leaked (total)", str(pool.leaks)),
                        ("overdue now", str(pool.overdue)),
                        ("where", pool.reason or "unknown"),
                    ),
                    window.describe(),
                    None,
                    "each leaked object is one the pool must make again",
                    "counted by the pool: a leak is an object collected while checked out, "
                    "overdue a lease older than leak_after",
                    "high",
                    pool.name,
                )
            )
        return out
