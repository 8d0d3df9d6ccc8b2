"""The engine: deterministic ticks, events delivered once, subscribers, the thread."""

from __future__ import annotations

import threading

import pytest

from tests.helpers.scripted import FakeClock, MiB, ScriptedProbe
from tui_perf.engine.core import Engine, EngineConfig, default_budget
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import Snapshot


def _engine(probe: ScriptedProbe | None = None, **config: object) -> tuple[Engine, FakeClock]:
    clock = FakeClock()
    sampler = Sampler(probe or ScriptedProbe(), clock=clock, wall=clock)
    return Engine(
        EngineConfig(**config),
        sampler=sampler,
        registry=Registry(),  # type: ignore[arg-type]
        clock=clock,
        wall=clock,
    ), clock


def test_tick_is_deterministic_given_clock_and_probe() -> None:
    probe = ScriptedProbe(rss=123 * MiB)
    engine, clock = _engine(probe)
    first = engine.tick()
    clock.advance(1)
    second = engine.tick()
    assert (first.seq, second.seq) == (1, 2)
    assert second.memory.rss == 123 * MiB
    assert second.timestamp == clock.now
    assert engine.snapshot() is second
    assert second.gc is not None  # this process: its own interpreter is visible


def test_another_process_has_no_gc_stats() -> None:
    engine, _ = _engine(ScriptedProbe(pid=1))
    assert engine.tick().gc is None


def test_events_go_out_with_exactly_one_snapshot() -> None:
    engine, clock = _engine()
    engine.emit("test", "hello")
    clock.advance(1)
    snap = engine.tick()
    assert [(e.kind, e.message, e.timestamp) for e in snap.events] == [("test", "hello", 1000.0)]
    assert engine.tick().events == ()


def test_subscribers_get_every_snapshot_and_a_failing_one_does_not_stop_the_rest() -> None:
    engine, _ = _engine()
    got: list[int] = []

    def broken(_: Snapshot) -> None:
        raise RuntimeError("subscriber bug")

    engine.subscribe(broken)
    unsubscribe = engine.subscribe(lambda s: got.append(s.seq))
    engine.tick()
    engine.tick()
    unsubscribe()
    engine.tick()
    assert got == [1, 2]


def test_start_ticks_on_a_daemon_thread_until_stopped() -> None:
    engine = Engine(EngineConfig(interval=0.01), registry=Registry())
    three = threading.Event()
    engine.subscribe(lambda s: three.set() if s.seq >= 3 else None)
    engine.start()
    try:
        assert three.wait(10), "the engine thread did not tick"
        assert engine.running
    finally:
        engine.stop()
    assert not engine.running


@pytest.mark.parametrize(
    "bad", [{"interval": 0}, {"budget_mib": -1}, {"budget_fraction_of_ram": 1.5}]
)
def test_bad_config_is_refused_with_the_setting_named(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match=next(iter(bad))):
        EngineConfig(**bad)  # type: ignore[arg-type]


def test_budget_prefers_the_configured_figure() -> None:
    assert default_budget(EngineConfig(budget_mib=256)) == 256 * MiB
    assert default_budget(EngineConfig()) > 0


def _budgeted(probe: ScriptedProbe) -> tuple[Engine, FakeClock]:
    clock = FakeClock()
    sampler = Sampler(probe, clock=clock, wall=clock, budget=1000 * MiB)
    return Engine(
        EngineConfig(), sampler=sampler, registry=Registry(), clock=clock, wall=clock
    ), clock


def test_tiers_and_their_events_ride_on_snapshots() -> None:
    probe = ScriptedProbe(rss=100 * MiB)
    probe.script([100 * MiB, 720 * MiB, 720 * MiB])
    engine, _ = _budgeted(probe)
    assert engine.tick().tier == "NORMAL"
    snap = engine.tick()
    assert snap.tier == "ELEVATED"
    assert [e.kind for e in snap.events] == ["tier"]
    assert engine.tick().events == ()


def test_a_cleanup_command_returns_its_report_and_the_next_snapshot_carries_it() -> None:
    engine, _ = _budgeted(ScriptedProbe(rss=100 * MiB))
    result = engine.command("emergency_cleanup")
    assert [r["name"] for r in result["rungs"]] == engine.guard.rung_names
    snap = engine.tick()
    assert len(snap.cleanups) == 1 and snap.cleanups[0].trigger == "manual"
    assert any(e.kind == "cleanup" for e in snap.events)


def test_strategy_and_adaptive_commands_change_the_controller() -> None:
    engine, _ = _budgeted(ScriptedProbe(rss=100 * MiB))
    assert engine.gc_controller is not None
    engine.command("set_gc_strategy", name="balanced")
    snap = engine.tick()
    assert snap.gc is not None and snap.gc.strategy == "balanced"
    engine.command("set_adaptive", on=True)  # NORMAL tier -> throughput
    assert engine.tick().gc.strategy == "throughput"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("name", "args", "needle"),
    [
        ("explode", {}, "unknown command 'explode'"),
        ("gc_collect", {"generation": 5}, "argument 'generation' must be at most 2"),
        ("gc_collect", {"generation": True}, "argument 'generation' must be int"),
        ("set_gc_strategy", {"name": "fast"}, "argument 'name' must be one of"),
        ("set_adaptive", {"on": "yes"}, "argument 'on' must be bool"),
        ("census", {"limit": None}, "argument 'limit' may not be null"),
        ("census", {"limit": -5}, "argument 'limit' must be at least 1"),
        ("gc_collect", {"gen": 1}, "unknown argument 'gen'"),
        ("flush_cache", {"name": "nope"}, "no cache named 'nope'"),
    ],
)
def test_bad_commands_are_refused_with_a_reason(
    name: str, args: dict[str, object], needle: str
) -> None:
    engine, _ = _budgeted(ScriptedProbe())
    with pytest.raises(ConfigError, match=needle):
        engine.command(name, **args)


def test_watching_another_process_offers_no_interpreter_commands() -> None:
    engine, _ = _budgeted(ScriptedProbe(pid=1))
    assert engine.gc_controller is None
    assert engine.guard.rung_names == []
    with pytest.raises(ConfigError, match="needs the agent"):
        engine.command("gc_collect")


def test_a_strategy_chosen_by_hand_turns_adaptive_off_so_it_sticks() -> None:
    engine, _ = _budgeted(ScriptedProbe(rss=100 * MiB))
    assert engine.gc_controller is not None
    engine.command("set_adaptive", on=True)
    assert engine.tick().gc.strategy == "throughput"  # type: ignore[union-attr]
    engine.command("next_gc_strategy")
    snap = engine.tick()
    assert snap.gc is not None and (snap.gc.strategy, snap.gc.adaptive) == ("balanced", False)
    assert any("adaptive GC off" in e.message for e in snap.events)
