"""The tuner on a real engine: a real `@cached` function fed a skewed key stream, the real
advisor and key-stream sampler, commands through the real registry; only the clock and the
process probe are scripted, so a minute of trials runs in a second."""

from __future__ import annotations

import random
from pathlib import Path

from tests.helpers.scripted import FakeClock, ScriptedProbe
from tui_perf import capabilities
from tui_perf.caches.decorator import cached
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler
from tui_perf.model.tune import KEPT

MiB = 1024 * 1024
PROFILE = """
description = "short windows, for tests"
[tuner]
interval_s = 40
settle_s = 3
window_s = 15
cooldown_s = 300
"""


def test_the_tuner_grows_a_small_cache_and_keeps_the_change(tmp_path: Path) -> None:
    (tmp_path / "fast.toml").write_text(PROFILE)
    clock = FakeClock(1_800_000_000.0)
    registry = Registry()
    sampler = Sampler(ScriptedProbe(), clock=clock, wall=clock, budget=1000 * MiB)
    engine = Engine(
        EngineConfig(tune=True, profile=str(tmp_path / "fast.toml"), discover_caches_s=None),
        sampler=sampler,
        registry=registry,
        clock=clock,
        wall=clock,
    )
    capabilities.attach(engine)

    @cached(maxsize=20, registry=registry, name="users")
    def lookup(key: int) -> int:
        return sum(range(key % 50 + 300))  # a few microseconds: worth caching

    rng = random.Random(3)
    # 80% of lookups over 300 hot keys: a size of 20 misses most of them
    keys = [
        rng.randrange(300) if rng.random() < 0.8 else 1000 + rng.randrange(10_000)
        for _ in range(200_000)
    ]
    at = 0
    events = []
    for _ in range(100):
        for key in keys[at : at + 1200]:
            lookup(key)
        at = (at + 1200) % (len(keys) - 1200)
        snap = engine.tick()
        events += [e.message for e in snap.events if e.kind == "tune"]
        clock.advance(1.0)

    assert snap.tuning is not None and snap.tuning.profile == "fast"
    trials = [t for t in snap.tuning.trials if t.finding == "cache-too-small:users"]
    assert trials and trials[-1].verdict == KEPT, trials  # the first trial is the last
    assert lookup.cache.l1.cache.maxsize > 20  # type: ignore[attr-defined]
    # each trial's end is an event, so it reaches the history file with the rest
    assert any(m.startswith('kept: set_cache_size name="users" maxsize=') for m in events), events


def test_what_was_learned_outlives_the_process(tmp_path: Path) -> None:
    """A rolled-back change's cooling-off is kept in a private file per program; a new
    tuner for the same program starts with it, and one that has ended is forgotten."""
    import stat

    from tui_perf.engine.commands import COMMANDS
    from tui_perf.tune.commands import state_of
    from tui_perf.tune.learned import Learned

    clock = FakeClock(1_800_000_000.0)
    learned = Learned(tmp_path / "tune" / "app.json")
    learned.save({"cache-too-small:users": clock() + 300, "pool-waits:db": clock() - 1}, clock())
    assert stat.S_IMODE((tmp_path / "tune" / "app.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tune").stat().st_mode) == 0o700

    sampler = Sampler(ScriptedProbe(), clock=clock, wall=clock, budget=1000 * MiB)
    engine = Engine(
        EngineConfig(discover_caches_s=None),
        sampler=sampler,
        registry=Registry(),
        clock=clock,
        wall=clock,
    )
    from tui_perf.advice.commands import state_of as advice_of
    from tui_perf.tune.commands import TuneState

    advice = advice_of(engine)
    engine.extension("tune", lambda e: TuneState(e, advice, learned))
    COMMANDS.run(engine, "set_tuning", {"on": True})
    tuner = state_of(engine).tuner
    assert tuner is not None and tuner.cooling == {"cache-too-small:users": clock() + 300}
    (tmp_path / "tune" / "app.json").write_text("{not json")
    assert learned.load(clock()) == {}  # a damaged file is a fresh start, not an error
