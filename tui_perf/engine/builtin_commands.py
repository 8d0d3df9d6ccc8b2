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
    from tui_perf.engine.gc_control import GCController
    from tui_perf.engine.target import CommandTarget


@COMMANDS.register("emergency_cleanup", "Emergency cleanup")
def emergency_cleanup(engine: CommandTarget) -> dict[str, Any]:
    return to_dict(engine.guard.emergency_cleanup())


@COMMANDS.register("gc_collect", "Full collection", Arg("generation", int, 2, low=0, high=2))
def gc_collect(engine: CommandTarget, generation: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    collected = gc.collect(generation)
    ms = (time.perf_counter() - t0) * 1000
    engine.emit("gc", f"collection of generation {generation}: {collected} objects in {ms:.1f} ms")
    return {"collected": collected, "duration_ms": ms}


def _manual(engine: CommandTarget) -> tuple[GCController, bool]:
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
def set_gc_strategy(engine: CommandTarget, name: str) -> dict[str, Any]:
    controller, was = _manual(engine)
    controller.set_strategy(name, reason="by hand")
    return {"strategy": controller.strategy, "adaptive": False, "adaptive_turned_off": was}


@COMMANDS.register("next_gc_strategy", "Next GC strategy")
def next_gc_strategy(engine: CommandTarget) -> dict[str, Any]:
    controller, was = _manual(engine)
    return {"strategy": controller.next_strategy(), "adaptive": False, "adaptive_turned_off": was}


@COMMANDS.register("set_adaptive", "Adaptive GC", Arg("on", bool))
def set_adaptive(engine: CommandTarget, on: bool) -> dict[str, Any]:
    controller = engine.gc_controller
    if controller is None:
        raise ConfigError("this engine has no GC controller")
    controller.set_adaptive(on)
    if on:
        controller.on_tier(engine.guard.tier.name)
    return {"adaptive": on, "strategy": controller.strategy}


@COMMANDS.register("flush_cache", "Flush caches", Arg("name", str, None, nullable=True))
def flush_cache(engine: CommandTarget, name: str | None) -> dict[str, Any]:
    caches = [c for c in engine.registry.caches() if name is None or c.name == name]
    if name is not None and not caches:
        raise ConfigError(f"no cache named {name!r}")
    dropped = sum(c.flush_memory() for c in caches if name is not None or not c.pinned)
    engine.emit("cache", f"flushed {dropped} entries from {len(caches)} caches")
    return {"dropped": dropped, "caches": len(caches)}


@COMMANDS.register("census", "Cyclic garbage census", Arg("limit", int, 15, low=1, high=1000))
def census(engine: CommandTarget, limit: int) -> dict[str, Any]:
    controller = engine.gc_controller
    if controller is None:
        raise ConfigError("this engine has no GC controller")
    return {"census": [list(x) for x in controller.census(limit)]}


# -- the actions advice names (taken by hand from the Advice pane, or by the tuner) --------


def _cache(engine: CommandTarget, name: str) -> Any:
    for cache in engine.registry.caches():
        if cache.name == name:
            return cache
    raise ConfigError(f"no cache named {name!r}")


def _memory_tier(engine: CommandTarget, name: str) -> Any:
    tier = getattr(_cache(engine, name), "l1", None)
    if tier is None or not hasattr(tier, "resize"):
        raise ConfigError(f"cache {name!r} has no memory tier to change")
    return tier


@COMMANDS.register(
    "set_cache_size",
    "Resize a cache",
    Arg("name", str),
    Arg("maxsize", int, low=1, high=1 << 31),
)
def set_cache_size(engine: CommandTarget, name: str, maxsize: int) -> dict[str, Any]:
    tier = _memory_tier(engine, name)
    before = int(tier.cache.maxsize)
    evicted = tier.resize(maxsize)
    engine.emit("cache", f"cache {name}: maxsize {before:,} -> {maxsize:,}")
    return {"name": name, "before": before, "maxsize": maxsize, "evicted": evicted}


@COMMANDS.register(
    "set_cache_ttl", "Cache TTL", Arg("name", str), Arg("ttl", float, low=0.001, high=1e9)
)
def set_cache_ttl(engine: CommandTarget, name: str, ttl: float) -> dict[str, Any]:
    tier = _memory_tier(engine, name)
    before = tier.default_ttl
    tier.set_ttl(ttl)
    engine.emit("cache", f"cache {name}: ttl {before:g} s -> {ttl:g} s")
    return {"name": name, "before": before, "ttl": ttl}


def _pool(engine: CommandTarget, name: str) -> Any:
    for pool in engine.registry.pools():
        if pool.name == name:
            if not hasattr(pool, "resize"):
                raise ConfigError(f"pool {name!r} cannot be resized at run time")
            return pool
    raise ConfigError(f"no pool named {name!r}")


@COMMANDS.register(
    "resize_pool", "Resize a pool", Arg("name", str), Arg("max_size", int, low=1, high=1 << 20)
)
def resize_pool(engine: CommandTarget, name: str, max_size: int) -> dict[str, Any]:
    pool = _pool(engine, name)
    before = pool.max_size
    pool.resize(max_size=max_size)
    engine.emit("pool", f"pool {name}: max_size {before} -> {max_size}")
    return {"name": name, "before": before, "max_size": max_size}


@COMMANDS.register(
    "set_pool_idle", "Pool idle limit", Arg("name", str), Arg("max_idle", int, low=0, high=1 << 20)
)
def set_pool_idle(engine: CommandTarget, name: str, max_idle: int) -> dict[str, Any]:
    pool = _pool(engine, name)
    before = pool.max_idle
    dropped = pool.resize(max_idle=max_idle)
    engine.emit("pool", f"pool {name}: max_idle {before} -> {max_idle} ({dropped} dropped)")
    return {"name": name, "before": before, "max_idle": max_idle, "dropped": dropped}


@COMMANDS.register("gc_freeze", "Freeze the heap")
def gc_freeze(engine: CommandTarget) -> dict[str, Any]:
    controller = engine.gc_controller
    if controller is None:
        raise ConfigError("this engine has no GC controller")
    frozen = controller.freeze_after_warmup()
    engine.emit("gc", f"froze {frozen:,} objects: full collections skip them")
    return {"frozen": frozen}


@COMMANDS.register("gc_unfreeze", "Unfreeze the heap")
def gc_unfreeze(engine: CommandTarget) -> dict[str, Any]:
    """Undo `gc_freeze`: the frozen objects go back to the collector (the tuner's rollback)."""
    before = gc.get_freeze_count()
    gc.unfreeze()
    engine.emit("gc", f"unfroze {before:,} objects: full collections see them again")
    return {"unfrozen": before}
