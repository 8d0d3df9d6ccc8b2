"""The engine: deterministic ticks, events delivered once, subscribers, the thread."""

from __future__ import annotations

import threading

import pytest

from tests.helpers.scripted import FakeClock, MiB, ScriptedProbe
from tui_perf.engine import Engine, EngineConfig, default_budget
from tui_perf.errors import ConfigError
from tui_perf.registry import Registry
from tui_perf.sampler import Sampler
from tui_perf.telemetry import Snapshot


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
