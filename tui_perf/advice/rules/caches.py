"""Cache rules: too small (from the miss-ratio curve), not paying, TTL too short."""

from __future__ import annotations

from tui_perf.advice.rules.base import Result, Rule, _pts
from tui_perf.advice.settings import AdviceSettings
from tui_perf.advice.window import CacheDelta, Window
from tui_perf.model.advice import Action, CurveStat, Finding
from tui_perf.model.format import fmt_bytes, fmt_percent, fmt_seconds


def _confidence(curve: CurveStat, measured: float) -> tuple[str, float | None]:
    """How far the curve's own prediction at the current size is from the measured hit
    rate: the check every size estimate is read against."""
    here = dict(curve.points).get(curve.current_size)
    if here is None:
        return "low", None
    off = abs(here - measured)
    if off <= 0.02 and curve.sampled >= 2000:
        return "high", here
    if off <= 0.05:
        return "medium", here
    return "low", here


def _method(curve: CurveStat, here: float | None, measured: float) -> str:
    check = (
        f"; it predicts {fmt_percent(here)} at the current size against "
        f"{fmt_percent(measured)} measured"
        if here is not None
        else ""
    )
    return (
        f"SHARDS reuse distances (Waldspurger et al., FAST 2015): {curve.sampled:,} of "
        f"{curve.references:,} lookups sampled at rate {curve.rate:.3g}{check}"
    )


def _size_cap(budget: int | None, curve: CurveStat, s: AdviceSettings) -> int | None:
    """The most entries one cache may take: its share of the memory budget over the
    measured bytes per entry (None when either is unknown)."""
    if budget and curve.bytes_per_entry:
        return int(budget * s.max_cache_share / curve.bytes_per_entry)
    return None


class CacheTooSmall(Rule):
    id = "cache-too-small"
    description = "a cache evicts keys that come back: a larger size would hit more"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        s = self.settings
        budget = window.last.memory.budget
        out = []
        for name, curve in window.curves.items():
            delta = window.cache_delta(name, s.min_lookups)
            if delta is None or delta.evictions == 0:
                continue
            measured = delta.l1_hit_rate or 0.0
            confidence, here = _confidence(curve, measured)
            base = here if here is not None else measured
            cap = _size_cap(budget, curve, s)
            bigger = [
                (size, rate)
                for size, rate in curve.points
                if size > curve.current_size and (cap is None or size <= cap)
            ]
            if not bigger:
                continue
            best = max(rate for _, rate in bigger)
            if best - base < s.min_gain:
                continue
            target = base + s.gain_share * (best - base)
            size, rate = next((sz, r) for sz, r in bigger if r >= target)
            more = ""
            if curve.bytes_per_entry:
                more = (
                    f", about {fmt_bytes((size - curve.current_size) * curve.bytes_per_entry)} more"
                )
            beyond_cap = cap is not None and any(sz > cap for sz, _ in curve.points)
            capped = f" (the memory budget caps it at {cap:,} entries)" if beyond_cap else ""
            out.append(
                Finding(
                    self.id,
                    "warning",
                    f"cache {name} is too small: {curve.current_size:,} -> {size:,} entries "
                    f"would hit {_pts(rate - base)}",
                    (
                        ("hit rate, memory tier (measured)", fmt_percent(measured)),
                        ("lookups", f"{delta.lookups:,}"),
                        ("evictions", f"{delta.evictions:,}"),
                        ("size", f"{delta.size:,} of {curve.current_size:,}"),
                        (
                            "predicted (LRU)",
                            " · ".join(f"{100 * r:.0f}% at {sz:,}" for sz, r in curve.points),
                        ),
                    ),
                    window.describe(),
                    Action.of("set_cache_size", name=name, maxsize=size),
                    f"hit rate {fmt_percent(base)} -> {fmt_percent(rate)} "
                    f"at {size:,} entries{more}{capped}",
                    _method(curve, here, measured),
                    confidence,
                    name,
                )
            )
        return out


