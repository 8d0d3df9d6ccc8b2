"""The tuner: a change that helps is kept, one that does not is rolled back, guardrails hold
(tier HIGH, caps, changes per interval, RSS), a rolled-back change cools off; profiles load
and name a bad key; `auto` picks by the measured machine. The scripted target below stands
for a program: its cache's hit rate follows the size the tuner gives it, with noise.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tui_perf.model.advice import Action, Finding
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import (
    CacheStats,
    GCStats,
    MemorySample,
    PoolStats,
    Snapshot,
    TierStats,
)
from tui_perf.model.tune import ABANDONED, KEPT, MEASURING, ROLLED_BACK
from tui_perf.tune import SystemProfile, Tuner, available, choose, load_profile, parse_profile
from tui_perf.tune.profiles import TuneProfile
from tui_perf.tune.system import cgroup_cpu_quota

MiB = 1024 * 1024
T0 = 1_700_000_000.0
FAST = """
description = "short windows, for tests"
[tuner]
interval_s = 60
max_changes = 1
settle_s = 5
window_s = 30
min_effect = 0.05
cooldown_s = 300
max_rss_growth = 0.10
[caches]
max_entries = 100000
"""


def profile(extra: str = "") -> TuneProfile:
    return parse_profile("test", FAST + extra)


class Target:
    """A program the tests script: one cache (hit rate by size), one pool, GC time, RSS."""

    def __init__(
        self,
        hit_at: Callable[[int], float],
        *,
        maxsize: int = 100,
        noise: float = 0.02,
        rss_per_entry: int = 0,
        p99_at: Callable[[int], float] = lambda size: 2.0,
    ) -> None:
        self.hit_at = hit_at
        self.p99_at = p99_at
        self.maxsize = maxsize
        self.noise = noise
        self.rss_per_entry = rss_per_entry
        self.tier = "NORMAL"
        self.t = T0
        self.lookups = self.hits = 0
        self.rng = random.Random(7)
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.fail = False
        self.snaps: list[Snapshot] = []

    def run(self, command: str, args: Mapping[str, Any]) -> dict[str, Any]:
        self.commands.append((command, dict(args)))
        if self.fail:
            raise ConfigError("no cache named 'users'")
        if command == "set_cache_size":
            before, self.maxsize = self.maxsize, int(args["maxsize"])
            return {"before": before}
        raise AssertionError(f"unexpected command {command}")

    def tick(self) -> Snapshot:
        self.t += 1
        rate = min(1.0, max(0.0, self.hit_at(self.maxsize) + self.rng.uniform(-1, 1) * self.noise))
        self.lookups += 1000
        self.hits += round(1000 * rate)
        tier = TierStats(
            "L1",
            "lru",
            hits=self.hits,
            misses=self.lookups - self.hits,
            size=self.maxsize,
            maxsize=self.maxsize,
        )
        rss = 200 * MiB + self.maxsize * self.rss_per_entry
        return Snapshot(
            timestamp=self.t,
            pid=1,
            seq=int(self.t - T0),
            memory=MemorySample(self.t, rss, 2 * rss, 10.0, 4, budget=1024 * MiB),
            gc=GCStats(
                True,
                (0, 0, 0),
                (700, 10, 10),
                (0, 0, 0),
                (0, 0, 0),
                (0, 0, 0),
                pause_p99_ms=self.p99_at(self.maxsize) * (1 + self.rng.uniform(-0.05, 0.05)),
            ),
            tier=self.tier,
            caches=(CacheStats("users", (tier,)),),
            pools=(PoolStats("db", "object", max_size=8),),
        )


def grow(size: int = 1000, name: str = "users") -> Finding:
    return Finding(
        "cache-too-small",
        "warning",
        f"cache {name} is too small",
        (),
        "last 60 s",
        Action.of("set_cache_size", name=name, maxsize=size),
        subject=name,
    )


def drive(tuner: Tuner, target: Target, seconds: int, findings: list[Finding]) -> None:
    """`seconds` ticks of the target, each followed by a tuner step over the last 2 min."""
    for _ in range(seconds):
        target.snaps.append(target.tick())
        tuner.step(target.snaps[-120:], findings)


def test_a_change_that_helps_is_kept() -> None:
    target = Target(lambda size: 0.30 if size < 500 else 0.80)
    tuner = Tuner(profile(), target.run)
    drive(tuner, target, 80, [grow()])
    (trial,) = tuner.trials
    assert trial.verdict == KEPT, trial.reason
    assert target.maxsize == 1000 and target.commands == [
        ("set_cache_size", {"name": "users", "maxsize": 1000})
    ]
    assert trial.target == "hit rate of users"
    assert re.search(r"hit rate (29|30)\.\d% -> hit rate (79|80)\.\d%; miss ratio", trial.reason)
    assert trial.rollback == 'set_cache_size name="users" maxsize=100'


@pytest.mark.parametrize(
    ("after", "word"), [(0.20, "worse"), (0.31, "not better beyond noise")], ids=["worse", "same"]
)
def test_a_change_that_does_not_help_is_rolled_back(after: float, word: str) -> None:
    target = Target(lambda size: 0.30 if size < 500 else after)
    tuner = Tuner(profile(), target.run)
    drive(tuner, target, 80, [grow()])
    (trial,) = tuner.trials
    assert trial.verdict == ROLLED_BACK and word in trial.reason
    assert target.maxsize == 100  # put back
    assert target.commands[-1] == ("set_cache_size", {"name": "users", "maxsize": 100})


def test_nothing_is_changed_while_the_memory_tier_is_high() -> None:
    target = Target(lambda size: 0.30 if size < 500 else 0.80)
    target.tier = "HIGH"
    tuner = Tuner(profile(), target.run)
    drive(tuner, target, 80, [grow()])
    assert target.commands == [] and not tuner.trials
    assert "memory tier HIGH" in tuner.holding


def test_the_tier_reaching_high_mid_trial_abandons_it_and_rolls_back() -> None:
    target = Target(lambda size: 0.30 if size < 500 else 0.80)
    tuner = Tuner(profile(), target.run)
    drive(tuner, target, 40, [grow()])
    assert tuner.measuring and target.maxsize == 1000
    target.tier = "HIGH"
    drive(tuner, target, 1, [grow()])
    (trial,) = tuner.trials
    assert trial.verdict == ABANDONED and "HIGH" in trial.reason
    assert target.maxsize == 100


def test_caps_clamp_a_change_and_a_cap_below_the_current_size_tries_nothing() -> None:
    target = Target(lambda size: 0.30 if size < 250 else 0.80)
    capped_profile = parse_profile("capped", FAST.replace("100000", "300"))
    tuner = Tuner(capped_profile, target.run)
    drive(tuner, target, 80, [grow(1000)])
    assert target.commands[0] == ("set_cache_size", {"name": "users", "maxsize": 300})
    assert tuner.trials[0].verdict == KEPT
    below = Target(lambda size: 0.3, maxsize=500)
    capped = Tuner(capped_profile, below.run)
    drive(capped, below, 80, [grow(1000)])
    assert below.commands == []


def test_at_most_the_profiles_changes_per_interval() -> None:
    target = Target(lambda size: 0.30 if size < 500 else (0.80 if size < 5000 else 0.95))
    tuner = Tuner(profile(), target.run)
    # the first trial starts at 30 s and ends at 65 s; the interval (60 s) holds the next
    # change back until 90 s
    drive(tuner, target, 70, [grow(1000)])
    assert len(target.commands) == 1 and "change(s) in the last 60 s" in tuner.holding
    drive(tuner, target, 25, [grow(10_000)])
    assert target.commands[-1] == ("set_cache_size", {"name": "users", "maxsize": 10_000})


def test_a_rolled_back_change_cools_off_before_it_is_tried_again() -> None:
    target = Target(lambda size: 0.30)
    tuner = Tuner(profile(), target.run)
    drive(tuner, target, 70, [grow()])
    assert tuner.trials[0].verdict == ROLLED_BACK
    tried = len(target.commands)  # the change and its rollback
    drive(tuner, target, 200, [grow()])  # within the 300 s cooling-off
    assert len(target.commands) == tried
    assert "cooling off" in tuner.holding
    assert tuner.stats(target.t).cooling[0][0] == "cache-too-small:users"
    drive(tuner, target, 120, [grow()])  # past it: tried again
    assert len(target.commands) > tried


def test_rss_growing_past_its_allowance_rolls_back_a_change_that_helped() -> None:
    # 1,000 entries of 200 KiB: RSS +176 MiB, 17% of the 1 GiB budget (10% allowed)
    target = Target(lambda size: 0.30 if size < 500 else 0.80, rss_per_entry=200 * 1024)
    tuner = Tuner(profile(), target.run)
    drive(tuner, target, 80, [grow()])
    (trial,) = tuner.trials
    assert trial.verdict == ROLLED_BACK and "RSS grew" in trial.reason
    assert target.maxsize == 100


def test_a_command_that_fails_ends_the_trial_and_never_raises() -> None:
    target = Target(lambda size: 0.30)
    target.fail = True
    tuner = Tuner(profile(), target.run)
    drive(tuner, target, 40, [grow()])
    (trial,) = tuner.trials
    assert trial.verdict == ABANDONED and "no cache named" in trial.reason
    assert not tuner.measuring


def test_a_trial_is_reported_while_it_measures_and_each_end_is_handed_on() -> None:
    ended: list[str] = []
    target = Target(lambda size: 0.30 if size < 500 else 0.80)
    tuner = Tuner(profile(), target.run, on_trial=lambda t: ended.append(t.verdict))
    drive(tuner, target, 40, [grow()])
    assert tuner.stats(target.t).trials[0].verdict == MEASURING
    drive(tuner, target, 40, [grow()])
    assert ended == [MEASURING, KEPT]


def test_actions_the_tuner_cannot_measure_are_left_to_a_person() -> None:
    target = Target(lambda size: 0.30)
    tuner = Tuner(profile(), target.run)
    idle = Finding(
        "pool-idle",
        "info",
        "pool db idle",
        (),
        "w",
        Action.of("set_pool_idle", name="db", max_idle=1),
    )
    drive(tuner, target, 60, [idle])
    assert target.commands == []


# -- profiles -------------------------------------------------------------------------------


def test_the_shipped_profiles_load() -> None:
    names = set(available(Path("/nonexistent")))
    assert {"memory-constrained", "cpu-constrained", "balanced", "throughput", "latency"} <= names
    for name in names:
        p = load_profile(name, Path("/nonexistent"))
        assert p.description and p.tuner.window_s >= 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[caches]\nmax_entires = 5\n", "unknown key 'caches.max_entires'"),
        ("[caches]\nmax_entries = 'big'\n", "caches.max_entries must be a number"),
        ("[caches]\nmax_entries = 2.5\n", "caches.max_entries must be a whole number"),
        ("[cache]\nmax_entries = 5\n", "unknown key 'cache'"),
        ("[tuner]\nmin_effect = 3\n", "tuner.min_effect must be in [0.001, 1]"),
        ("[gc]\nstrategy = 'fast'\n", "gc.strategy must be one of"),
        ("[gc]\nadaptive_map = { LOW = 'strict' }\n", "gc.adaptive_map.LOW: not a memory tier"),
        ("[gc]\nadaptive = 'yes'\n", "gc.adaptive must be true or false"),
        ("[pools]\nmax_size = 2\nmax_idle = 4\n", "pools.max_idle is above pools.max_size"),
        ("[tuner\n", "not valid TOML"),
    ],
)
def test_a_bad_profile_names_the_file_and_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"profile mine\.toml") as info:
        parse_profile("mine", text, "mine.toml")
    assert message in str(info.value)


def test_a_users_profile_is_found_by_name_and_wins_over_a_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "balanced.toml").write_text(
        'description = "mine"\n[pools]\nmax_size = 3\nmax_idle = 1\n'
    )
    (tmp_path / "nightly.toml").write_text('description = "batch jobs"\n')
    assert load_profile("balanced", tmp_path).pools.max_size == 3
    assert load_profile("nightly", tmp_path).description == "batch jobs"
    with pytest.raises(ConfigError, match="no profile named 'fast'; one of: auto, "):
        load_profile("fast", tmp_path)
    assert load_profile(str(tmp_path / "nightly.toml")).name == "nightly"


@pytest.mark.parametrize(
    ("system", "picked", "why"),
    [
        (SystemProfile(512 * MiB, "cgroup", 8.0), "memory-constrained", "cgroup limit 512.0 MiB"),
        (SystemProfile(64 << 30, "physical memory", 1.0), "cpu-constrained", "1 usable core"),
        (SystemProfile(64 << 30, "physical memory", 4.0, 3.2), "throughput", "CPU-bound"),
        (SystemProfile(64 << 30, "physical memory", 4.0, 0.1), "latency", "I/O-bound"),
        (SystemProfile(64 << 30, "physical memory", 4.0, 1.0), "balanced", "between"),
        (SystemProfile(64 << 30, "physical memory", 4.0), "balanced", "no CPU measure"),
    ],
)
def test_auto_picks_by_the_measured_machine_and_says_why(
    system: SystemProfile, picked: str, why: str
) -> None:
    name, reason = choose(system)
    assert name == picked and why in reason


def test_the_cgroup_cpu_quota_is_read_as_cores(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(tmp_path) is None
    assert cgroup_cpu_quota(tmp_path / "absent") is None


def test_the_tuner_sizes_a_cache_from_its_curve_for_most_of_the_gain_within_the_caps() -> None:
    from tui_perf.model.advice import CurveStat

    points = ((50, 0.2), (100, 0.3), (200, 0.5), (400, 0.7), (800, 0.78), (1600, 0.8))
    curve = CurveStat("users", 100, points, references=10_000, sampled=10_000, rate=1.0)
    for cap, size in ((100_000, 1600), (800, 800)):  # 98% of the gain: 0.79, or 0.7704
        target = Target(lambda s: 0.3)
        tuner = Tuner(parse_profile("p", FAST.replace("100000", str(cap))), target.run)
        for _ in range(40):
            target.snaps.append(target.tick())
            tuner.step(target.snaps, [grow(400)], {"users": curve})
        assert target.commands[0] == ("set_cache_size", {"name": "users", "maxsize": size})


@pytest.mark.parametrize(
    ("allowed", "verdict"), [("0.0", ROLLED_BACK), ("1.0", ROLLED_BACK), ("50.0", KEPT)]
)
def test_the_pause_guard_holds_to_the_profiles_allowance(allowed: str, verdict: str) -> None:
    # the change helps its target, and the GC pause p99 grows fourfold: a latency profile
    # (no growth) and the balanced one (double) undo it; a throughput profile keeps it
    target = Target(lambda size: 0.30 if size < 500 else 0.80, p99_at=lambda s: 2 if s < 500 else 8)
    guarded = parse_profile(
        "p", FAST.replace("[caches]", f"max_pause_growth = {allowed}\n[caches]")
    )
    tuner = Tuner(guarded, target.run)
    drive(tuner, target, 80, [grow()])
    (trial,) = tuner.trials
    assert trial.verdict == verdict, trial.reason
    if verdict == ROLLED_BACK:
        assert "GC pause p99 grew +" in trial.reason


def test_a_cache_at_a_tenth_of_its_working_set_is_sized_for_it_in_one_step() -> None:
    """The curve from a real key stream reaches 16x: at 8x a tenth-sized cache stays short
    of its working set (80% here), so the tuner must see past it."""
    from tui_perf.advice.keystreams import FACTORS
    from tui_perf.advice.mrc import ShardsSampler, rate_for
    from tui_perf.model.advice import CurveStat
    from tui_perf.tune.tuner import _size_for

    rng = random.Random(5)
    sampler = ShardsSampler(rate_for(100))
    for i in range(100_000):  # uniform over 1,000 keys; the cache holds 100
        sampler.offer(rng.randrange(1000), float(i))
        if i % 5000 == 0:
            sampler.drain()
    sampler.drain()
    curve = sampler.curve(100, FACTORS)
    points = tuple((p.size, p.hit_rate) for p in curve.points)
    rates = dict(points)
    assert rates[800] == pytest.approx(0.8, abs=0.05) and rates[1600] > 0.95
    stat = CurveStat("users", 100, points, references=100_000, sampled=curve.sampled)
    assert _size_for(stat, cap=1_000_000, share=0.98) == 1600
