"""The engine's own commands: cleanup, garbage collection, GC strategy, cache flush, census.

Registered into `COMMANDS` when the engine is imported; capabilities add theirs beside them.
"""

from __future__ import annotations

import gc
import time
from typing import TYPE_CHECKING, Any

from tui_perf.engine.commands import COMMANDS, Arg
from tui_perf.engine.gc_control import STRATEGIES
from tui_perf.model.errors import ConfigError
from tui_perf.model.snapshot import to_dict

if TYPE_CHECKING:
    from tui_perf.engine.core import Engine
    from tui_perf.engine.gc_control import GCController


@COMMANDS.register("emergency_cleanup", "Emergency cleanup")
def emergency_cleanup(engine: Engine) -> dict[str, Any]:
    return to_dict(engine.guard.emergency_cleanup())


@COMMANDS.register("gc_collect", "Full collection", Arg("generation", int, 2, low=0, high=2))
def gc_collect(engine: Engine, generation: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    collected = gc.collect(generation)
    ms = (time.perf_counter() - t0) * 1000
    engine.emit("gc", f"collection of generation {generation}: {collected} objects in {ms:.1f} ms")
    return {"collected": collected, "duration_ms": ms}


def _manual(engine: Engine) -> tuple[GCController, bool]:
    """A strategy chosen by hand wins: adaptive mode would undo it at the next tick.
    Returns the controller and whether adaptive mode was on (and is now off)."""
    controller = engine.gc_controller
    if controller is None:
        raise ConfigError("this engine has no GC controller")
    was = controller.adaptive
    if was:
        controller.set_adaptive(False)
    return controller, was


@COMMANDS.register("set_gc_strategy", "GC strategy", Arg("name", str, choices=tuple(STRATEGIES)))
def set_gc_strategy(engine: Engine, name: str) -> dict[str, Any]:
    controller, was = _manual(engine)
    controller.set_strategy(name, reason="by hand")
    return {"strategy": controller.strategy, "adaptive": False, "adaptive_turned_off": was}


@COMMANDS.register("next_gc_strategy", "Next GC strategy")
def next_gc_strategy(engine: Engine) -> dict[str, Any]:
    controller, was = _manual(engine)
    return {"strategy": controller.next_strategy(), "adaptive": False, "adaptive_turned_off": was}


@COMMANDS.register("set_adaptive", "Adaptive GC", Arg("on", bool))
def set_adaptive(engine: Engine, on: bool) -> dict[str, Any]:
    controller = engine.gc_controller
    if controller is None:
        raise ConfigError("this engine has no GC controller")
    controller.set_adaptive(on)
    if on:
        controller.on_tier(engine.guard.tier.name)
    return {"adaptive": on, "strategy": controller.strategy}


@COMMANDS.register("flush_cache", "Flush caches", Arg("name", str, None, nullable=True))
def flush_cache(engine: Engine, name: str | None) -> dict[str, Any]:
    caches = [c for c in engine.registry.caches() if name is None or c.name == name]
    if name is not None and not caches:
        raise ConfigError(f"no cache named {name!r}")
    dropped = sum(c.flush_memory() for c in caches if name is not None or not c.pinned)
    engine.emit("cache", f"flushed {dropped} entries from {len(caches)} caches")
    return {"dropped": dropped, "caches": len(caches)}


@COMMANDS.register("census", "Cyclic garbage census", Arg("limit", int, 15, low=1, high=1000))
def census(engine: Engine, limit: int) -> dict[str, Any]:
    controller = engine.gc_controller
    if controller is None:
        raise ConfigError("this engine has no GC controller")
    return {"census": [list(x) for x in controller.census(limit)]}
