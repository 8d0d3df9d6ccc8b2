"""GC and memory rules: GC time share, long full-collection pauses, a leak suspect."""

from __future__ import annotations

from tui_perf.advice.rules.base import Result, Rule
from tui_perf.advice.window import Window, rising_share, slope_per_s
from tui_perf.model.advice import Action, Finding
from tui_perf.model.format import fmt_bytes, fmt_percent


class GcTimeShare(Rule):
    id = "gc-time-share"
    description = "collections take a large share of wall time"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        s = self.settings
        shares = [snap.gc.gc_time_fraction for snap in window.snapshots if snap.gc is not None]
        gc = window.last.gc
        if len(shares) < s.min_snapshots or gc is None:
            return None
        share = sum(shares) / len(shares)
        if share < s.gc_share_warning or gc.strategy == "throughput":
            return None
        saving = share * (1 - s.throughput_pause_ratio)
        return Finding(
            self.id,
            "critical" if share >= s.gc_share_critical else "warning",
            f"garbage collection takes {fmt_percent(share)} of wall time",
            (
                ("GC time share (mean)", fmt_percent(share)),
                ("strategy", gc.strategy + (" (adaptive)" if gc.adaptive else "")),
                ("pause p95", f"{gc.pause_p95_ms:.1f} ms"),
                ("pause max", f"{gc.pause_max_ms:.1f} ms"),
            ),
            window.describe(),
            Action.of("set_gc_strategy", name="throughput"),
            f"about {fmt_percent(saving)} of wall time back",
            (
                "GC time measured by the pause callback over the window"
                if gc.pauses_timed_share >= 1
                else f"GC time timed in {fmt_percent(gc.pauses_timed_share)} of the window and "
                "estimated for the rest (a collection storm: pauses timed in turns)"
            )
            + f", times (1 - {s.throughput_pause_ratio:g}): the throughput strategy's pause "
            "time over the default's in benchmarks/results/gc.json (the worse of its two "
            "workloads)",
            "medium",
        )


class GcLongPauses(Rule):
    id = "gc-long-pauses"
    description = "long full collections over a large long-lived heap: freeze after warm-up"

    def check(self, window: Window) -> Result:
        if not self.judgeable(window):
            return None
        gc = window.last.gc
        first = window.first.gc
        if gc is None or first is None or gc.frozen or len(gc.collections) < 3:
            return None
        full = gc.collections[2] - first.collections[2]
        if full < 1 or gc.pause_max_ms < self.settings.long_pause_ms:
            return None
        return Finding(
            self.id,
            "warning",
            f"full collections pause up to {gc.pause_max_ms:.0f} ms and nothing is frozen",
            (
                ("pause max", f"{gc.pause_max_ms:.1f} ms"),
                ("pause p99", f"{gc.pause_p99_ms:.1f} ms"),
                ("full collections", f"{full:,}"),
                ("frozen objects", "0"),
            ),
            window.describe(),
            Action.of("gc_freeze"),
            "full collections skip what is frozen: their pauses shrink by about the share "
            "of the heap that is long-lived",
            "not measured before the change: freeze once warm-up is over, then compare the "
            "pause figures (the tuner does this by itself)",
            "low",
        )


# -- memory ---------------------------------------------------------------------------------


class LeakSuspect(Rule):
    id = "leak-suspect"
    description = "RSS climbs steadily and the cleanup ladder frees little"

    def check(self, window: Window) -> Result:
        s = self.settings
        if not window.long_enough(s.leak_min_window_s, s.min_snapshots):
            return None
        points = [(snap.timestamp, float(snap.memory.rss)) for snap in window.snapshots]
        slope = slope_per_s(points)
        rising = rising_share([y for _, y in points])
        if slope < s.rss_growth_per_s or rising < s.rss_rising_share:
            return None
        grown = points[-1][1] - points[0][1]
        if grown <= 0 or max_drawdown([y for _, y in points]) > s.leak_max_drawdown * grown:
            return None  # it gives memory back: a sawtooth or batches, not a leak
        freed = sum(
            max(0, c.rss_before - c.rss_after) for snap in window.snapshots for c in snap.cleanups
        )
        if grown > 0 and freed >= grown / 2:
            return None  # the ladder keeps up: pressure, not a leak
        evidence = [
            ("RSS growth", f"{fmt_bytes(int(slope * 60))}/min"),
            ("rising steps", fmt_percent(rising)),
            ("grown over the window", fmt_bytes(int(grown))),
            ("freed by cleanups", fmt_bytes(freed)),
        ]
        growing = _growing_types(window)
        evidence += [(f"cyclic garbage: {t}", f"{n:+,}") for t, n in growing[:3]]
        alloc = window.last.profile.alloc if window.last.profile else None
        if alloc is not None:
            evidence += [
                (f"allocation growth: {a.file}:{a.line}", fmt_bytes(a.size_diff))
                for a in alloc.growth[:3]
            ]
        estimate = ""
        thresholds = window.last.thresholds
        rss = points[-1][1]
        ahead = [t for t in thresholds if t > rss]
        if ahead:
            minutes = (ahead[0] - rss) / slope / 60
            when = f"about {minutes:.0f} min" if minutes >= 1 else "under a minute"
            estimate = f"at this rate the next memory tier in {when}"
        critical = window.last.tier in ("HIGH", "CRITICAL")
        return Finding(
            self.id,
            "critical" if critical else "warning",
            f"RSS climbs {fmt_bytes(int(slope * 60))}/min and cleanups free little",
            tuple(evidence),
            window.describe(),
            None if alloc is not None else Action.of("alloc_start"),
            estimate,
            "least-squares slope of RSS over the window; cleanups' freed bytes measured "
            "before and after each"
            + ("" if alloc is not None else "; trace allocations to see the growing lines"),
            "medium" if rising >= 0.9 else "low",
        )


def max_drawdown(values: list[float]) -> float:
    """The largest fall from a running peak."""
    peak, worst = float("-inf"), 0.0
    for v in values:
        peak = max(peak, v)
        worst = max(worst, peak - v)
    return worst


def _growing_types(window: Window) -> list[tuple[str, int]]:
    a = window.first.gc
    b = window.last.gc
    if a is None or b is None or not b.census:
        return []
    before = dict(a.census)
    grown = [(t, n - before.get(t, 0)) for t, n in b.census]
    return sorted([g for g in grown if g[1] > 0], key=lambda g: -g[1])
