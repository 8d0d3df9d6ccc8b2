"""GCController against the real gc module; GC state is restored after every test."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tui_perf.engine import gc_control
from tui_perf.engine.gc_control import (
    DEFAULT_ADAPTIVE,
    STRATEGIES,
    GCConfig,
    GCController,
    Runtime,
    ThresholdOwner,
    cyclic_garbage_census,
)
from tui_perf.model.errors import ConfigError

CPY312 = Runtime((3, 12, 4), False)


@pytest.fixture(autouse=True)
def restore_gc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # A fresh owner per test: a test that forgets to uninstall cannot hold the next one's.
    monkeypatch.setattr(gc_control, "THRESHOLDS", ThresholdOwner())
    thresholds, callbacks = gc.get_threshold(), list(gc.callbacks)
    enabled, debug = gc.isenabled(), gc.get_debug()
    yield
    gc.set_threshold(*thresholds)
    gc.callbacks[:] = callbacks
    gc.set_debug(debug)
    gc.unfreeze()
    (gc.enable if enabled else gc.disable)()


def test_install_hooks_one_callback_and_uninstall_restores_everything() -> None:
    gc.set_threshold(700, 10, 10)
    before = list(gc.callbacks)
    controller = GCController(GCConfig(strategy="throughput"), runtime=CPY312)
    controller.install()
    assert len(gc.callbacks) == len(before) + 1
    assert gc.get_threshold() == (49000, 10, 10)
    controller.uninstall()
    assert gc.callbacks == before
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize(("base", "throughput"), [((700, 10, 10), 49000), ((2000, 10, 10), 140000)])
def test_strategies_are_relative_to_the_thresholds_found_at_start(
    base: tuple[int, int, int], throughput: int
) -> None:
    gc.set_threshold(*base)
    controller = GCController(runtime=CPY312)
    controller.install()
    controller.set_strategy("throughput")
    assert gc.get_threshold()[0] == throughput
    controller.set_strategy("balanced")
    assert gc.get_threshold()[0] == base[0] * 10
    controller.set_strategy("strict")
    assert gc.get_threshold()[0] == base[0] // 2
    controller.set_strategy("default")
    assert gc.get_threshold() == base


def test_free_threaded_builds_never_get_lower_thresholds() -> None:
    strict = STRATEGIES["strict"]
    assert strict.thresholds((2000, 10, 10), Runtime((3, 13, 1), True)) == (2000, 10, 10)
    assert strict.thresholds((2000, 10, 10), Runtime((3, 13, 1), False)) == (1000, 10, 10)


@pytest.mark.parametrize(
    ("version", "incremental"),
    [((3, 13, 5), False), ((3, 14, 0), True), ((3, 14, 4), True), ((3, 14, 5), False)],
)
def test_incremental_gc_versions_leave_threshold2_alone(
    version: tuple[int, int, int], incremental: bool
) -> None:
    runtime = Runtime(version, False)
    assert runtime.incremental_gc is incremental
    odd = type(STRATEGIES["default"])("odd", (1.0, 1.0, 3.0))
    assert odd.thresholds((2000, 10, 10), runtime)[2] == (10 if incremental else 30)


def test_pauses_are_measured_from_real_collections() -> None:
    controller = GCController(runtime=CPY312)
    controller.install()
    junk = [[[] for _ in range(50)] for _ in range(2000)]
    for _ in range(3):
        gc.collect()
    del junk
    stats = controller.stats()
    controller.uninstall()
    assert stats.pauses >= 3
    assert 0 < stats.pause_p50_ms <= stats.pause_p95_ms <= stats.pause_p99_ms
    assert stats.pause_p99_ms <= stats.pause_max_ms
    assert 0 < stats.gc_time_fraction < 1


def test_gc_time_fraction_is_pause_time_over_the_window() -> None:
    ticks = iter(range(0, 10**15, 1_000_000))  # each clock read: +1 ms
    controller = GCController(GCConfig(window_s=60.0), runtime=CPY312, clock_ns=lambda: next(ticks))
    controller.install()
    gc.collect()
    gc.collect()
    controller.uninstall()
    pauses = controller.pauses_ns()
    assert pauses[-2:] == [1_000_000, 1_000_000]
    assert controller.stats().gc_time_fraction == pytest.approx(sum(pauses) / 60e9)


def test_adaptive_mode_follows_tiers_and_never_picks_strict() -> None:
    events: list[str] = []
    controller = GCController(GCConfig(adaptive=True), runtime=CPY312)
    controller.emit = lambda kind, msg, level: events.append(msg)
    controller.install()
    seen = []
    for tier in ("NORMAL", "ELEVATED", "HIGH", "CRITICAL", "NORMAL"):
        controller.on_tier(tier)
        seen.append(controller.strategy)
    assert seen == ["throughput", "balanced", "default", "default", "throughput"]
    assert "strict" not in DEFAULT_ADAPTIVE.values()
    assert len(events) == 4 and "tier ELEVATED" in events[1]
    controller.set_adaptive(False)
    controller.on_tier("HIGH")
    assert controller.strategy == "throughput"


def test_next_strategy_cycles_through_all_four() -> None:
    controller = GCController(runtime=CPY312)
    assert [controller.next_strategy() for _ in range(4)] == [
        "strict",
        "throughput",
        "balanced",
        "default",
    ]


def test_unknown_strategy_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown GC strategy 'fast'"):
        GCConfig(strategy="fast")
    with pytest.raises(ConfigError, match="one of throughput"):
        GCController().set_strategy("fast")


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_census_counts_the_types_left_in_cycles_and_leaves_no_trace() -> None:
    gc.collect()
    gc.garbage.append("kept by the program")
    refs = []
    for _ in range(30):
        a, b = Node(), Node()
        a.other, b.other = b, a
        refs.append(weakref.ref(a))
    del a, b
    census = dict(cyclic_garbage_census())
    assert census[f"{__name__}.Node"] == 60
    assert gc.garbage == ["kept by the program"]
    assert gc.get_debug() & gc.DEBUG_SAVEALL == 0
    assert all(r() is None for r in refs)  # the census freed them afterwards
    gc.garbage.clear()


def test_freeze_after_warmup_collects_first_and_uninstall_unfreezes() -> None:
    controller = GCController(runtime=CPY312)
    controller.install()
    frozen = controller.freeze_after_warmup()
    assert frozen > 1000 and gc.get_freeze_count() > 0  # the start-up heap, frozen
    controller.uninstall()
    assert gc.get_freeze_count() == 0


def test_a_repeated_start_does_not_restart_the_open_pause() -> None:
    ticks = iter([100, 200, 350, 1000, 1100])
    controller = GCController(runtime=CPY312, clock_ns=lambda: next(ticks))
    controller._callback("start", {})  # 100
    controller._callback("start", {})  # nested or repeated: ignored, no clock read
    controller._callback("stop", {})  # 200
    controller._callback("stop", {})  # no pause open: ignored
    controller._callback("start", {})  # 350
    controller._callback("stop", {})  # 1000
    assert controller.pauses_ns() == [100, 650]


def test_two_controllers_share_one_base_and_never_compound() -> None:
    """An agent's controller and a user's Engine's, both on throughput: 70x, not 4900x."""
    gc.set_threshold(700, 10, 10)
    agent = GCController(GCConfig(strategy="throughput"), runtime=CPY312)
    user = GCController(GCConfig(strategy="throughput"), runtime=CPY312)
    agent.install()
    user.install()
    assert gc.get_threshold() == (49000, 10, 10)
    agent.uninstall()
    assert gc.get_threshold() == (49000, 10, 10)  # the user's controller still holds
    user.uninstall()
    assert gc.get_threshold() == (700, 10, 10)


