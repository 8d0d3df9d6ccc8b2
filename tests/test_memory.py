"""MemoryGuard with injected RSS and clock: tiers, hysteresis, cooldown, the ladder."""

from __future__ import annotations

import gc

import pytest

from tests.helpers.scripted import FakeClock, MiB
from tui_perf.engine.memory import Freed, GuardConfig, MemoryGuard, Tier, live_types
from tui_perf.engine.registry import Registry
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import CacheStats, TierStats


class FakeRss:
    """RSS that reclaimers can lower, as freeing would."""

    def __init__(self, mib: float) -> None:
        self.value = int(mib * MiB)

    def __call__(self) -> int:
        return self.value

    def drop(self, mib: float) -> None:
        self.value -= int(mib * MiB)


def make_guard(rss: FakeRss, clock: FakeClock, **config: object) -> tuple[MemoryGuard, list[str]]:
    events: list[str] = []
    guard = MemoryGuard(
        1000 * MiB,
        GuardConfig(**config),
        rss=rss,  # type: ignore[arg-type]
        registry=Registry(),
        clock=clock,
        wall=clock,
        builtin_rungs=False,
    )
    guard.emit = lambda kind, msg, level: events.append(f"{kind}:{msg}")
    return guard, events


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # up at once, straight through several tiers if need be
        ([100, 700, 850, 950], ["NORMAL", "ELEVATED", "HIGH", "CRITICAL"]),
        ([100, 960], ["NORMAL", "CRITICAL"]),
        # down only 50 MiB (5% of the budget) below a threshold
        ([960, 940, 901, 899], ["CRITICAL", "CRITICAL", "CRITICAL", "HIGH"]),
        ([860, 800, 799, 651, 649], ["HIGH", "HIGH", "ELEVATED", "ELEVATED", "NORMAL"]),
        ([960, 100], ["CRITICAL", "NORMAL"]),
    ],
)
def test_tier_transitions_with_hysteresis(path: list[int], expected: list[str]) -> None:
    guard, _ = make_guard(FakeRss(0), FakeClock(), auto_tier=None)
    assert [guard.observe(mib * MiB).name for mib in path] == expected


def test_absolute_thresholds_in_mib() -> None:
    guard, _ = make_guard(FakeRss(0), FakeClock(), thresholds_mib=(100, 200, 300), auto_tier=None)
    assert guard.thresholds() == (100 * MiB, 200 * MiB, 300 * MiB)
    assert guard.observe(250 * MiB) is Tier.HIGH


def test_every_tier_change_is_an_event() -> None:
    guard, events = make_guard(FakeRss(0), FakeClock(), auto_tier=None)
    for mib in (100, 720, 730, 900, 100):
        guard.observe(mib * MiB)
    assert events == [
        "tier:NORMAL -> ELEVATED at RSS 720.0 MiB",
        "tier:ELEVATED -> HIGH at RSS 900.0 MiB",
        "tier:HIGH -> NORMAL at RSS 100.0 MiB",
    ]