class CacheNotPaying(Rule):
    id = "cache-not-paying"
    description = "a cache whose lookups cost more than its hits save"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        s = self.settings
        out = []
        for snap_cache in window.last.caches:
            name = snap_cache.name
            delta = window.cache_delta(name, s.min_lookups)
            if delta is None:
                continue
            found = (
                self._weighed(name, delta, window)
                if delta.computes
                else self._by_hit_rate(name, delta, window)
            )
            if found is not None:
                out.append(found)
        return out

    def _weighed(self, name: str, delta: CacheDelta, window: Window) -> Finding | None:
        """The function's own time and the miss path's overhead, measured by `cached`:
        hits save a computation each, less a hit's cost; misses cost their overhead."""
        s = self.settings
        mean = delta.compute_s / delta.computes
        saved = delta.hits * (mean - s.hit_cost_s)
        net = saved - delta.miss_overhead_s
        if net > 0:
            return None
        overhead = delta.miss_overhead_s / delta.computes
        curve = window.curves.get(name)
        if curve is not None:
            cap = _size_cap(window.last.memory.budget, curve, s)
            best = max((r for size, r in curve.points if cap is None or size <= cap), default=0.0)
            if best * (mean - s.hit_cost_s) > (1 - best) * overhead:
                return None  # at a size the budget allows it would pay: cache-too-small says so
        per_s = -net / window.duration_s if window.duration_s else 0.0
        return Finding(
            self.id,
            "info",
            f"cache {name} costs more than it saves: its function takes "
            f"{fmt_seconds(mean)} and {fmt_percent(delta.hit_rate or 0.0)} of calls hit",
            (
                ("hit rate (measured)", fmt_percent(delta.hit_rate or 0.0)),
                ("lookups", f"{delta.lookups:,}"),
                ("function's own time, mean", fmt_seconds(mean)),
                ("miss path beyond it, mean", fmt_seconds(overhead)),
                ("saved by hits", fmt_seconds(max(0.0, saved))),
                ("spent on misses", fmt_seconds(delta.miss_overhead_s)),
            ),
            window.describe(),
            None,
            f"calling the function directly saves about {fmt_seconds(per_s)} a second",
            "the function's time and the miss path's time measured by @cached on each of "
            f"{delta.computes:,} misses; a hit counted at {fmt_seconds(s.hit_cost_s)} (the "
            "@cached hit path in benchmarks/results/cache.json)",
            "high" if delta.computes >= 100 else "medium",
            name,
        )

    def _by_hit_rate(self, name: str, delta: CacheDelta, window: Window) -> Finding | None:
        """No timings (a cache used directly, not through `cached`): a hit rate near zero
        that no size would lift."""
        s = self.settings
        measured = delta.hit_rate or 0.0
        if measured >= s.low_hit_rate:
            return None
        curve = window.curves.get(name)
        best = max((r for _, r in curve.points), default=0.0) if curve else None
        if best is not None and best >= s.low_hit_rate:
            return None  # a larger size would pay: cache-too-small says so
        reach = (
            f"; even {curve.points[-1][0]:,} entries would reach only {fmt_percent(best or 0.0)}"
            if curve and curve.points
            else ""
        )
        return Finding(
            self.id,
            "info",
            f"cache {name} hits {fmt_percent(measured)} of {delta.lookups:,} lookups{reach}",
            (
                ("hit rate (measured)", fmt_percent(measured)),
                ("lookups", f"{delta.lookups:,}"),
                ("hits", f"{delta.hits:,}"),
            ),
            window.describe(),
            None,
            "each lookup builds a key and stores a value that is rarely read again; "
            "calling the function directly saves that",
            "hit rate measured over the window"
            + (" and the predicted curve" if curve else " (no key-stream sample)")
            + "; the function's own time is not measured (the cache is not used through "
            "@cached), so the saving is not estimated",
            "medium" if curve else "low",
            name,
        )


class TtlTooShort(Rule):
    id = "ttl-too-short"
    description = "entries expire and are asked for again: a longer TTL would hit more"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        s = self.settings
        out = []
        for name, curve in window.curves.items():
            if not curve.ttl_s:
                continue
            delta = window.cache_delta(name, s.min_lookups)
            if delta is None:
                continue
            if delta.expirations < s.expiring_share * delta.lookups:
                continue
            now = dict(curve.longer_ttl).get(curve.ttl_s)
            if now is None:
                continue
            better = [
                (t, r) for t, r in curve.longer_ttl if t > curve.ttl_s and r - now >= s.min_gain
            ]
            if not better:
                continue
            ttl, rate = better[0]
            out.append(
                Finding(
                    self.id,
                    "warning",
                    f"cache {name}: entries expire after {curve.ttl_s:g} s and come back; "
                    f"{ttl:g} s would hit {_pts(rate - now)}",
                    (
                        ("hit rate, memory tier (measured)", fmt_percent(delta.l1_hit_rate or 0.0)),
                        ("expirations", f"{delta.expirations:,}"),
                        ("lookups", f"{delta.lookups:,}"),
                        *(
                            (f"simulated at ttl {t:g} s", fmt_percent(r))
                            for t, r in curve.longer_ttl
                        ),
                    ),
                    window.describe(),
                    Action.of("set_cache_ttl", name=name, ttl=ttl),
                    f"hit rate {fmt_percent(now)} -> {fmt_percent(rate)} with ttl {ttl:g} s, "
                    "at the same size",
                    f"the sampled key stream ({curve.sampled:,} lookups) replayed through "
                    "cachetools TTLCaches scaled to the sample (miniature simulation); "
                    "values served up to the longer TTL old",
                    "medium",
                    name,
                )
            )
        return out