def test_when_one_controller_leaves_the_remaining_ones_strategy_applies() -> None:
    gc.set_threshold(700, 10, 10)
    first = GCController(GCConfig(strategy="throughput"), runtime=CPY312)
    second = GCController(GCConfig(strategy="balanced"), runtime=CPY312)
    first.install()
    second.install()
    assert gc.get_threshold() == (7000, 10, 10)  # the last one applied
    second.uninstall()
    assert gc.get_threshold() == (49000, 10, 10)
    first.uninstall()
    assert gc.get_threshold() == (700, 10, 10)


def test_uninstall_keeps_thresholds_the_program_set_itself_and_says_so() -> None:
    gc.set_threshold(700, 10, 10)
    events: list[str] = []
    controller = GCController(GCConfig(strategy="throughput"), runtime=CPY312)
    controller.emit = lambda kind, msg, level: events.append(f"{level}:{msg}")
    controller.install()
    gc.set_threshold(5000, 20, 20)  # the program tunes its own GC meanwhile
    controller.uninstall()
    assert gc.get_threshold() == (5000, 20, 20)
    assert events and events[-1].startswith("warning:GC thresholds (5000, 20, 20) were set")


def test_an_agent_and_a_users_engine_in_one_process_never_compound(tmp_path: Path) -> None:
    """The reported case, in a real process: agent.start() plus the program's own Engine."""
    code = f"""
import gc
import tui_perf.agent
from tui_perf import Engine, EngineConfig, GCConfig
gc.set_threshold(700, 10, 10)
cfg = EngineConfig(gc=GCConfig(strategy="throughput"))
agent = tui_perf.agent.start(engine=Engine(cfg), socket_path={str(tmp_path / "a.sock")!r})
user = Engine(cfg)
user.start()
print(gc.get_threshold()[0])
user.stop()
print(gc.get_threshold()[0])
agent.stop()
print(gc.get_threshold()[0])
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["49000", "49000", "700"]


def test_pause_measurement_can_be_left_off() -> None:
    before = list(gc.callbacks)
    controller = GCController(GCConfig(measure_pauses=False), runtime=CPY312)
    controller.install()
    gc.collect()
    assert gc.callbacks == before and controller.stats().pauses == 0
    controller.uninstall()


def test_gc_time_fraction_stays_true_when_collections_outrun_the_pause_ring() -> None:
    """A program collecting thousands of times a second overflows the ring of pauses; the
    share must come from the running total, not from the pauses the ring still holds."""
    now = [0]
    controller = GCController(GCConfig(window_s=60.0), runtime=CPY312, clock_ns=lambda: now[0])
    controller.stats()  # the first reading: the running total's starting point
    for _ in range(6000):  # 1 ms in GC, then 1 ms of work: half the time, for 12 s
        controller._callback("start", {})
        now[0] += 1_000_000
        controller._callback("stop", {})
        now[0] += 1_000_000
    assert len(controller.pauses_ns()) == 4096  # the ring has forgotten the first pauses
    assert controller.stats().gc_time_fraction == pytest.approx(0.5)


def test_the_pause_summary_is_kept_until_a_collection_or_a_pause_leaves_the_window() -> None:
    """stats() reuses its sorted pauses while nothing changed: a new collection, or the
    oldest pause leaving the window, must still show at once (injected clock)."""
    now = [0]
    controller = GCController(GCConfig(window_s=10.0), runtime=CPY312, clock_ns=lambda: now[0])
    controller.install()
    controller._callback("start", {})
    now[0] += 2_000_000  # a 2 ms pause ending at t=2 ms
    controller._callback("stop", {})
    first = controller.stats()
    assert (first.pauses, first.pause_max_ms) == (1, 2.0)
    now[0] += 1_000_000_000
    assert controller.stats().pause_max_ms == 2.0  # still in the window: kept
    controller._callback("start", {})
    now[0] += 5_000_000
    controller._callback("stop", {})
    second = controller.stats()  # a new pause: worked out again
    assert (second.pauses, second.pause_max_ms, second.pause_p50_ms) == (2, 5.0, 2.0)
    now[0] += 9_500_000_000  # the first pause (ended at 2 ms) is now older than 10 s
    third = controller.stats()
    controller.uninstall()
    assert (third.pause_p50_ms, third.pause_max_ms) == (5.0, 5.0)
    assert third.gc_time_fraction == pytest.approx(5e6 / 10e9)


def test_collection_counters_follow_real_collections_while_the_callback_watches() -> None:
    controller = GCController(runtime=CPY312)
    controller.install()
    before = controller.stats().collections
    gc.collect(0)
    after = controller.stats().collections
    controller.uninstall()
    gc.collect(0)  # unwatched: read afresh, never a stale copy
    unwatched = controller.stats().collections
    assert after[0] == before[0] + 1
    assert unwatched[0] >= after[0] + 1


def test_a_collection_storm_is_timed_in_turns_and_the_rest_estimated() -> None:
    """Above `timed_turns_above` collections a second the callback rests for 1/share - 1
    intervals; the collections made meanwhile are counted exactly and their time estimated
    from the timed pauses; then timing starts again. Real collections, and a clock that
    moves 1 ms at every read: every timed pause lasts exactly 1 ms."""
    ms = 1_000_000
    clock = [0]

    def read() -> int:
        clock[0] += ms
        return clock[0]

    controller = GCController(
        GCConfig(window_s=60.0, timed_turns_above=50.0, timed_share=0.25),
        runtime=CPY312,
        clock_ns=read,
    )
    controller.install()
    controller.stats()  # the first reading
    start = clock[0]
    for _ in range(100):  # 100 collections in 0.2 s of this clock: 500 a second
        gc.collect(0)
    clock[0] += 400 * ms  # a span is at least 0.5 s: the rate over 0.6 s, 166 a second
    timed = controller.stats()
    timed_for = clock[0] - start
    assert controller._callback not in gc.callbacks  # resting, for 3x the timed interval
    assert timed.pauses_timed_share == 1.0 and timed.pauses >= 100
    assert timed.pause_total_s == pytest.approx(timed.pauses * ms / 1e9)
    before = sum(timed.collections)
    for _ in range(40):
        gc.collect(0)  # not timed: the callback is off
    clock[0] += 100 * ms
    assert controller.stats().pause_total_s == timed.pause_total_s  # within the span: kept
    clock[0] += 500 * ms
    resting = controller.stats()
    made = sum(resting.collections) - before
    assert made >= 40 and resting.pauses == timed.pauses  # counted, not timed
    # every timed pause was 1 ms, so each untimed collection is estimated at 1 ms
    assert resting.pause_total_s == pytest.approx((timed.pauses + made) * ms / 1e9)
    rested_for = clock[0] - (start + timed_for)
    # (the clock moves at every read, stats() reads too: a few ms of slack)
    assert resting.pauses_timed_share == pytest.approx(
        timed_for / (timed_for + rested_for), abs=0.01
    )
    clock[0] += 3 * timed_for  # the rest is over: timing again
    controller.stats()
    assert controller._callback in gc.callbacks
    controller.uninstall()
    assert controller._callback not in gc.callbacks


def test_a_storm_below_the_threshold_is_timed_throughout() -> None:
    controller = GCController(GCConfig(timed_turns_above=None), runtime=CPY312)
    controller.install()
    controller.stats()
    for _ in range(3000):
        gc.collect(0)
    stats = controller.stats()
    controller.uninstall()
    assert stats.pauses_timed_share == 1.0 and stats.pauses >= 3000


def test_timed_share_must_be_a_share() -> None:
    with pytest.raises(ConfigError, match="timed_share"):
        GCConfig(timed_share=0)


def test_stats_from_several_threads_at_once_and_counters_after_a_reinstall() -> None:
    controller = GCController(GCConfig(timed_turns_above=100.0, timed_share=0.5), runtime=CPY312)
    controller.install()
    errors: list[BaseException] = []

    def read() -> None:
        for _ in range(300):
            try:
                controller.stats()
            except Exception as exc:
                errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for t in readers:
        t.start()
    for _ in range(3000):
        gc.collect(0)
    for t in readers:
        t.join()
    assert errors == []
    controller.stats()
    controller.uninstall()
    gc.collect()  # unwatched
    controller.install()
    assert controller.stats().collections == tuple(s["collections"] for s in gc.get_stats())
    controller.uninstall()


def test_stats_in_a_tight_loop_keep_few_spans() -> None:
    """A reading closes a span at most every 0.5 s: the engine's tick called in a loop must
    not grow the window's spans (they made a tick cost 3 ms)."""
    now = [0]
    controller = GCController(runtime=CPY312, clock_ns=lambda: now[0])
    controller.install()
    for _ in range(10_000):
        now[0] += 20_000  # 20 µs a reading: 0.2 s in all
        controller.stats()
    controller.uninstall()
    assert len(controller.turns._spans) <= 1