def test_the_ladder_climbs_in_order_and_stops_once_under_the_target_tier() -> None:
    rss, clock = FakeRss(900), FakeClock()
    guard, _ = make_guard(rss, clock)
    ran: list[str] = []

    def rung(name: str, mib: float) -> object:
        def reclaim() -> Freed:
            ran.append(name)
            rss.drop(mib)
            return Freed(int(mib * MiB), "bytes", name)

        return reclaim

    guard.register("third", rung("third", 500), order=30)  # type: ignore[arg-type]
    guard.register("first", rung("first", 20), order=10)  # type: ignore[arg-type]
    guard.register("second", rung("second", 200), order=20)  # type: ignore[arg-type]
    assert guard.observe(rss()) is Tier.ELEVATED  # 900 -> 880 -> 680: under HIGH, stop
    assert ran == ["first", "second"]
    (report,) = guard.reports
    assert report.trigger == "auto"
    assert (report.tier_before, report.tier_after) == ("HIGH", "ELEVATED")
    assert [(r.name, r.rss_before // MiB, r.rss_after // MiB) for r in report.rungs] == [
        ("first", 900, 880),
        ("second", 880, 680),
    ]
    assert report.rss_released == 220 * MiB


def test_automatic_runs_skip_rungs_above_the_current_tier() -> None:
    rss, clock = FakeRss(900), FakeClock()
    guard, _ = make_guard(rss, clock)
    ran: list[str] = []
    guard.register("only when critical", lambda: ran.append("c") or 0, min_tier=Tier.CRITICAL)
    guard.register("high", lambda: ran.append("h") or 0, min_tier=Tier.HIGH, order=200)
    guard.observe(rss())
    assert ran == ["h"]


def test_emergency_cleanup_runs_every_rung_whatever_the_tier() -> None:
    rss, clock = FakeRss(100), FakeClock()
    guard, events = make_guard(rss, clock)
    ran: list[str] = []
    guard.register("a", lambda: ran.append("a") or 1, min_tier=Tier.CRITICAL)
    guard.register("b", lambda: ran.append("b") or 2, min_tier=Tier.HIGH)
    report = guard.emergency_cleanup()
    assert sorted(ran) == ["a", "b"]
    assert report.trigger == "manual" and report.tier_before == "NORMAL"
    assert {r.name: r.freed for r in report.rungs} == {"a": 1, "b": 2}
    assert events[-1].startswith("cleanup:manual cleanup")


def test_rss_that_stays_high_does_not_fire_the_ladder_on_every_tick() -> None:
    """The allocator keeps freed pages: cooldown doubles while runs do not help."""
    rss, clock = FakeRss(900), FakeClock(0)
    guard, _ = make_guard(rss, clock, cooldown_s=30, max_cooldown_s=240)
    guard.register("useless", lambda: 0)
    runs = []
    for second in range(0, 1000):
        clock.now = float(second)
        before = len(guard.reports)
        guard.observe(rss())
        if len(guard.reports) > before:
            runs.append(second)
    assert runs == [0, 30, 90, 210, 450, 690, 930]


def test_an_effective_run_resets_the_cooldown() -> None:
    rss, clock = FakeRss(900), FakeClock(0)
    guard, _ = make_guard(rss, clock, cooldown_s=30)
    helpful = {"on": False}

    def reclaim() -> int:
        if helpful["on"]:
            rss.value = 100 * MiB
        return 0

    guard.register("sometimes", reclaim)
    guard.observe(rss())  # t=0, useless: next wait 60 s
    clock.now = 60
    helpful["on"] = True
    guard.observe(rss())  # runs, brings RSS down
    assert guard.tier is Tier.NORMAL
    assert guard.cooldown_remaining() == 30


def test_a_failing_reclaimer_is_reported_and_the_ladder_goes_on() -> None:
    rss, clock = FakeRss(100), FakeClock()
    guard, _ = make_guard(rss, clock)

    def broken() -> int:
        raise RuntimeError("cannot")

    guard.register("broken", broken, order=1)
    guard.register("fine", lambda: 5, order=2)
    guard.register("wrong type", lambda: "lots", order=3)  # type: ignore[arg-type,return-value]
    rungs = {r.name: r for r in guard.emergency_cleanup().rungs}
    assert rungs["broken"].skipped == "failed: cannot"
    assert rungs["fine"].freed == 5 and rungs["fine"].skipped == ""
    assert rungs["wrong type"].skipped.startswith("failed: a reclaimer must return")


class _Cache:
    def __init__(self, name: str, pinned: bool) -> None:
        self.name, self.pinned, self.entries = name, pinned, 10

    def stats(self) -> CacheStats:
        return CacheStats(self.name, (TierStats("L1", "lru", size=self.entries),))

    def flush_memory(self) -> int:
        dropped, self.entries = self.entries, 0
        return dropped


def test_built_in_rungs_flush_caches_but_never_pinned_ones() -> None:
    registry = Registry()
    loose, pinned = _Cache("loose", False), _Cache("pinned", True)
    registry.register_cache(loose)
    registry.register_cache(pinned)
    guard = MemoryGuard(1000 * MiB, rss=FakeRss(100), registry=registry, clock=FakeClock())
    assert guard.rung_names == ["flush caches", "full collection", "drain pools", "malloc_trim"]
    report = guard.emergency_cleanup()
    flush = report.rungs[0]
    assert (flush.freed, flush.unit) == (10, "entries")
    assert (loose.entries, pinned.entries) == (0, 10)


def test_a_full_collection_that_finds_almost_nothing_is_skipped_next_time() -> None:
    guard = MemoryGuard(1000 * MiB, rss=FakeRss(100), registry=Registry(), clock=FakeClock())
    gc.collect()
    first = {r.name: r for r in guard.emergency_cleanup().rungs}["full collection"]
    assert first.skipped == "" and first.freed < 100
    second = {r.name: r for r in guard.emergency_cleanup().rungs}["full collection"]
    assert second.skipped == "the last full collection found almost nothing"
    third = {r.name: r for r in guard.emergency_cleanup().rungs}["full collection"]
    assert third.skipped == ""


def test_malloc_trim_is_rate_limited() -> None:
    clock = FakeClock()
    guard = MemoryGuard(1000 * MiB, rss=FakeRss(100), registry=Registry(), clock=clock)
    first = guard.emergency_cleanup().rungs[-1]
    if first.skipped.startswith("no malloc_trim"):
        pytest.skip("not glibc: malloc_trim is a no-op here")
    assert first.skipped == ""
    assert guard.emergency_cleanup().rungs[-1].skipped == "ran 0 s ago"
    clock.advance(5)
    assert guard.emergency_cleanup().rungs[-1].skipped == ""


@pytest.mark.parametrize(
    "config",
    [
        {"fractions": (0.9, 0.8, 0.95)},
        {"fractions": (0.0, 0.5, 0.9)},
        {"fractions": (700, 850, 950)},
        {"hysteresis": 0.7},
        {"cooldown_s": -1},
    ],
)
def test_bad_guard_config_is_refused(config: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        GuardConfig(**config)  # type: ignore[arg-type]


def test_a_tier_change_made_by_the_ladder_itself_is_an_event() -> None:
    """The ladder brought HIGH down to ELEVATED: the Events pane must say so, and why."""
    rss, clock = FakeRss(900), FakeClock()
    guard, events = make_guard(rss, clock)
    guard.register("trim", lambda: rss.drop(250) or Freed(250 * MiB, "bytes", ""))
    guard.observe(rss())
    tiers = [e for e in events if e.startswith("tier:")]
    assert tiers == [
        "tier:NORMAL -> HIGH at RSS 900.0 MiB",
        "tier:HIGH -> ELEVATED at RSS 650.0 MiB (after the cleanup rung 'trim')",
    ]


def test_critical_does_not_wait_behind_a_cooldown_earned_at_high() -> None:
    rss, clock = FakeRss(900), FakeClock(0)  # HIGH
    guard, _ = make_guard(rss, clock, cooldown_s=30, max_cooldown_s=600)
    guard.register("useless", lambda: 0)
    for second in (0, 30, 90):  # three useless runs at HIGH: the wait is now 120 s
        clock.now = float(second)
        guard.observe(rss())
    assert len(guard.reports) == 3 and guard.cooldown_remaining() == 120
    clock.now = 100.0
    rss.value = 990 * MiB  # CRITICAL, 10 s after the last run
    guard.observe(rss())
    assert len(guard.reports) == 4 and guard.reports[-1].tier_before == "CRITICAL"
    assert guard.cooldown_remaining() == 30  # and at CRITICAL the wait does not double
    clock.now = 130.0
    guard.observe(rss())
    assert len(guard.reports) == 5


def test_a_manual_run_that_frees_nothing_says_what_holds_the_memory() -> None:
    from tui_perf.dashboard.results import describe_result
    from tui_perf.model.snapshot import to_dict

    rss, clock = FakeRss(500), FakeClock()
    guard, _ = make_guard(rss, clock)
    guard.register("useless", lambda: 0)
    # live objects nothing can free, more than any type the earlier tests left alive in this
    # process (Textual's strips and their caches, by the hundred thousand)
    most = live_types(1, limit=10**9)[0][1]
    kept = [[i] for i in range(max(50_000, most + 50_000))]
    report = guard.emergency_cleanup()
    assert report.rss_released == 0 and len(report.held_by) == 3
    assert report.held_by[0][0] == "list" and report.held_by[0][1] >= len(kept)
    text = describe_result("emergency_cleanup", to_dict(report))
    assert "(released: none)" in text and "held by live objects: list x" in text
    rss.value = 400 * MiB  # a run that does free something says only that
    rss_before = rss.value

    def frees() -> int:
        rss.value = rss_before - 50 * MiB
        return 0

    guard.register("frees", frees)
    freed = guard.emergency_cleanup()
    assert freed.held_by == () and "released: 50.0 MiB" in describe_result(
        "emergency_cleanup", to_dict(freed)
    )
