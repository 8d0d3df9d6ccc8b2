"""The command registry: the engine dispatches by name; capabilities register into it."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.helpers.scripted import FakeClock, MiB, ScriptedProbe
from tui_perf import capabilities
from tui_perf.engine.commands import COMMANDS, Arg, CommandRegistry
from tui_perf.engine.core import Engine, EngineConfig
from tui_perf.engine.registry import Registry
from tui_perf.engine.sampler import Sampler
from tui_perf.model.errors import ConfigError


def _engine(commands: CommandRegistry | None = None) -> Engine:
    clock = FakeClock()
    sampler = Sampler(ScriptedProbe(rss=100 * MiB), clock=clock, wall=clock, budget=1000 * MiB)
    return Engine(
        EngineConfig(),
        sampler=sampler,
        registry=Registry(),
        clock=clock,
        wall=clock,
        commands=commands,
    )


def test_a_registered_command_is_dispatched_by_name_with_checked_arguments() -> None:
    registry = CommandRegistry()
    calls: list[tuple[Engine, int]] = []

    @registry.register("double", "Double it", Arg("n", int, low=0, high=10))
    def double(engine: Engine, n: int) -> dict[str, Any]:
        calls.append((engine, n))
        return {"n": 2 * n}

    engine = _engine(registry)
    assert engine.command("double", n=4) == {"n": 8}
    assert calls == [(engine, 4)]
    with pytest.raises(ConfigError, match="argument 'n' must be at most 10"):
        engine.command("double", n=11)
    with pytest.raises(ConfigError, match="argument 'n' is required"):
        engine.command("double")
    with pytest.raises(ConfigError, match="unknown command 'emergency_cleanup'; one of double"):
        engine.command("emergency_cleanup")  # this engine was given only its own registry
    assert len(calls) == 1  # nothing ran for the refused calls


def test_a_capability_adds_its_command_and_its_snapshot_section() -> None:
    capabilities.load()
    command = COMMANDS.lookup("run_benchmarks")
    assert command.title == "Benchmarks" and command.timeout > 30
    engine = _engine()
    result = engine.command("run_benchmarks", quick=True, filter="cache_hit")
    assert [r["name"] for r in result["results"]] == ["cache_hit"]
    snap = engine.tick()
    assert [b.name for b in snap.bench] == ["cache_hit"]
    assert engine.tick().bench == ()  # delivered once
    with pytest.raises(ConfigError, match="no built-in benchmark matches 'nothing'"):
        engine.command("run_benchmarks", filter="nothing")


def test_an_engine_alone_loads_no_capability() -> None:
    """A service that builds an Engine pays for no benchmark runner, suite or statistics."""
    code = (
        "import sys\n"
        "from tui_perf.engine.core import Engine\n"
        "e = Engine(); e.tick(); e.command('gc_collect', generation=0)\n"
        "print(sorted(m for m in sys.modules if m.startswith('tui_perf.bench')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
